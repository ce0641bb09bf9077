"""An async client of the station's local HTTP API (httpx). No Textual import: the screen's
workers call it and turn what it returns into messages, and tests and the bench use it bare.

Two kinds of failure, kept apart because the screen says different things:

* :class:`StationUnreachable`: no answer (service stopped, restarting, wrong address). The
  caller keeps trying.
* :class:`StationRefused`: the station answered 4xx with its reason (a bad serial, a run already
  going, an unknown product). Shown to the operator as is; retrying would not help.

The token, when one is configured, travels only in the Authorization header; it is never part of
an error message.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from hmi.i18n import LANGUAGES, refusal_text

# Every path the HMI uses, in one place: the contract is the station's committed OpenAPI schema.
PATHS = {
    "current": "/api/v1/runs/current",
    "station": "/api/v1/station",
    "products": "/api/v1/products",
    "health": "/api/v1/health",
    "run": "/api/v1/runs/{run_id}",
    "runs": "/api/v1/runs",
    "yield": "/api/v1/yield",
    "measurements": "/api/v1/measurements",
    "sync": "/api/v1/sync",
    "validate": "/api/v1/serials/validate",
    "start": "/api/v1/runs",
    "abort": "/api/v1/runs/current/abort",
    "scan": "/api/v1/scans",
    "events": "/api/v1/events",
}


class StationUnreachable(Exception):
    """The station did not answer (connection refused, reset, timed out)."""


class StationTimedOut(StationUnreachable):
    """The station took the request but gave no answer in time: unlike a refused connection,
    what it did with it is unknown (a start may have started; its events will say)."""


class StationRefused(Exception):
    """The station answered with a 4xx: ``reason`` is its message, per language if given."""

    def __init__(self, status: int, reason: dict[str, str] | str, code: str = "") -> None:
        self.status = status
        self.reason = reason if isinstance(reason, dict) else {"en": str(reason)}
        self.code = code
        super().__init__(f"{status} {code}: {self.text('en')}")

    def text(self, lang: str) -> str:
        return self.reason.get(lang) or self.reason.get("en") or next(
            iter(self.reason.values()), "")

    def texts(self) -> dict[str, str]:
        """What the operator reads, per language: the text for the station's ``code``, its
        own sentence as detail (see hmi.i18n.refusal_text)."""
        return {lang: refusal_text(self.code, self.reason, lang) for lang in LANGUAGES}


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of the live stream: ``kind`` in the HMI's vocabulary, the station's id as sent
    (``<boot>:<seq>``), and its JSON data."""

    kind: str
    id: str
    data: dict

    @property
    def boot(self) -> str:
        return self.id.partition(":")[0]

    @property
    def seq(self) -> int | None:
        tail = self.id.partition(":")[2]
        return int(tail) if tail.isdigit() else None


def _reason(response: httpx.Response) -> tuple[dict[str, str] | str, str]:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase, ""
    if isinstance(body, dict):
        detail = (body.get("messages") or body.get("message") or body.get("reason")
                  or body.get("detail") or body)
        if isinstance(detail, dict) and not all(isinstance(v, str) for v in detail.values()):
            detail = json.dumps(detail)[:200]
        return detail, str(body.get("code", body.get("error", "")) or "")
    return str(body)[:200], ""


# How long a command (scan, start, abort) may take before the station is given up on. The
# station itself waits up to 30 s for a run to start (loading the plan, building the fixture:
# edge.service START_TIMEOUT_S) before it answers a start, or a scan that starts one; a client
# that gives up sooner loses an answer the station is still going to give.
COMMAND_TIMEOUT_S = 40.0
# The station writes a keep-alive on an idle event stream every 15 s (edge.api.server
# KEEPALIVE_S): a stream silent for longer than this is a station that stopped (frozen, or a
# dead peer whose connection was never closed), not a quiet one.
STREAM_SILENCE_S = 40.0


