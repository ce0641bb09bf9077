"""Station API benchmark: event-to-client latency, and the real station's idle memory.

Prints, side by side in one run:

1. **Latency** from ``EventBus.emit`` in the station to a client process having parsed the event
   off the Server-Sent-Events stream, over 3 000 events emitted 1 ms apart, with 1 and with 5
   clients (each a separate process reading ``/api/v1/events`` with the project's client), p50
   and p99. Reference, measured in the same run: the bare in-process hand-off the stream is
   built on (emit -> a thread blocked in ``Subscription.get``). Goal: p99 <= 5 ms. Emit and
   receive times are ``time.monotonic()``, one clock for every process on Linux.
   The server is the real one (StationService + ApiServer over a simulated station) in this
   process; the events are ``Log`` events carrying their emit time, which are sent at once. A
   run's progress events (step started, measurement, step finished) are gathered for up to
   10 ms during a run (``PROGRESS_DELAY_S`` in edge/engine/events.py): their latency to the
   screen, real runs included, is what bench_hmi.py measures.
2. **RSS of the real ``pibench station --no-console`` process**, idle, with inventory sync on
   (generic backend to a loopback port nobody answers: the worker backs off, as in an outage)
   and the API on: once idle before any client, and again after a client has read the state
   and holds an event stream open (what the touchscreen HMI does all day). References in the
   same run: a bare ``python -c`` process, and the same station with ``[api] listen = "off"``
   (which still runs the station service and its health checks), so the API's own share shows.
   Also printed: the same process after the client had one board tested. Goal: <= 40 MiB.

Run: .venv/bin/python bench/bench_api.py   (about 30 s; bytecode cached by a first run)
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from edge.api.client import ApiClient
from edge.api.server import ApiServer
from edge.api.settings import api_settings
from edge.config import StationConfig
from edge.engine import EventBus, Log
from edge.service import ServiceSettings, StationService
from edge.station import Station

EVENTS = 3000
SPACING_S = 0.001
GOAL_P99_MS = 5.0
GOAL_RSS_MIB = 40.0

CLIENT = r"""
import json, sys, time
from edge.api.client import ApiClient
client = ApiClient(sys.argv[1])
want = int(sys.argv[2])
lat, gaps = [], 0
stream = client.events(timeout=60)
print("ready", flush=True)
for ev in stream:
    if ev.name == "gap":
        gaps += 1
    if ev.name != "log" or not ev.data["message"].startswith("t="):
        continue
    lat.append(time.monotonic() - float(ev.data["message"][2:]))
    if len(lat) >= want:
        break
print(json.dumps({"latencies": lat, "gaps": gaps}), flush=True)
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def emit_paced(bus: EventBus, count: int) -> None:
    # Sleep between events, as the engine waits between measurements: a busy-wait here would
    # hold the GIL and make every reader thread wait a whole switch interval (5 ms).
    next_at = time.monotonic()
    for _ in range(count):
        next_at += SPACING_S
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        bus.emit(Log, "", level=logging.INFO, message=f"t={time.monotonic():.9f}")


def reference_latency() -> list[float]:
    """The hand-off every stream rides on: emit -> a reader thread blocked in get()."""
    bus = EventBus()
    sub = bus.subscribe()
    out: list[float] = []

    def reader() -> None:
        while len(out) < EVENTS:
            ev = sub.get(timeout=5)
            if ev is None:
                return
            out.append(time.monotonic() - float(ev.message[2:]))

    thread = threading.Thread(target=reader)
    thread.start()
    emit_paced(bus, EVENTS)
    thread.join(30)
    return out


def stream_latency(url: str, bus: EventBus, clients: int) -> tuple[list[float], int]:
    procs = [subprocess.Popen([sys.executable, "-c", CLIENT, url, str(EVENTS)],
                              stdout=subprocess.PIPE, text=True) for _ in range(clients)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)  # every stream past its resync document
    emit_paced(bus, EVENTS)
    latencies: list[float] = []
    gaps = 0
    for proc in procs:
        doc = json.loads(proc.stdout.readline())
        latencies += doc["latencies"]
        gaps += doc["gaps"]
        proc.wait(30)
        proc.stdout.close()
    return latencies, gaps


