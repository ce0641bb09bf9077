"""The small part of HTTP/1.1 the station's API needs, on ``socketserver``.

The standard library's ``http.server`` would do, but it imports ``html`` for its error pages,
and ``html`` builds the table of every HTML5 entity: about half a MiB of a process that must
idle under 40 MiB, for pages the API never sends. This handler keeps ``http.server``'s
interface (``command``, ``path``, ``headers``, ``send_response``/``send_header``/
``end_headers``, ``send_error``, keep-alive) and reads the header fields itself
(:class:`HeaderFields`): ``http.client``'s parser hands them to ``email``'s, and the two with
``ssl`` cost ~9 ms of a station's start (issue 14), for a station whose API only looks fields up
by name.

What it accepts: ``METHOD target HTTP/1.0|1.1``, a request line up to 64 KiB, header fields with
``http.client``'s limits (at most 100, each line up to 64 KiB), each ``name: value``. Anything
else is answered by ``send_error`` (400, 414, 431), which the API turns into a JSON body.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import socketserver
import threading
import time
from typing import Any, BinaryIO

from edge import lazylog

_log = lazylog.getLogger("edge.api")

MAX_REQUEST_LINE = 65536
# An HTTP token; compiled at the first request (re's own cache), not at every start.
_METHOD = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$"
MAX_HEADER_LINE = 65536  # http.client's limits, which this layer used before
MAX_HEADERS = 100
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class HeaderError(Exception):
    """Header fields this layer refuses: ``status`` and ``reason`` are the answer to send."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class HeaderFields:
    """A request's header fields, looked up by name whatever its case, the first of repeated
    ones winning (as ``email.message.Message.get``, which ``http.client`` returned, did). A
    folded line (one starting with a space or tab: obsolete, RFC 9112 section 5.2) continues
    the field before it. A line without a colon, or with a space before it, is refused (RFC
    9112 section 5.1: such a name could be read differently by a proxy in front)."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields
        self._by_name: dict[str, str] = {}
        for name, value in fields:
            self._by_name.setdefault(name.lower(), value)

    @classmethod
    def read(cls, rfile: BinaryIO) -> HeaderFields:
        """The fields up to the blank line ending them (or the end of the stream)."""
        fields: list[tuple[str, str]] = []
        lines = 0
        while True:
            raw = rfile.readline(MAX_HEADER_LINE + 1)
            if len(raw) > MAX_HEADER_LINE:
                raise HeaderError(431, "header line too long")
            if raw in (b"\r\n", b"\n", b""):
                return cls(fields)
            lines += 1
            if lines > MAX_HEADERS:
                raise HeaderError(431, "too many headers")
            line = raw.decode("iso-8859-1").rstrip("\r\n")
            if line[:1] in (" ", "\t"):
                if fields:
                    name, value = fields[-1]
                    fields[-1] = (name, f"{value} {line.strip()}".strip())
                continue
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise HeaderError(400, "malformed header line")
            fields.append((name, value.strip()))

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._by_name.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields)


def http_date(epoch: float | None = None) -> str:
    """``Sat, 05 Dec 2026 14:09:37 GMT`` (RFC 9110's IMF-fixdate, always English), as
    ``email.utils.formatdate(usegmt=True)`` wrote it: without importing ``email``."""
    t = time.gmtime(epoch)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


class Http11Handler(socketserver.StreamRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pibench"
    timeout: float | None = 30.0  # per blocking read or write on the connection

    command: str = ""
    path: str = ""
    request_version: str = "HTTP/1.1"
    headers: HeaderFields | None = None
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
                self.send_error(414, "request line too long")
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
            self.send_error(400, f"bad request line {text[:80]!r}")
            return False
        command, path, version = words
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            self.send_error(400, f"unsupported HTTP version {version[:20]!r}")
            return False
        self.request_version = version
        if not re.match(_METHOD, command):
            self.send_error(400, "bad request method")
            return False
        self.command, self.path = command, path
        try:
            self.headers = HeaderFields.read(self.rfile)
        except HeaderError as exc:
            self.send_error(exc.status, exc.reason)
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
            message = reason_phrase(code)
        self._header_lines = [f"{self.protocol_version} {code} {message}\r\n".encode("latin-1")]
        self.send_header("Server", self.server_version)
        self.send_header("Date", http_date())

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


def reason_phrase(code: int, default: str = "") -> str:
    """``code``'s standard reason phrase (``http.HTTPStatus``'s), or ``default``. The enum is
    imported at the first answer: building it is ~0.5 ms of a station start (issue 14)."""
    from http import HTTPStatus

    return HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else default


class ThreadingHttpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """``socketserver``'s threading TCP server whose ``shutdown()`` is noticed at once.

    ``socketserver``'s loop only looks at its stop flag when its ``select`` returns: after a
    request, or at the next ``poll_interval`` (0.5 s: a station took half a second to exit after
    ``q`` or SIGTERM). Here the loop also watches the read end of a pipe, and ``shutdown()``
    writes one byte to it, so the loop wakes as soon as it is asked to stop, and sleeps as long
    as it likes when idle. The same loop otherwise: one request accepted per wake-up,
    ``service_actions()`` after each.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._stop_asked = threading.Event()
        self._loop_ended = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        for fd in (self._wake_read, self._wake_write):
            os.set_blocking(fd, False)
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            self._close_wake_pipe()
            raise

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._loop_ended.clear()
        selector_class = getattr(selectors, "PollSelector", selectors.SelectSelector)
        try:
            with selector_class() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(self._wake_read, selectors.EVENT_READ)
                while not self._stop_asked.is_set():
                    ready = selector.select(poll_interval)
                    if self._stop_asked.is_set():
                        break
                    woken = [key.fileobj for key, _ in ready]
                    if self._wake_read in woken:
                        self._drain_wake_pipe()  # a stale byte would make the loop spin
                    if self in woken:
                        self._handle_request_noblock()
                    self.service_actions()
        finally:
            self._stop_asked.clear()
            self._loop_ended.set()

    def shutdown(self) -> None:
        """Stop ``serve_forever`` and wait for it to end (from another thread, as in
        ``socketserver``: called from the serving thread itself, it would wait forever)."""
        self._stop_asked.set()
        # A full pipe already holds a wake-up; a closed one has no loop left to wake.
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"\0")
        self._loop_ended.wait()

    def _drain_wake_pipe(self) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError: empty
            while os.read(self._wake_read, 64):
                pass

    def server_close(self) -> None:
        super().server_close()
        self._close_wake_pipe()

    def _close_wake_pipe(self) -> None:
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):  # already closed: server_close called twice
                os.close(fd)
        self._wake_read = self._wake_write = -1
