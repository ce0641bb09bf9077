"""A small client of the station API on the standard library (``http.client``).

What ``pibench run`` uses to hand its run to a running station, and what the tests and the
benchmark drive the real server with. The HMI has its own async client; this one blocks.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

PREFIX = "/api/v1"


class ApiUnavailable(ConnectionError):
    """Nothing answers at the address (the station is gone or not serving)."""


@dataclass(frozen=True)
class SseEvent:
    id: str | None
    name: str
    data: Any


class ApiClient:
    def __init__(self, url: str, *, token: str | None = None, timeout: float = 10.0,
                 headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not an http:// address: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout = timeout
        self.headers = dict(headers or {})
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def _connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=self.timeout if timeout is None else timeout)

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """(status, decoded JSON body). :class:`ApiUnavailable` if nothing answers."""
        conn = self._connection()
        data = None if body is None else json.dumps(body).encode()
        all_headers = {**self.headers, **(headers or {})}
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, PREFIX + path, body=data, headers=all_headers)
            response = conn.getresponse()
            raw = response.read()
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            raise ApiUnavailable(f"no station API at http://{self.host}:{self.port}: "
                                 f"{exc}") from exc
        finally:
            conn.close()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = raw.decode("utf-8", "replace")
        return response.status, doc

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        return self.request("POST", path, body if body is not None else {})

    def events(self, last_event_id: str | None = None,
               timeout: float | None = 60.0) -> Iterator[SseEvent]:
        """The event stream, parsed. Ends when the station closes it; raises on timeout."""
        conn = self._connection(timeout)
        headers = dict(self.headers)
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        try:
            conn.request("GET", PREFIX + "/events", headers=headers)
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            conn.close()
            raise ApiUnavailable(f"no station API at http://{self.host}:{self.port}: "
                                 f"{exc}") from exc
        response = conn.getresponse()
        try:
            if response.status != 200:
                body = response.read()
                raise ConnectionError(f"event stream refused: {response.status} "
                                      f"{body[:200]!r}")
            yield from parse_sse(response)
        finally:
            conn.close()


def parse_sse(stream: Any) -> Iterator[SseEvent]:
    """Server-Sent Events from a binary file-like object (one JSON ``data:`` line each)."""
    event_id: str | None = None
    name = "message"
    data: list[str] = []
    while True:
        line = stream.readline()
        if not line:
            return
        text = line.decode("utf-8").rstrip("\r\n")
        if not text:
            if data:
                yield SseEvent(event_id, name, json.loads("\n".join(data)))
            name, data = "message", []
            continue
        if text.startswith(":"):
            continue
        key, _, value = text.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "id":
            event_id = value
        elif key == "event":
            name = value
        elif key == "data":
            data.append(value)
