"""The generic backend's http.client transport against real sockets on 127.0.0.1: a failure is
said as what it proves (nothing sent, or maybe received), and a kept-alive connection the
server closed while idle is replaced rather than taken for a lost answer."""

from __future__ import annotations

import socket
import threading

import pytest

from edge.sync.http_classify import classify_exception
from edge.sync.http_transport import ConnectFailed, ExchangeFailed, HttpTransport, env_proxy
from edge.sync.outcomes import OutcomeClass

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def read_head(conn: socket.socket) -> bytes:
    """Read a request up to the end of its head (and whatever came with it)."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(65536)
        if not chunk:
            break
        request += chunk
    return request


def read_body(conn: socket.socket, request: bytes) -> None:
    """Read the rest of the request (its Content-Length): a socket closed with unread data
    sends a reset, which can overtake the answer."""
    head, _, body = request.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk




class OneShotServer:
    """Accepts connections; for each, reads one request and does what ``behaviour`` says."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.release = threading.Event()
        self.closed_one = threading.Event()  # set once a connection is closed on this side
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                request = read_head(conn)
                if self.behaviour == "answer_then_close":  # keep-alive promised, then closed
                    read_body(conn, request)
                    conn.sendall(OK)
                elif self.behaviour == "drop":
                    pass
                elif self.behaviour == "hang":
                    self.release.wait(10)
            self.closed_one.set()

    def close(self) -> None:
        self.release.set()
        self.sock.close()


def test_refused_is_connect_failed_and_nothing_sent():
    transport = HttpTransport(1.0, 1.0)
    with socket.socket() as held, pytest.raises(ConnectFailed) as caught:
        # Bound, not listening: refused, and no other process can be listening there.
        held.bind(("127.0.0.1", 0))
        transport.request("POST", f"http://127.0.0.1:{held.getsockname()[1]}/results", b"{}")
    assert "refused" in str(caught.value).lower()
    assert classify_exception(caught.value, "POST", True).cls is OutcomeClass.NOTHING_SENT


def test_dropped_after_the_request_is_ambiguous_for_a_post_transient_for_a_get():
    server = OneShotServer("drop")
    try:
        transport = HttpTransport(1.0, 1.0)
        with pytest.raises(ExchangeFailed) as caught:
            transport.request("POST", f"http://127.0.0.1:{server.port}/results", b"{}")
        assert classify_exception(caught.value, "POST", True).cls is OutcomeClass.AMBIGUOUS
        assert classify_exception(caught.value, "GET", False).cls is OutcomeClass.TRANSIENT
    finally:
        server.close()


def test_no_answer_within_the_read_timeout_is_exchange_failed():
    server = OneShotServer("hang")
    try:
        with pytest.raises(ExchangeFailed):
            HttpTransport(1.0, 0.2).request("POST", f"http://127.0.0.1:{server.port}/", b"{}")
    finally:
        server.close()


def test_a_kept_alive_connection_closed_by_the_server_is_replaced_not_failed():
    server = OneShotServer("answer_then_close")
    try:
        transport = HttpTransport(1.0, 1.0)
        url = f"http://127.0.0.1:{server.port}/results"
        assert transport.request("POST", url, b"{}").status == 200
        # The server closed its end after answering (an idle timeout on its side): the next
        # request must see that before sending, and open a new connection.
        assert server.closed_one.wait(5)
        answer = transport.request("POST", url, b"{}")
        assert answer.status == 200 and answer.data == b"{}"
        assert answer.headers.get("content-type") == "application/json"
        assert server.connections == 2
    finally:
        server.close()


def test_proxies_come_from_the_environment_and_no_proxy_is_honoured(monkeypatch):
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("http://127.0.0.1:8000/r") is None
    monkeypatch.setenv("http_proxy", "127.0.0.1:3128")
    assert env_proxy("http://127.0.0.1:8000/r") == "http://127.0.0.1:3128"
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert env_proxy("http://127.0.0.1:8000/r") is None


@pytest.fixture
def tls_server(tmp_path):
    """A TLS server on 127.0.0.1 with a self-signed certificate for that address (made by the
    openssl command), answering every request with 200 and a JSON body."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    request = read_head(conn)
                    read_body(conn, request)
                    conn.sendall(OK)
                    conn.unwrap()  # TLS close_notify: the answer is not cut off by a reset
            except (OSError, ssl.SSLError):
                raw.close()  # a client that refused our certificate

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], cert
    listener.close()


def test_https_with_the_ca_bundle_from_the_environment(tls_server, monkeypatch):
    port, cert = tls_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    answer = HttpTransport(2.0, 2.0).request("POST", f"https://127.0.0.1:{port}/r", b"{}")
    assert answer.status == 200 and answer.data == b"{}"


def test_https_to_a_certificate_nobody_vouches_for_is_connect_failed(tls_server, monkeypatch):
    port, _cert = tls_server
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(ConnectFailed) as caught:
        HttpTransport(2.0, 2.0).request("POST", f"https://127.0.0.1:{port}/r", b"{}")
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert classify_exception(caught.value, "POST", True).cls is OutcomeClass.NOTHING_SENT
