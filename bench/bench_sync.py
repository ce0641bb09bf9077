"""Sync benchmark: how fast pibench drains its outbox to a loopback server, and what it costs.

Prints, for the generic JSON backend against the loopback fake server (a subprocess):

1. the server's own request handling rate (time inside its handler) and the rate a minimal
   keep-alive client gets from it, one request in flight: the ceiling pibench is measured
   against, so "bounded by the server, not by pibench" is the ratio of the two;
2. the drain rate of 10 000 queued results, with pibench's own share of the time per result
   (database lease and bookkeeping, everything but the HTTP exchange);
3. the per-result cost with 10, 1 000 and 10 000 results queued (it must not grow), and within
   the 10 000 drain, first thousand vs last thousand (history growing behind the queue);
4. the probe rate while the server is down (24 simulated hours on an injected clock) and the
   requests spent per queued result during that time (should be 0);
5. delivery to the fake **InvenTree** with the real server's per-request latencies modelled as
   server-side delays inside the fake's own process (find 40-70 ms, create item 55-80 ms, bulk
   POST 57-150 ms, status 64-98 ms, as measured on InvenTree 1.4 with SQLite): runs/s and
   requests per run for new boards and for retests, one result per measurement, beside the
   figures measured against the real server before (about 4 requests and 0.21 s per run).

The queue is filled by storing one real run through the store's recorder and cloning it in SQL
with fresh run ids: writing 10 000 runs through the recorder would cost 50 000 fsyncs and measure
the disk, not the sync. The database being drained lives on the normal filesystem.

Run: .venv/bin/python bench/bench_sync.py   (about a minute; ``--inventree-only``: section 5)
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from edge.records import Attempt, Limits, Measurement, Outcome, RunMeta, StepResult
from edge.store import RunRecorder
from edge.store.db import open_store, write_transaction
from edge.sync.backends import make_backend
from edge.sync.clock import ManualClock
from edge.sync.settings import from_options
from edge.sync.testing.process import FakeServerProcess
from edge.sync.worker import SyncWorker

TOKEN = "bench-token-0123456789abcdef"
GOAL_PER_S = 500


def iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat()


def fill_queue(db: Path, n: int, serials: str = "PB-{:05d}", retest: bool = False) -> None:
    """One real run through the recorder, then ``n - 1`` clones with fresh ids (see docstring)."""
    recorder = RunRecorder.open(db)
    run_id = str(uuid.uuid4())
    t = 1_800_000_000.0
    recorder.begin_run(RunMeta(run_id, "PB-00000", "ne555-blinker", "B", "final", "3", "ab" * 32,
                               "bench-1", "fx-1", "0.1.0", iso(t), True))
    for i, name in enumerate(("Power rails", "Blink frequency", "Duty cycle")):
        m = (Measurement("vcc", 5.01, Limits(4.75, 5.25, "V"), Outcome.PASS),
             Measurement("f", 1.02, Limits(0.9, 1.1, "Hz"), Outcome.PASS))
        recorder.record_step(run_id, StepResult(i, name, Outcome.PASS, iso(t + i), iso(t + i + 1),
                                                1.0, (Attempt(1, Outcome.PASS, 1.0, m),)))
    recorder.finish_run(run_id, Outcome.PASS, iso(t + 3), 3.0)
    conn = recorder.connection
    cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
    run_row = dict(zip(cols, conn.execute("SELECT * FROM runs").fetchone(), strict=True))
    payload_doc = json.loads(conn.execute("SELECT payload FROM outbox").fetchone()[0])
    created = conn.execute("SELECT created_utc FROM outbox").fetchone()[0]
    with write_transaction(conn):
        for i in range(1, n):
            rid = str(uuid.uuid4())
            serial = serials.format(i % 500)
            row = {**run_row, "run_id": rid, "seq": run_row["seq"] + i, "serial": serial}
            conn.execute(f"INSERT INTO runs ({','.join(cols)}) VALUES "
                         f"({','.join('?' * len(cols))})", [row[c] for c in cols])
            doc = {**payload_doc, "run_id": rid, "serial": serial, "retest": retest}
            payload = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
            conn.execute("INSERT INTO outbox (run_id, target, payload, created_utc, state, "
                         "attempts, next_attempt_at) VALUES (?, 'inventory', ?, ?, 'pending', "
                         "0, 0)", (rid, payload, created))
    recorder.close()


def server_reference(server: FakeServerProcess, payload: bytes, n: int) -> tuple[float, float]:
    """(handling rate inside the server, rate seen by a minimal keep-alive client)."""
    before = server.control("server-stats")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    doc = json.loads(payload)
    started = time.perf_counter()
    for _ in range(n):
        key = str(uuid.uuid4())
        body = json.dumps({**doc, "run_id": key}).encode()
        conn.request("POST", "/pibench/results", body, {
            "Content-Type": "application/json", "Idempotency-Key": key,
            "Authorization": f"Bearer {TOKEN}"})
        response = conn.getresponse()
        response.read()
        assert response.status == 201, response.status
    elapsed = time.perf_counter() - started
    conn.close()
    after = server.control("server-stats")
    handled = after["requests"] - before["requests"]
    return handled / (after["busy_s"] - before["busy_s"]), n / elapsed


class Timed:
    """Wraps the backend to time each HTTP exchange; the gaps between exchanges are pibench's
    own work (record the outcome, pick the next run, the worker loop)."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.needs_presend_mark = backend.needs_presend_mark
        self.spans: list[tuple[float, float]] = []

    def deliver(self, item, now, before_send):
        t = time.perf_counter()
        try:
            return self.backend.deliver(item, now, before_send)
        finally:
            self.spans.append((t, time.perf_counter()))

    def __getattr__(self, name):
        return getattr(self.backend, name)


