"""The API's HTTP/1.1 layer on the wire: keep-alive, 100-continue, header limits."""

from __future__ import annotations

import http.client
import json
import socket

from api_support import raw_exchange


def test_several_requests_share_one_connection(api):
    conn = http.client.HTTPConnection(api.client.host, api.client.port, timeout=10)
    for _ in range(3):
        conn.request("GET", "/api/v1/station")
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read())["hardware"] == "sim"
    conn.request("POST", "/api/v1/serials/validate", body=b'{"product": "PowerBank-Foolish",'
                 b' "serial": "PBF-000001"}', headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200 and json.loads(response.read())["valid"] is True
    conn.close()


def test_expect_100_continue_is_honoured(api):
    body = b'{"product": "PowerBank-Foolish", "serial": "PBF-000001"}'
    sock = socket.create_connection((api.client.host, api.client.port), timeout=10)
    sock.sendall(b"POST /api/v1/serials/validate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode())
    assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
    sock.sendall(body)
    answer = b""
    while b'"valid"' not in answer:
        chunk = sock.recv(4096)
        assert chunk
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 200")


def test_too_many_headers_is_a_431_in_json(api):
    headers = b"".join(b"X-H%d: v\r\n" % n for n in range(150))
    answer = raw_exchange(
        api, b"GET /api/v1/station HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")
    assert answer.startswith("HTTP/1.1 431") and '"error":"request_header_fields_too_large"' \
        in answer


def test_header_fields_read_as_http_client_read_them():
    """The API's own header reading (no http.client, email, ssl at start) gives what
    ``http.client.parse_headers`` gave for every lookup the API makes."""
    import email.utils
    import io

    from edge.api.http11 import HeaderFields, http_date

    raw = (b"Host: 127.0.0.1:8080\r\ncontent-type:application/json; charset=utf-8\r\n"
           b"Authorization:   Bearer s3cret  \r\nX-Twice: first\r\nX-TWICE: second\r\n"
           b"X-Folded: one\r\n two\r\nContent-Length: 12\r\n\r\n{\"body\": 1}\r\n")
    ours = HeaderFields.read(io.BytesIO(raw))
    theirs = http.client.parse_headers(io.BytesIO(raw))
    for name in ("Host", "host", "Content-Type", "AUTHORIZATION", "x-twice", "Content-Length",
                 "Origin", "Transfer-Encoding"):
        mine, stdlib = ours.get(name), theirs.get(name)
        assert (mine is None) == (stdlib is None), name
        if mine is not None:
            assert mine == stdlib.strip(), name
    assert ours.get("X-Folded") == "one two"
    assert ours.get("Missing", "") == ""
    for epoch in (0, 1_800_000_000.5, 951_782_400):  # 1970, 2027, a 29 February
        assert http_date(epoch) == email.utils.formatdate(epoch, usegmt=True)


def test_header_limits_are_http_clients():
    import io

    import pytest

    from edge.api.http11 import MAX_HEADERS, HeaderError, HeaderFields

    just = b"".join(b"X-H%d: v\r\n" % n for n in range(MAX_HEADERS)) + b"\r\n"
    assert HeaderFields.read(io.BytesIO(just)).get("x-h99") == "v"
    with pytest.raises(HeaderError, match="too many headers") as refused:
        HeaderFields.read(io.BytesIO(b"X-Extra: v\r\n" + just))
    assert refused.value.status == 431
    with pytest.raises(HeaderError, match="header line too long") as refused:
        HeaderFields.read(io.BytesIO(b"X-Long: " + b"a" * 65536 + b"\r\n\r\n"))
    assert refused.value.status == 431
    for bad in (b"Transfer-Encoding : chunked\r\n\r\n", b"no colon here\r\n\r\n",
                b": no name\r\n\r\n", b"\r\r\n\r\n"):
        with pytest.raises(HeaderError, match="malformed header line") as refused:
            HeaderFields.read(io.BytesIO(bad))
        assert refused.value.status == 400


def test_a_malformed_header_line_is_a_400_in_json(api):
    answer = raw_exchange(api, b"GET /api/v1/station HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               b"Transfer-Encoding : chunked\r\n\r\n")
    assert answer.startswith("HTTP/1.1 400") and '"error":"bad_request"' in answer
