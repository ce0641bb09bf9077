"""``pibench hmi --web``: the same operator screen in a browser, through textual-serve.

textual-serve starts one HMI process per browser session and has no authentication, no Origin
check and no limit on sessions. This puts all three in front of it:

* **the API token**: when the station has one, the first visit is ``/?token=…``; the token is
  compared in constant time and exchanged for an HttpOnly, SameSite=Strict cookie holding an
  HMAC of it (the token itself never sits in the browser or in a log), then the URL is cleaned;
  every page, static file and websocket needs the cookie. Listening on anything but loopback
  without a token is refused;
* **Origin**: the websocket accepts only this server's own origin (no cross-site hijacking);
* **sessions**: at most ``max_sessions`` HMI processes at once; the next browser gets 503.

The page's Google Fonts link is dropped (a workshop may be offline; the browser's monospace font
is used). Each HMI process is a pure client of the station, so two browsers are two views of the
same station, never two owners of the hardware.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import shlex
import sys

from aiohttp import web
from textual_serve.server import Server

from edge.netaddr import is_loopback
from hmi.settings import HmiSettings

COOKIE = "pibench_hmi"
_FONTS = re.compile(r"<link[^>]*fonts\.googleapis[^>]*>\s*", re.IGNORECASE)


class GuardedServer(Server):
    def __init__(self, command: str, *, host: str, port: int, token: str | None,
                 max_sessions: int) -> None:
        super().__init__(command, host=host, port=port, title="pibench")
        self.token = token
        self.proof = (hmac.new(token.encode(), b"pibench-hmi-web", hashlib.sha256).hexdigest()
                      if token else None)
        self.max_sessions = max(1, max_sessions)
        self.sessions = 0
        self.origins = {self.public_url.rstrip("/")}
        if is_loopback(host):
            self.origins |= {f"http://127.0.0.1:{port}", f"http://localhost:{port}"}

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self.guard)
        return app

    def _authorised(self, request: web.Request) -> bool:
        if self.proof is None:
            return True
        return hmac.compare_digest(request.cookies.get(COOKIE, ""), self.proof)

    @web.middleware
    async def guard(self, request: web.Request, handler):
        if self.token is not None and request.path == "/" and "token" in request.query:
            if not hmac.compare_digest(request.query["token"].encode(), self.token.encode()):
                raise web.HTTPUnauthorized(text="wrong token")
            query = {k: v for k, v in request.query.items() if k != "token"}
            location = request.rel_url.with_query(query)
            response = web.HTTPFound(str(location))
            response.set_cookie(COOKIE, self.proof or "", httponly=True, samesite="Strict")
            raise response
        if not self._authorised(request):
            raise web.HTTPUnauthorized(
                text="pibench: open this page with ?token=<the station's API token>")
        if request.path == "/ws":
            origin = request.headers.get("Origin")
            if origin is not None and origin.rstrip("/") not in self.origins:
                raise web.HTTPForbidden(text="foreign origin")
            if self.sessions >= self.max_sessions:
                raise web.HTTPServiceUnavailable(
                    text=f"{self.max_sessions} screens are already open on this station")
            self.sessions += 1
            try:
                return await handler(request)
            finally:
                self.sessions -= 1
        response = await handler(request)
        if request.path == "/" and isinstance(response, web.Response) and response.text:
            response.text = _FONTS.sub("", response.text)
        return response


def hmi_command(settings: HmiSettings, lang: str | None) -> str:
    """The command textual-serve runs per session: this same HMI, same station."""
    parts = [sys.executable, "-m", "hmi", "--url", settings.url]
    if lang:
        parts += ["--lang", lang]
    return shlex.join(parts)


def serve(settings: HmiSettings, *, host: str, port: int, lang: str | None,
          max_sessions: int, token_file: str | None = None, config: str | None = None) -> int:
    if not is_loopback(host) and not settings.token:
        print(f"pibench-hmi: --web on {host} (not loopback) needs the station's API token "
              "([api] token_file in station.toml, or --token-file)", file=sys.stderr)
        return 78
    # Each session's HMI reads the token from the same file (never from its command line).
    if token_file:
        os.environ["PIBENCH_API_TOKEN_FILE"] = token_file
    if config:
        os.environ["PIBENCH_CONFIG"] = config
    logging.getLogger("aiohttp.access").disabled = True  # request lines carry ?token=
    server = GuardedServer(hmi_command(settings, lang), host=host, port=port,
                           token=settings.token, max_sessions=max_sessions)
    server.serve()
    return 0