def latency_section() -> bool:
    print(f"== event-to-client latency: {EVENTS} events, {SPACING_S * 1000:g} ms apart "
          "(goal p99 <= 5 ms)")
    ref = reference_latency()
    print(f"  reference (in-process bus -> thread)   p50 {percentile(ref, 50) * 1e3:6.3f} ms   "
          f"p99 {percentile(ref, 99) * 1e3:6.3f} ms")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        cfg = StationConfig(data_dir=Path(tmp), api={"listen": "127.0.0.1:0"})
        with Station(cfg, command="bench_api") as station, \
                StationService(station, ServiceSettings(health_interval_s=3600)) as service:
            server = ApiServer(service, api_settings(cfg))
            url = server.start()
            try:
                for clients in (1, 5):
                    lat, gaps = stream_latency(url, service.bus, clients)
                    p50, p99 = percentile(lat, 50) * 1e3, percentile(lat, 99) * 1e3
                    met = p99 <= GOAL_P99_MS and gaps == 0
                    ok &= met
                    ratio = p99 / max(percentile(ref, 99) * 1e3, 1e-6)
                    print(f"  SSE, {clients} client(s) ({len(lat):5d} received)    p50 "
                          f"{p50:6.3f} ms   p99 {p99:6.3f} ms   x{ratio:.1f} the reference "
                          f"p99; gaps {gaps}   {'goal met' if met else 'GOAL MISSED'}")
            finally:
                server.stop()
    return ok


# -- memory ------------------------------------------------------------------------------------
def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def station_rss(tmp: Path, listen: str) -> tuple[float, float | None, float | None]:
    """Idle RSS in MiB: before any client; with a client holding a stream; after that client
    had one board tested (None for the last two when the API is off)."""
    cfg = tmp / f"station-{listen.replace(':', '_')}.toml"
    cfg.write_text(f'[station]\nid = "bench"\ndata_dir = "data-{listen.replace(":", "_")}"\n'
                   '[sync]\nbackend = "generic"\nurl = "http://127.0.0.1:9/results"\n'
                   'token_env = "PIBENCH_BENCH_TOKEN"\n'
                   f'[api]\nlisten = "{listen}"\n')
    env = {**os.environ, "PIBENCH_BENCH_TOKEN": "bench-token", "PYTHONUNBUFFERED": "1"}
    # The installed command, from a directory of its own: the process a technician starts.
    pibench = Path(sys.executable).with_name("pibench")
    command = [str(pibench)] if pibench.exists() else [sys.executable, "-m", "edge.cli"]
    proc = subprocess.Popen([*command, "--config", str(cfg), "station", "--no-console"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=tmp)
    url = None
    try:
        for line in proc.stdout:
            if line.strip().startswith("api: "):
                url = line.split("api: ", 1)[1].strip()
            if line.startswith("  inventory sync") and listen == "off":
                break
            if url:
                break
        time.sleep(5)  # start-up done: health checked, sync worker backed off
        idle = rss_mib(proc.pid)
        with_client = after_run = None
        if url:
            client = ApiClient(url)
            client.get("/runs/current")
            client.get("/health")
            stream = client.events(timeout=30)
            next(stream)
            time.sleep(2)
            with_client = rss_mib(proc.pid)
            client.post("/runs", {"product": "PowerBank-Foolish", "serial": "PBF-000001"})
            for event in stream:
                if event.name == "run_finished":
                    break
            time.sleep(2)
            after_run = rss_mib(proc.pid)
            stream.close()
        return idle, with_client, after_run
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()


def memory_section() -> bool:
    print("== RSS of the real `pibench station --no-console`, idle, sync on (goal <= 40 MiB)")
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    time.sleep(1)
    bare_rss = rss_mib(bare.pid)
    bare.wait()
    print(f"  reference: bare python -c                      {bare_rss:5.1f} MiB")
    with tempfile.TemporaryDirectory() as tmp:
        off, _, _ = station_rss(Path(tmp), "off")
        idle, with_client, after_run = station_rss(Path(tmp), "127.0.0.1:0")
    print(f"  reference: station, [api] listen = 'off'        {off:6.2f} MiB")
    met = idle <= GOAL_RSS_MIB and (with_client or 0) <= GOAL_RSS_MIB
    print(f"  station, API on, no client yet                 {idle:6.2f} MiB   "
          f"(API's own share {idle - off:+.2f} MiB, {idle / bare_rss:.1f}x bare python)")
    print(f"  station, API on, a client holding a stream     {with_client:6.2f} MiB   "
          f"{'goal met' if met else 'GOAL MISSED'}")
    print(f"  station, API on, after that client tested a board {after_run:6.2f} MiB "
          "(every station reaches this once it has run a plan)")
    return met


def main() -> int:
    latency_ok = latency_section()
    memory_ok = memory_section()
    print(f"== goals: latency {'met' if latency_ok else 'MISSED'}, "
          f"memory {'met' if memory_ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
