"""The station's local HTTP API: a threading HTTP/1.1 server on the standard library, JSON in and
out, and a Server-Sent-Events stream.

Why the standard library: the station must idle under 40 MiB with the API and sync on, and it
already idles near that before the API (docs/api.md has the measurements). A small HTTP/1.1
layer on ``socketserver`` (``edge/api/http11.py``, which reads header fields itself: no
``http.client``, ``email`` nor ``ssl`` at start) adds almost nothing; an ASGI stack would add
8 MiB or more. One
thread per connection suits a station with a handful of clients, and lets an event stream block
on the bus subscription without any event loop.

Every request passes, in order: the Host check (loopback binds: defeats DNS rebinding), the
Origin check (browsers: a foreign page gets 403), the token (when configured: 401, compared in
constant time, never logged), the route (404/405), then the body limits (411/413/415/400/422).
No input reaches a 5xx: the catch-all answers 500 without a traceback and logs it, and the tests
fuzz every endpoint to keep it unreachable.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from edge import lazylog
from edge.api import routes
from edge.api.http11 import Http11Handler, ThreadingHttpServer, reason_phrase
from edge.api.routes import HttpError, Request
from edge.api.settings import ApiSettings
from edge.engine.events import Gap
from edge.service import StationService
from edge.service.views import event_name, event_view
from edge.store.codec import compact_json_encoder

_log = lazylog.getLogger("edge.api")

SCHEMA_PATH = Path(__file__).with_name("openapi.json")
MAX_BODY = 16 * 1024  # bytes: the largest real request is a few hundred
MAX_CONNECTIONS = 64  # threads; a station has a handful of clients
MAX_STREAMS = 16
KEEPALIVE_S = 15.0  # an SSE comment this often keeps proxies and dead-peer detection honest
WRITE_TIMEOUT_S = 30.0  # a stream client that stops reading this long is dropped
IDLE_TIMEOUT_S = 30.0  # a connection that sends nothing (or half a request) this long is closed


_encode = compact_json_encoder()  # json.dumps(doc, separators=(",", ":"), ensure_ascii=False,
#                                    allow_nan=False), without its per-call set-up


def dumps(doc: Any) -> bytes:
    return _encode(doc).encode("utf-8")


def sse_frame(name: str, data: Any, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return (f"{head}event: {name}\ndata: ").encode() + dumps(data) + b"\n\n"


class _Server(ThreadingHttpServer):
    request_queue_size = 16

    def __init__(self, address: tuple[str, int], service: StationService,
                 settings: ApiSettings) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.service = service
        self.settings = settings
        self.schema = SCHEMA_PATH.read_bytes()
        self.stopping = threading.Event()
        self.stream_slots = threading.BoundedSemaphore(MAX_STREAMS)
        self._connections = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._streams: set[Any] = set()
        self._streams_lock = threading.Lock()
        super().__init__(address, _Handler)
        port = self.server_address[1]
        hosts = {settings.host or ""}
        if settings.loopback:
            hosts |= {"127.0.0.1", "localhost", "[::1]", "::1"}
        self.allowed_hosts = {h.lower() for h in hosts} | {f"{h}:{port}".lower()
                                                            for h in hosts}
        self.own_origins = {f"http://{h}:{port}".lower() for h in hosts if h != "::1"}
        self.allowed_origins = {o.lower().rstrip("/") for o in settings.allowed_origins}

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._connections.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def track(self, sub: Any, add: bool) -> None:
        with self._streams_lock:
            if add:
                self._streams.add(sub)
            else:
                self._streams.discard(sub)

    def close_streams(self) -> None:
        with self._streams_lock:
            streams = list(self._streams)
        for sub in streams:
            sub.close()


# The HTTP layer's refusals by a fixed word: derived from Python's reason phrase, 414's changed
# with Python 3.13 ("Request-URI Too Long" became "URI Too Long"), and a client's code with it.
_HTTP_LAYER_CODES = {400: "bad_request", 414: "request_uri_too_long",
                     431: "request_header_fields_too_large"}


class _Handler(Http11Handler):
    timeout = IDLE_TIMEOUT_S
    server: _Server

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """The HTTP layer's own refusals (bad request line, line or headers too long), in JSON
        like every other answer."""
        phrase = reason_phrase(code, "Error")
        word = _HTTP_LAYER_CODES.get(code) or phrase.lower().replace(" ", "_").replace("-", "_")
        self.close_connection = True
        self._send(code, {"error": word, "code": word, "message": message or phrase}, close=True)

    def _dispatch(self) -> None:
        self._cors: str | None = None
        self._body_read = False
        try:
            self._answer()
        except HttpError as exc:
            # A body left unread would be taken for the next request: close instead.
            unread = not self._body_read and (self.headers.get("Content-Length", "0").strip()
                                              not in ("", "0")
                                              or self.headers.get("Transfer-Encoding"))
            self._send(exc.status, exc.body(), headers=exc.headers,
                       close=bool(unread) or exc.status in (400, 411, 413))
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:
            _log.exception("API %s %s failed", self.command, self.path.split("?")[0][:200])
            self._send(500, {"error": "internal_error", "code": "internal_error",
                             "message": "internal error; the station's log has the details"},
                       close=True)

    do_GET = do_POST = do_OPTIONS = _dispatch

    def __getattr__(self, name: str) -> Any:
        # Any other method (PUT, TRACE, BREW...) is routed too, so it gets a 405 with the
        # path's Allow header.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    # -- the request ----------------------------------------------------------------------------
    def _answer(self) -> None:
        server = self.server
        self._check_host()
        origin = self._check_origin()
        if self.command == "OPTIONS" and origin is not None:
            return self._preflight(origin)
        self._check_token()
        url = urlsplit(self.path)
        try:
            query = parse_qs(url.query, keep_blank_values=True, max_num_fields=32,
                             errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise HttpError(400, "bad_query", "the query string cannot be read") from None
        pattern, handler, params = routes.match(self.command, url.path)
        params = {k: unquote(v, errors="strict") for k, v in params.items()}
        body = self._read_body()
        if pattern == "/openapi.json":
            return self._send_bytes(200, server.schema, "application/json")
        if pattern == "/events":
            return self._stream(query)
        assert handler is not None
        status, doc = handler(server.service, Request(self.command, url.path, query,
                                                      self.headers, body, params))
        self._send(status, doc)

    def _check_host(self) -> None:
        host = self.headers.get("Host")
        if host is not None and self.server.settings.loopback \
                and host.strip().lower() not in self.server.allowed_hosts:
            raise HttpError(403, "host_not_allowed", "this station answers to its loopback "
                            "address only (Host header not recognised)")

    def _check_origin(self) -> str | None:
        """None without an Origin (not a browser) or for the station's own origin; the origin
        when it is one of the configured ones (CORS headers then go out); 403 otherwise."""
        origin = self.headers.get("Origin")
        if origin is None:
            return None
        normal = origin.strip().lower().rstrip("/")
        if normal in self.server.own_origins:
            return None
        if normal in self.server.allowed_origins:
            self._cors = origin.strip()
            return self._cors
        raise HttpError(403, "origin_not_allowed", "requests from this web page's origin are "
                        "refused (add it to [api] allowed_origins to allow it)")

    def _check_token(self) -> None:
        token = self.server.settings.token
        if token is None:
            return
        import hmac  # here: it loads OpenSSL (_hashlib), ~3 ms of a start, for a token check

        given = self.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode("utf-8", "replace"), token.encode("utf-8"))
        if not ok:
            raise HttpError(401, "unauthorized", "missing or wrong API token (send "
                            "'Authorization: Bearer <token>')",
                            headers={"WWW-Authenticate": 'Bearer realm="pibench"'})

    def _read_body(self) -> dict[str, Any]:
        if self.headers.get("Transfer-Encoding"):
            raise HttpError(411, "length_required", "send the body with a Content-Length "
                            "(chunked bodies are not accepted)")
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return {}
        if not length_text.strip().isdigit():
            raise HttpError(400, "bad_content_length", "Content-Length is not a number")
        length = int(length_text)
        if length > MAX_BODY:
            raise HttpError(413, "body_too_large", f"request body over {MAX_BODY} bytes")
        raw = self.rfile.read(length) if length else b""
        self._body_read = True
        if len(raw) < length:
            raise HttpError(400, "incomplete_body", "the body is shorter than its "
                            "Content-Length")
        if not raw:
            return {}
        if self.command != "POST":
            raise HttpError(400, "unexpected_body", f"{self.command} takes no body")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise HttpError(415, "unsupported_media_type", "send the body as application/json")
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise HttpError(400, "bad_json", "the body is not valid UTF-8 JSON") from None
        if not isinstance(body, dict):
            raise HttpError(422, "bad_body", "the body must be a JSON object")
        return body

    # -- answers --------------------------------------------------------------------------------
    def _common_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        cors = getattr(self, "_cors", None)
        if cors:
            self.send_header("Access-Control-Allow-Origin", cors)
            self.send_header("Vary", "Origin")

    def _send(self, status: int, doc: Any, *, headers: dict[str, str] | None = None,
              close: bool = False) -> None:
        self._send_bytes(status, dumps(doc), "application/json", headers=headers, close=close)

    def _send_bytes(self, status: int, data: bytes, ctype: str, *,
                    headers: dict[str, str] | None = None, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self._common_headers()
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _preflight(self, origin: str) -> None:
        self.send_response(204)
        self._common_headers()
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers",
                         "Authorization, Content-Type, Last-Event-ID")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    # -- the event stream ------------------------------------------------------------------------
    def _stream(self, query: dict[str, list[str]]) -> None:
        server = self.server
        last_id = self.headers.get("Last-Event-ID") or (query.get("last_event_id") or [None])[0]
        if last_id is not None and len(last_id) > 80:
            raise HttpError(400, "bad_event_id", "Last-Event-ID is not an id this station sent")
        if not server.stream_slots.acquire(blocking=False):
            raise HttpError(429, "too_many_streams", f"{MAX_STREAMS} event streams are "
                            "already open; close one")
        sub = None
        try:
            service = server.service
            resync, sub = service.open_stream(last_id)
            server.track(sub, True)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self._common_headers()
            self.send_header("Connection", "close")
            self.send_header("X-Accel-Buffering", "no")
            self.end_headers()
            self.close_connection = True
            self.connection.settimeout(WRITE_TIMEOUT_S)
            boot = service.boot_id
            first = b"retry: 2000\n\n"
            skip_upto = 0
            if resync is not None:
                first += sse_frame("resync", resync, f"{boot}:{resync['seq']}")
                skip_upto = resync["seq"]
            self.wfile.write(first)
            while not server.stopping.is_set():
                event = sub.get(timeout=KEEPALIVE_S)
                if event is None:
                    if sub.closed:
                        return
                    self.wfile.write(b": keepalive\n\n")
                    continue
                out = []
                for ev in (event, *sub.drain()):
                    if isinstance(ev, Gap):
                        # Too slow for the stream: say what was missed, then the state now.
                        out.append(sse_frame("gap", event_view(ev)))
                        doc = service.resync_document("gap")
                        out.append(sse_frame("resync", doc, f"{boot}:{doc['seq']}"))
                        skip_upto = doc["seq"]
                    elif ev.seq > skip_upto:
                        out.append(sse_frame(event_name(ev), event_view(ev), f"{boot}:{ev.seq}"))
                if out:
                    self.wfile.write(b"".join(out))
        except (ConnectionError, TimeoutError, OSError):
            pass  # the client went away or stopped reading: its stream ends, nothing else does
        finally:
            if sub is not None:
                server.track(sub, False)
                sub.close()
            server.stream_slots.release()


class ApiServer:
    """The API on its own threads: ``start()`` binds and serves, ``stop()`` ends it."""

    def __init__(self, service: StationService, settings: ApiSettings, *,
                 poll_interval: float = 0.5) -> None:
        if not settings.enabled:
            raise ValueError("the API is off ([api] listen = 'off')")
        self.service = service
        self.settings = settings
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._poll_interval = poll_interval  # idle wake-ups; stop() wakes the loop itself

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("API not started")
        host, port = self._server.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"

    def start(self) -> str:
        """Bind (OSError if the address is taken or not ours) and serve in a thread."""
        assert self.settings.host is not None
        self._server = _Server((self.settings.host, self.settings.port), self.service,
                               self.settings)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={
            "poll_interval": self._poll_interval}, name="pibench-api", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.close_streams()
        server.server_close()
        self._server = None


__all__ = ["MAX_BODY", "SCHEMA_PATH", "ApiServer", "dumps", "sse_frame"]
