"""Who may use the API: loopback by default, a token for anything else, no foreign web page,
bounded bodies, and a specific 4xx (never a 5xx, never a traceback) for every bad request."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest
from api_support import check, raw_exchange, running_api

from edge.api.client import ApiClient
from edge.api.settings import api_settings
from edge.config import ConfigError, load_config

TOKEN = "s3cret-token-0123456789abcdef"


def _config(tmp_path: Path, api: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(f"[station]\ndata_dir = 'data'\n\n[api]\n{api}\n")
    return path


def _token_file(tmp_path: Path, mode: int = 0o600, text: str = TOKEN) -> Path:
    path = tmp_path / "api-token"
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


def test_loopback_is_the_default():
    settings = api_settings(load_config(None))
    assert settings.host == "127.0.0.1" and settings.loopback and settings.token is None


def test_a_network_address_without_a_token_is_refused_with_file_line_and_key(tmp_path):
    path = _config(tmp_path, 'start_on_scan = true\nlisten = "0.0.0.0:8750"')
    with pytest.raises(ConfigError) as err:
        api_settings(load_config(path))
    assert f"{path}:6: [api] listen:" in str(err.value)
    assert "token_file" in str(err.value)


def test_a_token_readable_by_others_is_refused(tmp_path):
    token = _token_file(tmp_path, 0o644)
    path = _config(tmp_path, f'listen = "0.0.0.0:8750"\ntoken_file = "{token}"')
    with pytest.raises(ConfigError, match=r"station.toml:6: \[api\] token_file: .*chmod 600"):
        api_settings(load_config(path))


@pytest.mark.parametrize("line, key", [
    ('listen = 8750', "listen"), ('listen = "localhost"', "listen"),
    ('listen = "myhost:80"', "listen"), ('start_on_scan = "yes"', "start_on_scan"),
    ('allowed_origins = "http://x"', "allowed_origins"),
    ('allowed_origins = ["http://x/path"]', "allowed_origins"), ('port = 3', "port"),
])
def test_bad_api_settings_name_the_key(tmp_path, line, key):
    path = _config(tmp_path, line)
    with pytest.raises(ConfigError, match=rf"station.toml:5: \[api\] {key}:"):
        api_settings(load_config(path))


def test_a_network_address_with_a_token_is_accepted_and_the_token_never_shows(tmp_path):
    token = _token_file(tmp_path)
    settings = api_settings(load_config(_config(
        tmp_path, f'listen = "0.0.0.0:8750"\ntoken_file = "{token}"')))
    assert settings.token == TOKEN and not settings.loopback
    assert TOKEN not in repr(settings)


@pytest.fixture
def guarded(tmp_path):
    token = _token_file(tmp_path)
    api = {"token_file": str(token), "allowed_origins": ["http://192.0.2.7:8080"]}
    with running_api(tmp_path, api, token=TOKEN) as harness:
        yield harness


def test_requests_without_the_right_token_get_401(guarded, caplog):
    caplog.set_level(logging.DEBUG)
    assert guarded.client.get("/station")[0] == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                    {"Authorization": f"Basic {TOKEN}"}):
        anonymous = ApiClient(guarded.url, headers=headers)
        status, err = anonymous.get("/station")
        assert status == 401 and err["error"] == "unauthorized"
        check(err, "Error")
        assert anonymous.post("/runs", {"product": "PowerBank-Foolish",
                                        "serial": "PBF-000001"})[0] == 401
    assert guarded.service.current()["last_run"] is None  # nothing ran
    assert TOKEN not in caplog.text


def test_a_foreign_origin_is_refused_and_an_allowed_one_gets_cors(guarded):
    evil = ApiClient(guarded.url, token=TOKEN, headers={"Origin": "http://evil.example"})
    status, err = evil.post("/runs", {"product": "PowerBank-Foolish", "serial": "PBF-000001"})
    assert status == 403 and err["error"] == "origin_not_allowed"
    assert guarded.service.current()["state"] == "idle"
    conn = socket.create_connection((guarded.client.host, guarded.client.port))
    conn.sendall(b"OPTIONS /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Origin: http://192.0.2.7:8080\r\nAccess-Control-Request-Method: POST\r\n\r\n")
    head = conn.recv(4096).decode()
    conn.close()
    assert head.startswith("HTTP/1.1 204")
    assert "Access-Control-Allow-Origin: http://192.0.2.7:8080" in head
    friendly = ApiClient(guarded.url, token=TOKEN, headers={"Origin": "http://192.0.2.7:8080"})
    assert friendly.get("/station")[0] == 200


def test_a_foreign_host_header_is_refused_on_loopback(api):
    status, err = ApiClient(api.url, headers={"Host": "rebind.example:8750"}).get("/station")
    assert status == 403 and err["error"] == "host_not_allowed"


@pytest.mark.parametrize("request_bytes, status, code", [
    (b"POST /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
     b"Content-Length: 100000\r\n\r\n", 413, "body_too_large"),
    (b"POST /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
     b"Content-Length: 2\r\n\r\n{}", 415, "unsupported_media_type"),
    (b"POST /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
     b"Content-Length: 5\r\n\r\n{nope", 400, "bad_json"),
    (b"POST /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
     b"Content-Length: 4\r\n\r\n\xff\xfe{}", 400, "bad_json"),
    (b"POST /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
     b"Content-Length: 2\r\n\r\n[]", 422, "bad_body"),
    (b"POST /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 411, "length_required"),
    (b"POST /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
     b"Content-Length: abc\r\n\r\n", 400, "bad_content_length"),
    (b"BREW /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 405, "method_not_allowed"),
    (b"GET /api/v1/runs HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n", 400, "bad_request"),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414, "request_uri_too_long"),
    (b"GET\r\n\r\n", 400, "bad_request"),
    (b"POST /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
     b"Content-Length: 8000\r\n\r\n" + b"[" * 8000, 400, "bad_json"),
    (b"GET /api/v1/runs?%ff=%ff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "bad_query"),
])
def test_malformed_requests_get_a_specific_answer_in_json(api, request_bytes, status, code):
    answer = raw_exchange(api, request_bytes)
    first = answer.split("\r\n", 1)[0]
    assert first.split(" ")[1] == str(status), answer[:300]
    assert f'"error":"{code}"' in answer
    assert "Traceback" not in answer
    assert api.service.current()["state"] == "idle"


def test_the_token_file_needs_no_group_or_other_rights_even_on_loopback(tmp_path):
    token = _token_file(tmp_path, 0o640)
    with pytest.raises(ConfigError, match="readable by other users"):
        api_settings(load_config(_config(tmp_path, f'token_file = "{token}"')))
    os.chmod(token, 0o600)
    assert api_settings(load_config(_config(tmp_path, f'token_file = "{token}"'))).token