def drain(db: Path, url: str) -> dict[str, float]:
    """Drain ``db``'s queue once; rates and per-result medians (steady state, no start-up)."""
    settings = from_options("generic", url, None, None, {"poll_s": 0.5})
    timed = Timed(make_backend(settings, TOKEN))
    worker = SyncWorker(db, settings, backend=timed)  # type: ignore[arg-type]
    conn = sqlite3.connect(db)
    (n,) = conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()
    conn.close()
    started = time.perf_counter()
    worker.run(until_idle=True)
    elapsed = time.perf_counter() - started
    conn = sqlite3.connect(db)
    (left,) = conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()
    conn.close()
    assert left == 0, f"{left} results not delivered"
    spans = timed.spans
    per_result = [b[0] - a[0] for a, b in itertools.pairwise(spans)]
    own = [b[0] - a[1] for a, b in itertools.pairwise(spans)]
    return {
        "n": n,
        "rate": n / elapsed,  # the whole drain, worker start-up included
        "ms": statistics.median(per_result) * 1000,
        "own_ms": statistics.median(own) * 1000,
        "first_ms": statistics.median(per_result[:1000]) * 1000,
        "last_ms": statistics.median(per_result[-1000:]) * 1000,
    }


INVENTREE_TOKEN = "inv-0123456789abcdef0123456789abcdef01234567-20270601"
# Per-request times of a real InvenTree 1.4 (dev server, SQLite, loopback), in ms.
REAL_LATENCY_MS = [
    {"method": "GET", "pattern": r"/api/stock/", "low_ms": 40, "high_ms": 70},  # find item
    {"method": "POST", "pattern": r"/api/stock/", "low_ms": 55, "high_ms": 80},  # create item
    {"method": "POST", "pattern": r"/api/stock/test/", "low_ms": 57, "high_ms": 150},  # bulk
    {"method": "PATCH", "pattern": r"/api/stock/\d+/", "low_ms": 64, "high_ms": 98},  # status
]
REFERENCE_REQUESTS, REFERENCE_S = 4, 0.21  # per run, against the real server, before issue 10
INVENTREE_RUNS = 30


def inventree_delivery(scratch: Path) -> list[str]:
    """Section 5 (see the module docstring); returns failures."""
    failures = []
    server = FakeServerProcess("inventree", scratch / "inventree.sqlite3").start()
    try:
        server.control("config", {"tokens": {INVENTREE_TOKEN: "valid"}})
        steps = ("Power rails", "Blink frequency", "Duty cycle")
        server.control("seed", {"parts": [{"name": "Blinker", "ipn": "ne555-blinker", "templates":
                                           [{"name": f"{s}: {m}"} for s in steps
                                            for m in ("vcc", "f")] + [{"name": "pibenchrun"}]}]})
        server.control("latency", REAL_LATENCY_MS)
        settings = from_options("inventree", server.base_url, None, None, {
            "run_template": "pibenchrun", "fail_status": "REJECTED", "pass_status": "OK"})
        print(f"\nInvenTree fake with the real server's latencies (server-side delays), "
              f"{INVENTREE_RUNS} runs of 3 steps x 2 measurements (7 results each):")
        print("  boards      runs/s   s/run   requests/run   results/run   reference (real "
              "server, one result per step)")
        for label, retest in (("new", False), ("retested", True)):
            db = scratch / f"inventree-{label}.sqlite3"
            fill_queue(db, INVENTREE_RUNS, serials="PBI-{:05d}", retest=retest)
            backend = make_backend(settings, INVENTREE_TOKEN)
            # Once per worker, not per run: the probe, the part and its templates.
            backend.probe(time.time())
            backend._template_map(backend._part_pk("ne555-blinker"))
            before = server.control("server-stats")["requests"]
            results_before = len(server.control("results"))
            worker = SyncWorker(db, settings, backend=backend)
            started = time.perf_counter()
            worker.run(until_idle=True)
            elapsed = time.perf_counter() - started
            requests = server.control("server-stats")["requests"] - before
            conn = sqlite3.connect(db)
            (done,) = conn.execute("SELECT count(*) FROM outbox WHERE state = 'delivered'"
                                   ).fetchone()
            conn.close()
            # The worker's start-up probe is one request for the whole drain, not per run.
            per_run = (requests - 1) / done
            results = (len(server.control("results")) - results_before) / max(1, done)
            print(f"  {label:9s} {done / elapsed:8.2f} {elapsed / done:7.3f} {per_run:14.2f}"
                  f" {results:13.1f}   {REFERENCE_REQUESTS} requests, {REFERENCE_S} s/run")
            if done != INVENTREE_RUNS:
                failures.append(f"InvenTree: {INVENTREE_RUNS - done} runs not delivered")
            if per_run > REFERENCE_REQUESTS:
                failures.append(f"InvenTree: {per_run:.2f} requests per run ({label} boards) "
                                f"where there were {REFERENCE_REQUESTS}")
            server.control("seed", {"parts": []})
    finally:
        server.stop()
    return failures


