"""The HTTP plumbing shared by the fakes: keep-alive HTTP/1.1, JSON helpers, the control endpoint
(``/_control/...``, no auth) and the scripted hostile behaviours of :mod:`.scripting`.

An *app* answers ``handle(request) -> Reply`` and ``control(name, request) -> Reply | None``; this
module never knows whether it fronts the InvenTree fake or the generic endpoint.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from edge.sync.testing.scripting import Script


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, doc: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(doc).encode(), "application/json", dict(headers or {}))


class App(Protocol):
    def handle(self, request: Request) -> Reply: ...

    def control(self, name: str, request: Request) -> Reply | None: ...


HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Checking your browser</title></head>"
    b"<body><h1>One moment, please...</h1></body></html>"
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server behind a proxy
    # Headers and body leave in separate writes; with Nagle on, the client's delayed ACK adds
    # ~40 ms to every answer and the fake, not pibench, would bound every measurement.
    disable_nagle_algorithm = True
    server: FakeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read the control endpoint, not stderr

    def _request(self) -> Request:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        return Request(self.command, parts.path, query, headers, body)

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (its read timeout): expected

    def _dispatch(self) -> None:
        started = time.perf_counter()
        request = self._request()
        srv = self.server
        if request.path.startswith("/_control/"):
            reply = srv.control(request.path[len("/_control/"):].strip("/"), request)
            self._send(reply)
            return
        srv.count_request()
        rule = srv.script.take(request.method, request.path)
        if rule is not None and rule.action == "status":
            headers = {"Retry-After": rule.retry_after} if rule.retry_after else {}
            ctype = rule.content_type
            body = rule.body.encode() if rule.body else (
                HTML_PAGE if "html" in ctype else json.dumps({"detail": "scripted"}).encode()
            )
            self._send(Reply(rule.status, body, ctype, headers))
            return
        if rule is not None and rule.action == "html200":
            self._send(Reply(200, HTML_PAGE, "text/html; charset=utf-8"))
            return
        if rule is not None and rule.action in ("sleep_then_handle", "commit_late"):
            time.sleep(rule.sleep_s)
        delay = srv.script.delay_s(request.method, request.path)
        if delay:
            time.sleep(delay)  # the modelled server time, outside the app's lock as on a server
        reply = srv.app.handle(request)
        srv.add_busy(time.perf_counter() - started)
        if rule is not None and rule.action == "commit_then_sleep":
            time.sleep(rule.sleep_s)
        if rule is not None and rule.action == "commit_then_drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return
        self._send(reply)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # restart on the same port right after a stop (outage tests)

    def __init__(self, port: int, app: App) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.app = app
        self.script = Script()
        self._lock = threading.Lock()
        self.requests = 0
        self.busy_s = 0.0  # time spent handling requests: the server's own cost
        # Accepted connections not yet closed. Once every client is dead and this is 0 (besides
        # the asker's own), no request a client gave up on can still be stored late.
        self.open_connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self.open_connections += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            with self._lock:
                self.open_connections -= 1

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def add_busy(self, seconds: float) -> None:
        with self._lock:
            self.busy_s += seconds

    def control(self, name: str, request: Request) -> Reply:
        try:
            if name == "script":
                for spec in request.json() or []:
                    self.script.add(spec)
                return json_reply(200, {"ok": True})
            if name == "latency":
                self.script.set_latency(request.json() or [])
                return json_reply(200, {"ok": True})
            if name == "clear-script":
                self.script.clear()
                return json_reply(200, {"ok": True})
            if name == "server-stats":
                with self._lock:
                    return json_reply(200, {
                        "requests": self.requests, "busy_s": self.busy_s,
                        # the asker's own connection is open while it is answered
                        "other_open_connections": self.open_connections - 1})
            reply = self.app.control(name, request)
            if reply is None:
                return json_reply(404, {"detail": f"no control {name!r}"})
            return reply
        except Exception as exc:  # a broken test script must say why, not hang the test
            return json_reply(500, {"detail": f"{type(exc).__name__}: {exc}"})
