"""The small part of HTTP/1.1 the station's API needs, on ``socketserver``.

The standard library's ``http.server`` would do, but it imports ``html`` for its error pages,
and ``html`` builds the table of every HTML5 entity: about half a MiB of a process that must
idle under 40 MiB, for pages the API never sends. This handler keeps ``http.server``'s
interface (``command``, ``path``, ``headers``, ``send_response``/``send_header``/
``end_headers``, ``send_error``, keep-alive) and reuses ``http.client``'s header parser, which
the station has loaded anyway for inventory sync.

What it accepts: ``METHOD target HTTP/1.0|1.1``, a request line up to 64 KiB, headers as
``http.client`` reads them (at most 100, each line up to 64 KiB). Anything else is answered by
``send_error`` (400, 414, 431), which the API turns into a JSON body.
"""

from __future__ import annotations

import http.client
import logging
import re
import socketserver
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

_log = logging.getLogger("edge.api")

MAX_REQUEST_LINE = 65536
_METHOD = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$")  # an HTTP token


class Http11Handler(socketserver.StreamRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pibench"
    timeout: float | None = 30.0  # per blocking read or write on the connection

    command: str = ""
    path: str = ""
    request_version: str = "HTTP/1.1"
    headers: Any = None
    close_connection: bool = True

    # -- the connection -------------------------------------------------------------------------
    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            self.handle_one_request()

    def handle_one_request(self) -> None:
        self.command, self.path, self.request_version = "", "", "HTTP/1.1"
        self._header_lines: list[bytes] = []
        try:
            line = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if not line:
                self.close_connection = True
                return
            if len(line) > MAX_REQUEST_LINE:
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG, "request line too long")
                return
            if not self.parse_request(line):
                return
            getattr(self, "do_" + self.command)()
            self.wfile.flush()
        except (TimeoutError, ConnectionError):
            self.close_connection = True

    def parse_request(self, raw: bytes) -> bool:
        self.close_connection = True
        text = raw.decode("iso-8859-1").rstrip("\r\n")
        words = text.split()
        if len(words) != 3:
            self.send_error(HTTPStatus.BAD_REQUEST, f"bad request line {text[:80]!r}")
            return False
        command, path, version = words
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            self.send_error(HTTPStatus.BAD_REQUEST, f"unsupported HTTP version {version[:20]!r}")
            return False
        self.request_version = version
        if not _METHOD.match(command):
            self.send_error(HTTPStatus.BAD_REQUEST, "bad request method")
            return False
        self.command, self.path = command, path
        try:
            self.headers = http.client.parse_headers(self.rfile)
        except http.client.LineTooLong:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "header line too long")
            return False
        except http.client.HTTPException:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "too many headers")
            return False
        connection = (self.headers.get("Connection") or "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" or version == "HTTP/1.1":
            self.close_connection = False
        if (self.headers.get("Expect") or "").lower() == "100-continue" \
                and version == "HTTP/1.1":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    # -- answering ------------------------------------------------------------------------------
    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_message('"%s %s" %s', self.command, self.path.split("?")[0][:200], code)
        if message is None:
            message = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else ""
        self._header_lines = [f"{self.protocol_version} {code} {message}\r\n".encode("latin-1")]
        self.send_header("Server", self.server_version)
        self.send_header("Date", formatdate(usegmt=True))

    def send_header(self, keyword: str, value: str) -> None:
        self._header_lines.append(f"{keyword}: {value}\r\n".encode("latin-1", "replace"))
        if keyword.lower() == "connection" and value.lower() == "close":
            self.close_connection = True

    def end_headers(self) -> None:
        self._header_lines.append(b"\r\n")
        self.wfile.write(b"".join(self._header_lines))
        self._header_lines = []

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:  # the API overrides it (JSON)
        self.send_response(code, message)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def address_string(self) -> str:
        return str(self.client_address[0]) if self.client_address else "local"

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines only (never headers: they carry the token), and only when asked for.
        _log.debug("%s %s", self.address_string(), format % args)


class ThreadingHttpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
