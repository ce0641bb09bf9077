"""Resident memory of the real ``pibench station --no-console`` process, idle and after 1,000 runs.

Run:  .venv/bin/python bench/bench_station_rss.py                   (about a minute)
      .venv/bin/python bench/bench_station_rss.py --runs 200 --outage-runs 50   (quicker)

The process is the installed ``pibench`` script of this venv (the Python process itself: the
script's shebang is the interpreter) as systemd runs it, ``station --no-console``, with its local
API on a free loopback port and the inventory sync configured against the loopback fake generic
server of ``edge/sync/testing`` (a real HTTP server on 127.0.0.1 in its own process, not counted),
bytecode cached as on an installed station (``PYTHONDONTWRITEBYTECODE`` unset,
``PYTHONPYCACHEPREFIX`` in the temp dir, filled by an untimed first start and run). VmRSS and
VmHWM come from ``/proc/PID/status``:

1. idle, 2 s after its API answered;
2. after ``--runs`` simulated boards (PowerBank-Foolish), each started with ``POST /runs`` and
   watched on ``GET /runs/current`` until its verdict, as the HMI does; again once its sync worker
   has delivered them all to the fake server;
3. an outage: the fake server stopped, ``--outage-runs`` more boards, then the server back and
   ``POST /sync/deliver-now``: once they are all delivered.

The interpreter alone (``python -c pass``, VmHWM) is printed as a reference. Goal (issue 14, goal
4): <= 40 MiB idle and after 1,000 runs, no growth. The HMI's own goal (<= 60 MiB) is measured by
``bench_hmi.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
PIBENCH = os.path.join(os.path.dirname(sys.executable), "pibench")
PRODUCT = "PowerBank-Foolish"
TOKEN = "rss-bench-T0k3n-0123456789abcdef"
GOAL_MIB = 40.0


def status_mib(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sync_table(backend: str, url: str) -> str:
    """The [sync] table: the generic JSON endpoint, or InvenTree through its official client
    (its part mapped, templates made by ``pibench sync setup`` before the measured start)."""
    if backend == "inventree":
        return (f"[sync]\nbackend = 'inventree'\nurl = '{url}'\n"
                "token_file = 'inventory.token'\nconnect_timeout_s = 1\nread_timeout_s = 2\n"
                "run_template = 'pibenchrun'\n[sync.parts]\n'PowerBank-Foolish' = 'PBF-B'\n")
    return (f"[sync]\nbackend = 'generic'\nurl = '{url}/pibench/results'\n"
            "token_file = 'inventory.token'\nconnect_timeout_s = 1\nread_timeout_s = 2\n")


def write_config(root: Path, url: str, api_port: int | None, name: str = "station.toml",
                 backend: str = "generic") -> Path:
    """The station's configuration; ``api_port`` None switches the API off (the reference)."""
    token = root / "inventory.token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    cfg = root / name
    listen = "off" if api_port is None else f"127.0.0.1:{api_port}"
    data = "data" if api_port is not None else "data-api-off"
    cfg.write_text(
        f"[station]\nid = 'rss-bench'\ndata_dir = '{data}'\n"
        f"[api]\nlisten = '{listen}'\n" + sync_table(backend, url))
    return cfg


