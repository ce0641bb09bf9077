"""Chaos: the station's writer and the sync worker run as real processes and are SIGKILLed at
random points (PIBENCH_CHAOS_KILLS, default 100; raise it for a bench run), the worker also
killing itself between the server's commit and its own "delivered" mark. Afterwards the fake
server's own records show every finished run exactly once, in order per serial.

"Afterwards" is when the design says the guarantee holds (docs/sync.md, "Exactly once"): no
request of a killed worker is still being handled by the server, nothing waits, and the watch for
late copies has ended for every run (the worker watches for ``LATE_COPY_WATCH_S``, see
chaos_worker.py). A run that gives InvenTree nothing by design (aborted before its first judged
step) must be delivered with nothing on the server.
"""

from __future__ import annotations

import json
import os
import random
import select
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
WRITER_SELF_KILL_PROBABILITY = 0.2
# Safety nets against a hung process, never timing assertions: each is how long one thing may
# take to happen at all (a process to say "ready" and be killed, the server to close dead
# clients' connections, the final drain), measured from when it became due. A limit on the
# whole loop's wall time would instead fail a loaded CI box that is merely slower at every kill.
PATIENCE_S = 120.0


JUDGED = {"PASS", "PASS-MARGINAL", "FAIL"}


def unsettled(db: Path) -> int:
    """Runs not delivered yet, or delivered and still watched for late copies."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM outbox WHERE state != 'delivered'"
                            " OR needs_reconcile = 1").fetchone()[0]
    finally:
        conn.close()


def results_expected(payload: str) -> int:
    """How many times the run must be on the server: 0 when it has nothing InvenTree gets
    (docs/sync.md, "What reaches InvenTree": an ABORTED run posts only the measurements of steps
    that judged the board, and no overall result), else 1. Written from the documented rule, not
    from the mapping code under test."""
    doc = json.loads(payload)
    if doc["outcome"] in JUDGED:  # the overall result on run_template
        return 1
    for step in doc["steps"]:
        attempts = step.get("attempts") or []
        if step["outcome"] in JUDGED and attempts and attempts[-1].get("measurements"):
            return 1
    return 0


def wait_for_server_quiet(server, deadline: float) -> None:
    """Every client is dead: wait until the server has closed all their connections, so no
    request they gave up on can still be stored after the count."""
    while server.control("server-stats")["other_open_connections"] > 0:
        assert time.monotonic() < deadline, "the fake server still holds dead clients' requests"
        time.sleep(0.05)


def bury(proc: subprocess.Popen) -> None:
    """Kill (if still alive), reap, and close the pipe of one of the test's processes."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def is_ready(proc: subprocess.Popen) -> bool:
    """Has the process said "ready" (its set-up done, its work begun)?"""
    if getattr(proc, "ready", False):
        return True
    assert proc.stdout is not None
    if select.select([proc.stdout], [], [], 0)[0] and proc.stdout.readline():
        proc.ready = True  # type: ignore[attr-defined]
    return getattr(proc, "ready", False)


def count_mismatch(db: Path, server, counts: dict[str, int], want: dict[str, int]) -> str:
    """Which runs are missing on the server or stored more than once, with their outbox rows and
    the server's results carrying their marker: enough to tell a lost result from a late copy."""
    missing = sorted(r for r, n in want.items() if counts.get(r, 0) < n)
    doubled = sorted(r for r, c in counts.items() if c > want.get(r, 1))
    unknown = sorted(set(counts) - set(want))
    lines = [f"each run on the server exactly once (nothing for a run with nothing to post): "
             f"{len(missing)} missing, {len(doubled)} stored too often, {len(unknown)} not in "
             "the outbox"]
    conn = sqlite3.connect(db)
    results = server.control("results")
    try:
        for label, ids in (("missing", missing), ("doubled", doubled), ("unknown", unknown)):
            for run_id in ids:
                row = conn.execute(
                    "SELECT o.id, r.serial, r.outcome, r.retest, o.state, o.attempts,"
                    " o.needs_reconcile, o.next_attempt_at, o.delivered_utc, o.remote_ref,"
                    " o.last_error_class, o.last_error,"
                    " (SELECT count(*) FROM steps s WHERE s.run_id = r.run_id)"
                    " FROM outbox o JOIN runs r USING (run_id) WHERE o.run_id = ?",
                    (run_id,)).fetchone()
                lines.append(f"  {label} {run_id} (server count {counts.get(run_id, 0)}): "
                             f"outbox {row}")
                lines += [f"    server result {r}" for r in results if run_id in r["notes"]]
    finally:
        conn.close()
    return "\n".join(lines)


