"""Chaos: the station's writer and the sync worker run as real processes and are SIGKILLed at
random points (PIBENCH_CHAOS_KILLS, default 100; raise it for a bench run), the worker also
killing itself between the server's commit and its own "delivered" mark. Afterwards the fake
server's own records show every finished run exactly once, in order per serial."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sync_helpers import inventree_runs_in_order, write_token

from edge.store import RunRecorder, recover_interrupted

HERE = Path(__file__).parent
KILLS = int(os.environ.get("PIBENCH_CHAOS_KILLS", "100"))
SELF_KILL_PROBABILITY = 0.15
# A safety net against a hung run, not a timing assertion: generous for a loaded 2-core CI box.
WALL_LIMIT_S = 60 + KILLS * 1.5


def pending(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM outbox WHERE state != 'delivered'").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.slow
def test_kill_writer_and_worker_at_random_points(inventree, db, workdir):
    rng = random.Random(int(os.environ.get("PIBENCH_CHAOS_SEED", "20260401")))
    token_file = write_token(workdir / "token")
    RunRecorder.open(db).close()  # create and migrate once, before two processes race to
    seeds = iter(range(1, 10**6))

    def start_writer() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(HERE / "chaos_writer.py"), str(db),
                                 str(next(seeds))])

    def start_worker(kill_probability: float = SELF_KILL_PROBABILITY) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(HERE / "chaos_worker.py"), str(db),
                                 inventree.base_url, str(token_file), str(kill_probability),
                                 str(next(seeds))])

    procs = {"writer": start_writer(), "worker": start_worker()}
    kills = {"writer": 0, "worker": 0, "worker-self (after commit, before mark)": 0}
    started = time.monotonic()
    try:
        while sum(kills.values()) < KILLS:
            assert time.monotonic() - started < WALL_LIMIT_S, f"chaos loop too slow: {kills}"
            time.sleep(rng.uniform(0.05, 0.6))  # real processes, real time: a random point
            if procs["worker"].poll() is not None:
                assert procs["worker"].returncode == -signal.SIGKILL, "worker died on its own"
                kills["worker-self (after commit, before mark)"] += 1
                procs["worker"] = start_worker()
                continue
            victim = rng.choice(["writer", "worker"])
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait()
            kills[victim] += 1
            procs[victim] = start_writer() if victim == "writer" else start_worker()
        procs["writer"].send_signal(signal.SIGKILL)
        procs["writer"].wait()
        # The station's next start closes what the last kill interrupted, then the sync drains.
        recorder = RunRecorder.open(db)
        recover_interrupted(recorder.connection, datetime.now(UTC))
        recorder.close()
        procs["worker"].send_signal(signal.SIGKILL)
        procs["worker"].wait()
        procs["worker"] = start_worker(kill_probability=0.0)
        while pending(db):
            assert time.monotonic() - started < WALL_LIMIT_S + 60, "final drain did not finish"
            assert procs["worker"].poll() is None
            time.sleep(0.1)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()

    print(f"\nchaos: {sum(kills.values())} kills {kills}")
    conn = sqlite3.connect(db)
    outbox = conn.execute(
        "SELECT o.run_id, r.serial FROM outbox o JOIN runs r USING (run_id) ORDER BY o.id"
    ).fetchall()
    conn.close()
    assert kills["worker-self (after commit, before mark)"] >= 1
    assert len(outbox) > 20, "the writer should have finished many runs between kills"

    counts = {m.rsplit(":", 1)[1]: c for m, c in inventree.control("marker-counts").items()}
    assert counts == {run_id: 1 for run_id, _ in outbox}, "each run on the server exactly once"
    want: dict[str, list[str]] = defaultdict(list)
    for run_id, serial in outbox:
        want[serial].append(run_id)
    got: dict[str, list[str]] = defaultdict(list)
    for serial, run_id in inventree_runs_in_order(inventree):
        got[serial].append(run_id)
    assert got == want, "per serial, the server stored runs in the order they finished"