class Api:
    """The station's local API, as the HMI uses it: start a run, watch it end."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1"

    def call(self, method: str, path: str, doc: dict | None = None) -> dict:
        import json
        import urllib.request

        data = None if doc is None else json.dumps(doc).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read().decode())

    def wait_up(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.call("GET", "/health")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def run_board(self, serial: str) -> None:
        """POST /runs, then poll /runs/current until this run is the last verdict."""
        import urllib.error

        while True:  # the previous run's verdict can show a moment before a new run may start
            try:
                run_id = self.call("POST", "/runs", {"product": PRODUCT, "serial": serial,
                                                     "request_id": serial})["run_id"]
                break
            except urllib.error.HTTPError as exc:
                if exc.code != 409:
                    raise
                time.sleep(0.005)
        while True:
            current = self.call("GET", "/runs/current")
            if current["state"] == "idle" and (current.get("last_run") or {}).get(
                    "run_id") == run_id:
                return
            time.sleep(0.002)


class Station:
    """A pibench station process whose stdout is read up to a marker."""

    def __init__(self, cfg: Path, env: dict, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [PIBENCH, "--config", str(cfg), "--lang", "en", "station", *extra],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.seen = b""

    def read_until(self, marker: bytes) -> None:
        """Read stdout up to and including the next ``marker``; what follows stays buffered."""
        assert self.proc.stdout is not None
        while marker not in self.seen:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise SystemExit(f"station exited before {marker!r}:\n{self.seen[-2000:]!r}\n"
                                 f"{err[-2000:]}")
            self.seen += chunk
        self.seen = self.seen.split(marker, 1)[1]

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def rss(self) -> float:
        return status_mib(self.proc.pid, "VmRSS")

    def hwm(self) -> float:
        return status_mib(self.proc.pid, "VmHWM")

    def stop(self) -> None:
        self.proc.terminate()  # SIGTERM: systemd's stop
        if self.proc.stdin is not None:
            self.proc.stdin.close()
            self.proc.stdin = None
        self.proc.communicate(timeout=30)


def delivered_runs(server, backend: str) -> int:
    """Runs the fake server holds: stored documents (generic), or run results (InvenTree: one
    'pibenchrun' result per run beside its measurements)."""
    if backend == "inventree":
        return sum(1 for r in server.control("results") if r["key"] == "pibenchrun")
    return len(server.control("received").get("stored", []))


def wait_delivered(server, total: int, timeout: float = 180.0,
                   backend: str = "generic") -> int:
    """Runs delivered to the fake server, once it has ``total`` (or the time is up)."""
    deadline = time.monotonic() + timeout
    stored = 0
    while time.monotonic() < deadline:
        stored = delivered_runs(server, backend)
        if stored >= total:
            break
        time.sleep(1.0)
    time.sleep(1.0)
    return stored


def bare_python(env: dict) -> float:
    code = ("import sys; f = open('/proc/self/status'); "
            "print([l for l in f if l.startswith('VmHWM')][0].split()[1])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    return int(out) / 1024


def main(argv: list[str]) -> int:
    from edge.sync.testing.process import FakeServerProcess

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs through the API")
    parser.add_argument("--outage-runs", type=int, default=300,
                        help="runs while the inventory is down, delivered once it is back")
    parser.add_argument("--sync", choices=("generic", "inventree"), default="generic",
                        help="the inventory the station delivers to (a loopback fake of it)")
    args = parser.parse_args(argv)
    backend = args.sync

    root = Path(tempfile.mkdtemp(prefix="pibench-rss-bench-"))
    server = FakeServerProcess(backend, root / "fake.sqlite3").start()
    try:
        server.control("config", {"tokens": {TOKEN: "valid"}})
        port = free_port()
        cfg = write_config(root, server.base_url, port, backend=backend)
        api = Api(port)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        if backend == "inventree":  # the part and its test templates, as an installer makes them
            server.control("seed", {"parts": [{"name": "PowerBank", "ipn": "PBF-B"}]})
            subprocess.run([PIBENCH, "--config", str(cfg), "sync", "setup"], env=env,
                           check=True, capture_output=True, text=True)
        print(f"Station RSS bench: {PIBENCH} station --no-console, API on {api.base}, sync "
              f"'{backend}' to {server.base_url} (loopback fake), bytecode cached in "
              f"{env['PYTHONPYCACHEPREFIX']}")

        prime = Station(cfg, env, "--no-console")  # fills the bytecode cache; not measured
        api.wait_up()
        api.run_board("PBF-000000")
        prime.stop()

        station = Station(cfg, env, "--no-console")
        api.wait_up()
        time.sleep(2.0)
        idle = station.rss()
        samples: dict[int, float] = {}
        t0 = time.perf_counter()
        for i in range(args.runs):
            api.run_board(f"PBF-{i + 1:06d}")
            if i + 1 in (1, 10) or (i + 1) % 100 == 0:
                samples[i + 1] = station.rss()
        spent = time.perf_counter() - t0
        after_runs = station.rss()
        delivered = wait_delivered(server, args.runs + 1, backend=backend) - 1
        after_sync = station.rss()

        server.stop()  # the outage: the inventory refuses connections; runs queue up
        for i in range(args.outage_runs):
            api.run_board(f"PBF-{500000 + i:06d}")
        during_outage = station.rss()
        server.start()
        api.call("POST", "/sync/deliver-now", {})
        caught_up = (wait_delivered(server, args.runs + 1 + args.outage_runs, backend=backend)
                     - 1 - delivered)
        after_outage, peak = station.rss(), station.hwm()
        station.stop()
        bare = bare_python(env)
        # The reference beside it: the same station and sync with its API off, idle 2 s after
        # its prompt-less start (the API is the only way in, so nothing is run on it).
        api_off = Station(write_config(root, server.base_url, None, "api-off.toml", backend),
                          env, "--no-console")
        time.sleep(4.0)
        off_idle = api_off.rss()
        api_off.stop()

        print(f"\n{'pibench station --no-console, API and sync on':<66}{'VmRSS MiB':>10}")
        print(f"  {'python -c pass (VmHWM, reference: the interpreter alone)':<64}{bare:>10.1f}")
        print(f"  {'the same station with [api] listen = off, idle (reference)':<64}"
              f"{off_idle:>10.1f}")
        rows = (
            ("idle, 2 s after its API answered", idle, ""),
            (f"after {args.runs} runs started and watched through the API", after_runs,
             f"   ({spent / max(args.runs, 1) * 1000:.0f} ms per run)"),
            (f"  and once its sync delivered them ({delivered}/{args.runs} stored)", after_sync,
             ""),
            (f"after {args.outage_runs} more runs with the inventory down", during_outage, ""),
            (f"  and once delivered after it came back ({caught_up}/{args.outage_runs})",
             after_outage, f"   (peak {peak:.1f})"),
        )
        for label, value, note in rows:
            print(f"  {label:<64}{value:>10.1f}{note}")
        print("  VmRSS after n runs: " + ", ".join(f"{n}: {v:.1f}" for n, v in samples.items()))
        last = max(samples)
        first = max(last - 500, min((n for n in samples if n >= 100), default=min(samples)))
        slope = (samples[last] - samples[first]) / max((last - first) / 100, 1e-9)
        print(f"  growth over runs {first}..{last}: {slope:+.2f} MiB per 100 runs; idle "
              f"{idle / bare:.2f}x python -c pass, {idle - off_idle:+.1f} MiB over the API-off "
              "station")
        worst = max(value for _, value, _ in rows)
        print(f"goal (issue 14): station RSS <= {GOAL_MIB:.0f} MiB idle and after {args.runs} "
              f"runs, no growth: idle {idle:.1f}, after {after_sync:.1f} "
              f"({after_sync - idle:+.1f}), worst {worst:.1f} MiB, {slope:+.2f} MiB per 100 runs "
              "-> " + ("goal met" if worst <= GOAL_MIB and slope <= 0.05 else "goal NOT met"))
        print("goal (issue 14): HMI <= 60 MiB -> measured by bench_hmi.py, not here")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