def main() -> int:
    if "--inventree-only" in sys.argv[1:]:
        scratch = Path(tempfile.mkdtemp(prefix="pibench-bench-sync-"))
        try:
            failures = inventree_delivery(scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        for f in failures:
            print(f"FAIL: {f}")
        return 1 if failures else 0
    scratch = Path(tempfile.mkdtemp(prefix="pibench-bench-sync-"))
    failures = []
    try:
        server = FakeServerProcess("generic", scratch / "server.sqlite3").start()
        server.control("config", {"tokens": {TOKEN: "valid"}})
        url = server.base_url + "/pibench/results"
        print("pibench sync benchmark: generic JSON backend, loopback fake server, one request in"
              " flight")

        sizes = (10, 1_000, 10_000)
        dbs = {}
        for n in sizes:
            dbs[n] = scratch / f"queue-{n}.sqlite3"
            fill_queue(dbs[n], n)
        sample = json.loads(sqlite3.connect(dbs[10]).execute(
            "SELECT payload FROM outbox LIMIT 1").fetchone()[0])
        payload = json.dumps(sample).encode()

        handling, raw_client = server_reference(server, payload, 3_000)
        print(f"server's own handling rate (time inside its handler): {handling:8.0f} req/s")
        print(f"minimal keep-alive client vs the same server:         {raw_client:8.0f} req/s"
              "   (the ceiling for one request in flight)")

        results = {n: drain(dbs[n], url) for n in sizes}
        big = results[10_000]
        print(f"\ndrain of 10 000 queued results:                         {big['rate']:8.0f} "
              f"results/s   ({big['rate'] / raw_client:.0%} of the minimal client's rate; goal "
              f">= {GOAL_PER_S})")
        print(f"pibench's own time per result (record, pick next):       {big['own_ms']:8.3f} ms"
              f"   (median; the rest is the HTTP exchange)")
        if big["rate"] < GOAL_PER_S:
            failures.append(f"drain rate {big['rate']:.0f}/s below the goal of {GOAL_PER_S}/s")

        print("\nper-result cost as the queue grows (medians, steady state; must not grow):")
        print("  queued   ms/result   pibench ms/result   whole drain results/s (incl. start-up)")
        for n in sizes:
            r = results[n]
            print(f"  {n:6d}   {r['ms']:9.3f}   {r['own_ms']:17.3f}   {r['rate']:9.0f}")
        print(f"  within the 10 000 drain: first 1 000 {big['first_ms']:.3f} ms/result, last "
              f"1 000 {big['last_ms']:.3f} ms/result (9 000 delivered rows behind them)")
        if big["own_ms"] > 3 * max(results[10]["own_ms"], 0.05):
            failures.append("pibench's per-result cost grows with the queue")

        # Probe rate while the server is down: 24 simulated hours, 1 000 runs queued.
        down_db = scratch / "down.sqlite3"
        fill_queue(down_db, 1_000)
        server.stop()
        clock = ManualClock()
        settings = from_options("generic", url, None, None, {})
        worker = SyncWorker(down_db, settings, clock=clock, rng=random.Random(1),
                            backend=make_backend(settings, TOKEN))
        t0 = clock.time()
        started = time.perf_counter()
        worker.run(stop_when=lambda: clock.time() > t0 + 24 * 3600)
        wall = time.perf_counter() - started
        conn = open_store(down_db)
        (spent,) = conn.execute("SELECT sum(attempts) FROM outbox").fetchone()
        conn.close()
        probes = worker.runner.probes
        print(f"\nserver down for 24 h (simulated, {wall:.1f} s of wall time), 1 000 results"
              " queued:")
        print(f"  probes: {probes} ({probes / 24:.1f} per hour, backoff cap 900 s, full jitter)")
        print(f"  delivery attempts spent on queued results: {spent}")
        if spent > 1:
            failures.append("queued results were attempted while the target was down")
        failures += inventree_delivery(scratch)
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
