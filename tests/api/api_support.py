"""Shared by the API tests: a station with the test's gated product, its service and the real
HTTP server (in this process, on a free loopback port), and schema checks."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from edge.api.client import ApiClient
from edge.api.server import SCHEMA_PATH, ApiServer
from edge.api.settings import api_settings
from edge.config import BUILTIN_FIXTURES, BUILTIN_PLANS, StationConfig
from edge.service import ServiceSettings, StationService
from edge.station import Station

HERE = Path(__file__).parent
SCHEMA = json.loads(SCHEMA_PATH.read_text())


STEPS_DIR = HERE / "plans"  # the gate step type: one fixed path, so it is imported only once


def make_plans(tmp: Path) -> tuple[Path, Path]:
    """A plans directory with the gated product (its gate in ``tmp``); returns (plans dir,
    gate dir). List it with :data:`STEPS_DIR` in ``plans_dirs``."""
    plans, gate = tmp / "plans", tmp / "gate"
    plans.mkdir(parents=True, exist_ok=True)
    gate.mkdir(exist_ok=True)
    text = (STEPS_DIR / "gated-board.toml.in").read_text()
    (plans / "gated-board.toml").write_text(text.replace("@GATE@", str(gate)))
    return plans, gate


def check(doc: Any, name: str) -> None:
    """``doc`` is valid against ``#/components/schemas/<name>`` of the committed schema."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": SCHEMA["components"]}
    jsonschema.Draft202012Validator(schema).validate(doc)


@dataclass
class Api:
    client: ApiClient
    service: StationService
    server: ApiServer
    url: str
    gate: Path
    config: StationConfig

    def open_gate(self) -> None:
        (self.gate / "open").write_text("")

    def close_gate(self) -> None:
        (self.gate / "open").unlink(missing_ok=True)


@contextmanager
def running_api(tmp: Path, api: dict | None = None, *, start_on_scan: bool = False,
                token: str | None = None, poll_interval: float = 0.05,
                **config: Any) -> Iterator[Api]:
    plans, gate = make_plans(tmp)
    cfg = StationConfig(data_dir=tmp / "data", plans_dirs=(plans, STEPS_DIR, BUILTIN_PLANS),
                        fixtures_dirs=(BUILTIN_FIXTURES,),
                        api={"listen": "127.0.0.1:0", **(api or {})}, **config)
    settings = api_settings(cfg)
    with Station(cfg) as station:
        service = StationService(station, ServiceSettings(start_on_scan=start_on_scan,
                                                          health_interval_s=3600))
        service.start()
        server = ApiServer(service, settings, poll_interval=poll_interval)
        url = server.start()
        harness = Api(ApiClient(url, token=token), service, server, url, gate, cfg)
        try:
            yield harness
        finally:
            harness.open_gate()  # never leave a run held
            server.stop()
            service.close(run_timeout=30)


def collect(client: ApiClient, until: str, last_event_id: str | None = None,
            ready: threading.Event | None = None, limit: int = 10_000) -> list:
    """Events from the stream up to and including the first named ``until``."""
    out = []
    for event in client.events(last_event_id, timeout=30):
        out.append(event)
        if ready is not None and len(out) == 1:
            ready.set()
        if event.name == until or len(out) >= limit:
            return out
    return out


def raw_exchange(api: Any, data: bytes) -> str:
    """Send raw bytes; the answer's head and its Content-Length of body."""
    conn = socket.create_connection((api.client.host, api.client.port), timeout=10)
    with contextlib.suppress(OSError):  # the server may answer and close before reading all
        conn.sendall(data)
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            break
        buffer += chunk
    head, _, body = buffer.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    conn.close()
    return (head + b"\r\n\r\n" + body).decode("utf-8", "replace")