class StationClient:
    """One per HMI process. ``base_url`` is the station's API (http://127.0.0.1:PORT).
    ``timeout``: reads; ``command_timeout``: scans, starts and aborts (see COMMAND_TIMEOUT_S);
    ``stream_silence``: the event stream (see STREAM_SILENCE_S)."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 5.0,
                 command_timeout: float = COMMAND_TIMEOUT_S,
                 stream_silence: float = STREAM_SILENCE_S,
                 client_kind: str = "panel") -> None:
        headers = {"X-Pibench-Client": client_kind}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.command_timeout = httpx.Timeout(command_timeout, connect=2.0)
        self.stream_timeout = httpx.Timeout(5.0, read=stream_silence)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers,
                                       timeout=httpx.Timeout(timeout, connect=2.0))

    def rebase(self, base_url: str) -> None:
        """Talk to the station at another address from now on (it moved to another port)."""
        self.base_url = base_url.rstrip("/")
        self._http.base_url = self.base_url

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:  # sent, not answered in time
            raise StationTimedOut(type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise StationUnreachable(type(exc).__name__) from None
        if response.status_code >= 500:
            raise StationUnreachable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            reason, code = _reason(response)
            raise StationRefused(response.status_code, reason, code)
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

    # -- reads --------------------------------------------------------------------------------
    async def current(self) -> dict:
        return await self._request("GET", PATHS["current"])

    async def station(self) -> dict:
        return await self._request("GET", PATHS["station"])

    async def snapshot(self) -> dict:
        """Everything the screen shows, in one dict: the station's identity and settings, its
        products, the current run (exact at ``seq`` of ``boot``), health and delivery status.
        The current run is read first, so the stream resumed from its seq misses nothing."""
        current = await self.current()
        station, products, health, sync = await asyncio.gather(
            self.station(), self.products(), self.health(), self.sync_status())
        return {
            "boot": current.get("boot") or station.get("boot_id"),
            "seq": current.get("seq", 0),
            "station": station,
            "start_on_scan": bool(station.get("start_on_scan", False)),
            "product": current.get("product"),
            "revision": current.get("revision"),
            "products": products.get("products", products) if isinstance(products, dict)
            else products,
            "run": current.get("run"),
            "last_run": current.get("last_run"),
            "health": health,
            "sync": sync,
        }

    async def products(self) -> list[dict]:
        return await self._request("GET", PATHS["products"])

    async def health(self) -> dict:
        return await self._request("GET", PATHS["health"])

    async def run(self, run_id: str) -> dict:
        return await self._request("GET", PATHS["run"].format(run_id=run_id))

    async def runs(self, **filters: Any) -> dict:
        params = {k: v for k, v in filters.items() if v is not None}
        return await self._request("GET", PATHS["runs"], params=params)

    async def measurements(self, product: str, day: str, name: str | None = None,
                           limit: int = 500) -> list[dict]:
        """A day's measurements of a product (``name`` only if given), oldest run first: the
        last ``limit`` of them, whatever the number of pages."""
        params: dict[str, Any] = {"product": product, "day": day, "limit": limit}
        if name is not None:
            params["name"] = name
        found: list[dict] = []
        offset: int | None = 0
        while offset is not None:
            page = await self._request("GET", PATHS["measurements"],
                                       params={**params, "offset": offset})
            found = (found + list(page.get("measurements", [])))[-limit:]
            offset = page.get("next_offset")
        return found

    async def yield_(self, **filters: Any) -> Any:
        params = {k: v for k, v in filters.items() if v is not None}
        return await self._request("GET", PATHS["yield"], params=params)

    async def sync_status(self) -> dict:
        return await self._request("GET", PATHS["sync"])

    # -- actions ------------------------------------------------------------------------------
    async def validate(self, serial: str, product: str | None) -> dict:
        body = {"serial": serial, "product": product} if product else {"serial": serial}
        return await self._request("POST", PATHS["validate"], json=body)

    async def submit_scan(self, raw: str, product: str | None, revision: str = "") -> dict:
        """A keyboard-wedge scan: the station validates it, publishes it to every client and,
        if it is configured to, starts the run."""
        body: dict[str, Any] = {"serial": raw}
        if product:
            body["product"] = product
            if revision:
                body["revision"] = revision
        return await self._request("POST", PATHS["scan"], json=body,
                                   timeout=self.command_timeout)

    async def start(self, product: str, serial: str, *, operator: str = "",
                    request_id: str | None = None, revision: str = "") -> dict:
        """Start a run. ``request_id`` makes a retried or doubled start one start;
        ``revision`` names the plan of a product the station has several revisions of."""
        body = {"product": product, "serial": serial, "operator": operator,
                "request_id": request_id or str(uuid.uuid4())}
        if revision:
            body["revision"] = revision
        return await self._request("POST", PATHS["start"], json=body,
                                   timeout=self.command_timeout)

    async def abort(self, reason: str = "aborted by operator") -> dict:
        return await self._request("POST", PATHS["abort"], json={"reason": reason},
                                   timeout=self.command_timeout)

    # -- the live stream --------------------------------------------------------------------------
    async def events(self, last_event_id: str | None = None) -> AsyncIterator[StreamEvent]:
        """Events from the station, resuming after ``last_event_id`` when given. Ends (or raises
        StationUnreachable) when the connection drops; the caller reconnects."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        try:
            async with aconnect_sse(self._http, "GET", PATHS["events"], headers=headers,
                                    timeout=self.stream_timeout) as source:
                if source.response.status_code >= 400:
                    await source.response.aread()
                    reason, code = _reason(source.response)
                    raise StationRefused(source.response.status_code, reason, code)
                async for sse in source.aiter_sse():
                    if not sse.data:
                        continue  # a keep-alive
                    try:
                        data = json.loads(sse.data)
                    except ValueError:
                        continue
                    yield StreamEvent(sse.event or "message", sse.id or "",
                                      data if isinstance(data, dict) else {"value": data})
        except httpx.TransportError as exc:
            raise StationUnreachable(type(exc).__name__) from None