@pytest.mark.slow
def test_kill_writer_and_worker_at_random_points(inventree, db, workdir):
    rng = random.Random(int(os.environ.get("PIBENCH_CHAOS_SEED", "20260401")))
    token_file = write_token(workdir / "token")
    RunRecorder.open(db).close()  # create and migrate once, before two processes race to
    seeds = iter(range(1, 10**6))

    writer_starts = iter(range(10**6))

    def start_writer() -> subprocess.Popen:
        # The first writer, then one start in five, kills itself between its first run's start
        # and that run's first step (decided per start, not per run: a per-run chance would
        # restart the writer in proportion to its throughput).
        die = next(writer_starts) == 0 or rng.random() < WRITER_SELF_KILL_PROBABILITY
        return subprocess.Popen([sys.executable, str(HERE / "chaos_writer.py"), str(db),
                                 str(next(seeds)), "1" if die else "0"], stdout=subprocess.PIPE)

    def start_worker(kill_probability: float = SELF_KILL_PROBABILITY) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(HERE / "chaos_worker.py"), str(db),
                                 inventree.base_url, str(token_file), str(kill_probability),
                                 str(next(seeds))], stdout=subprocess.PIPE)

    procs = {"writer": start_writer(), "worker": start_worker()}
    kills = {"writer": 0, "worker": 0, "worker-self (after commit, before mark)": 0,
             "writer-self (run begun, no step)": 0}
    last_kill = time.monotonic()
    try:
        while sum(kills.values()) < KILLS:
            assert time.monotonic() - last_kill < PATIENCE_S, f"no kill possible: {kills}"
            time.sleep(rng.uniform(0.05, 0.6))  # real processes, real time: a random point
            if procs["worker"].poll() is not None:
                assert procs["worker"].returncode == -signal.SIGKILL, "worker died on its own"
                kills["worker-self (after commit, before mark)"] += 1
                last_kill = time.monotonic()
                bury(procs["worker"])
                procs["worker"] = start_worker()
                continue
            if procs["writer"].poll() is not None:
                assert procs["writer"].returncode == -signal.SIGKILL, "writer died on its own"
                kills["writer-self (run begun, no step)"] += 1
                last_kill = time.monotonic()
                bury(procs["writer"])
                procs["writer"] = start_writer()
                continue
            victim = rng.choice(["writer", "worker"])
            if not is_ready(procs[victim]):
                # Still starting its interpreter: a kill there tests nothing, and on a loaded
                # box it would be most kills (the worker then never delivers between them).
                continue
            bury(procs[victim])
            kills[victim] += 1
            last_kill = time.monotonic()
            procs[victim] = start_writer() if victim == "writer" else start_worker()
        bury(procs["writer"])
        # The station's next start closes what the last kill interrupted, then the sync drains.
        recorder = RunRecorder.open(db)
        recover_interrupted(recorder.connection, datetime.now(UTC))
        recorder.close()
        bury(procs["worker"])
        wait_for_server_quiet(inventree, time.monotonic() + PATIENCE_S)
        procs["worker"] = start_worker(kill_probability=0.0)
        drain_deadline = time.monotonic() + PATIENCE_S
        while unsettled(db):
            assert time.monotonic() < drain_deadline, "final drain did not finish"
            assert procs["worker"].poll() is None
            time.sleep(0.1)
    finally:
        for proc in procs.values():
            bury(proc)

    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT o.run_id, r.serial, o.payload, o.last_error_class FROM outbox o"
        " JOIN runs r USING (run_id) ORDER BY o.id").fetchall()
    conn.close()
    expected = {run_id: results_expected(payload) for run_id, _, payload, _ in rows}
    removed = sum(1 for *_, notice in rows if notice == "late-copy-removed")
    print(f"\nchaos: {sum(kills.values())} kills {kills}; {len(rows)} runs, "
          f"{sum(1 for n in expected.values() if not n)} with nothing to post, "
          f"{removed} with late copies removed")
    assert kills["worker-self (after commit, before mark)"] >= 1
    assert kills["writer-self (run begun, no step)"] >= 1
    assert 0 in expected.values(), "a run with nothing to post should have been written"
    assert len(rows) > 20, "the writer should have finished many runs between kills"

    server = {m.rsplit(":", 1)[1]: c for m, c in inventree.control("marker-counts").items()}
    counts = {run_id: server.get(run_id, 0) for run_id in expected} | server
    assert counts == expected, count_mismatch(db, inventree, counts, expected)
    want: dict[str, list[str]] = defaultdict(list)
    for run_id, serial, _, _ in rows:
        if expected[run_id]:
            want[serial].append(run_id)
    got: dict[str, list[str]] = defaultdict(list)
    for serial, run_id in inventree_runs_in_order(inventree):
        got[serial].append(run_id)
    assert got == want, "per serial, the server stored runs in the order they finished"
