"""SIGKILL a process that is writing runs, at random points, again and again on the same store.

After each kill the station's start-up recovery runs, and then every run on record must be
complete (finished with its outbox row) or ABORTED with an intact prefix of its steps; and every
write the child saw return (it prints an acknowledgement after each call) must be there.

This file is also the child: ``python test_store_crash.py <db> <seed>``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from edge.records import Attempt, Limits, Measurement, Outcome, RunMeta, StepResult

# The child starts 0.3 s faster without importing pytest: over 20 kills that is 6 s.
if __name__ == "__main__":

    def slow(test):
        return test
else:
    import pytest

    slow = pytest.mark.slow

KILLS = 20
# Up to about one run of acknowledgements (begun, 0-8 steps, finished) before the kill's delay.
ACKS_BEFORE_KILL = 10
REPO_ROOT = Path(__file__).resolve().parents[2]


def expected_step(index: int) -> StepResult:
    """What the child records as step ``index`` of every run: the parent rebuilds it to compare."""
    measurements = tuple(
        Measurement(f"m{k}", index + k / 8, Limits(0, 100, "V"), Outcome.PASS) for k in range(4)
    )
    return StepResult(
        index, f"step {index}", Outcome.PASS, f"2026-03-14T09:00:{index:02d}Z",
        f"2026-03-14T09:00:{index:02d}.5Z", 0.5, (Attempt(1, Outcome.PASS, 0.5, measurements),),
    )


def record_run(recorder, rng: random.Random, serial: str) -> None:
    """One run of 0-8 steps, each write acknowledged on stdout once it returned."""
    run_id = str(uuid.uuid4())
    steps = rng.randint(0, 8)
    recorder.begin_run(RunMeta(
        run_id, serial, "crash-test", "A", "plan", "1", "0" * 64, "st", "fx", "0",
        "2026-03-14T09:00:00Z", True, extra={"steps": steps},
    ))
    print(f"begun {run_id}", flush=True)
    for index in range(steps):
        recorder.record_step(run_id, expected_step(index))
        print(f"step {run_id} {index}", flush=True)
    recorder.finish_run(run_id, Outcome.PASS, "2026-03-14T09:01:00Z", 60.0)
    print(f"finished {run_id}", flush=True)


def child(db: str, seed: int) -> None:
    from edge.store import RunRecorder

    rng = random.Random(seed)
    recorder = RunRecorder.open(db)
    # As a station does before its first board: the steps below overwrite the WAL in place,
    # over frames of a rolled-back transaction that recovery must never take for data.
    recorder.reserve_wal_room()
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        record_run(recorder, rng, f"C-{seed}-{n}")


def child_reserving(db: str, seed: int) -> None:
    """Runs between reservations of a WAL room far larger than a station's, to be killed while
    SQLite spills it into the WAL."""
    from edge.store import RunRecorder
    from edge.store.wal_room import reserve_wal_room

    rng = random.Random(seed)
    recorder = RunRecorder.open(db)
    for n in range(1_000_000):
        record_run(recorder, rng, f"R-{seed}-{n}")
        print("reserving", flush=True)
        reserve_wal_room(recorder.connection, frames=20_000 * (n + 1))  # each one writes


def acknowledged(stdout: str) -> tuple[set[str], set[tuple[str, int]], set[str]]:
    begun, steps, finished = set(), set(), set()
    for line in stdout.splitlines(keepends=True):
        if not line.endswith("\n"):
            continue  # cut off by the kill: not an acknowledgement
        word, *rest = line.split()
        if word == "begun":
            begun.add(rest[0])
        elif word == "step":
            steps.add((rest[0], int(rest[1])))
        elif word == "finished":
            finished.add(rest[0])
    return begun, steps, finished


def check_store(db: Path, begun: set[str], steps: set[tuple[str, int]], finished: set[str]):
    from edge.store import INTERRUPTED_ERROR, load_run, open_store, recover_interrupted
    from edge.store.payload import payload_text

    conn = open_store(db)
    try:
        recover_interrupted(conn, "2026-03-14T12:00:00Z")
        outbox = dict(conn.execute("SELECT run_id, payload FROM outbox").fetchall())
        run_ids = [r for (r,) in conn.execute("SELECT run_id FROM runs")]
        assert begun <= set(run_ids), "a run whose begin_run returned is missing"
        for run_id in run_ids:
            record = load_run(conn, run_id)
            assert record.outcome in (Outcome.PASS, Outcome.ABORTED), record.outcome
            assert [s.index for s in record.steps] == list(range(len(record.steps)))
            assert all(s == expected_step(s.index) for s in record.steps)
            assert outbox.get(run_id) == payload_text(record), "outbox row missing or stale"
            if record.outcome is Outcome.PASS:
                assert len(record.steps) == record.meta.extra["steps"]
            else:
                assert record.error == INTERRUPTED_ERROR
                assert run_id not in finished, "an acknowledged finish was lost"
        for run_id, index in steps:
            assert any(s.index == index for s in load_run(conn, run_id).steps), (
                f"acknowledged step {index} of {run_id} was lost"
            )
        assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == len(run_ids)
        return len(run_ids)
    finally:
        conn.close()


@slow
def test_sigkill_at_random_points_never_loses_or_tears_a_run(tmp_path):
    db = tmp_path / "results.sqlite3"
    seed = int.from_bytes(os.urandom(4), "big")
    print(f"kill points drawn with random.Random({seed})")  # (shown with a failure: replayable)
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    all_begun: set[str] = set()
    all_steps: set[tuple[str, int]] = set()
    all_finished: set[str] = set()
    for kill in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, __file__, str(db), str(kill)],
            stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT, env=env,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        # The kill point is counted in the child's own acknowledged writes, then a random time
        # on: a time alone assumed this machine's commits, and where each fsync takes a few
        # milliseconds (a CI disk) most kills landed before the first run was even begun.
        seen = "".join(proc.stdout.readline() for _ in range(rng.randint(0, ACKS_BEFORE_KILL)))
        time.sleep(rng.uniform(0, 0.08))
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        begun, steps, finished = acknowledged(seen + rest)
        all_begun |= begun
        all_steps |= steps
        all_finished |= finished
        check_store(db, all_begun, all_steps, all_finished)
    assert len(all_begun) >= KILLS // 2  # the kills really landed while runs were being written


@slow
def test_sigkill_while_the_wal_room_is_being_written_loses_nothing(tmp_path):
    db = tmp_path / "results.sqlite3"
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    all_begun: set[str] = set()
    all_steps: set[tuple[str, int]] = set()
    all_finished: set[str] = set()
    for kill in range(4):
        proc = subprocess.Popen(
            [sys.executable, __file__, str(db), str(kill), "reserving"],
            stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT, env=env,
        )
        assert proc.stdout is not None
        seen = ""
        while not seen.endswith("reserving\n"):
            line = proc.stdout.readline()
            assert line, "the child ended before reserving"
            seen += line
        time.sleep(rng.uniform(0, 0.02))  # a reservation here takes tens of ms
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=60)
        begun, steps, finished = acknowledged(seen + rest)
        all_begun |= begun
        all_steps |= steps
        all_finished |= finished
        check_store(db, all_begun, all_steps, all_finished)
    from edge.store import open_store

    conn = open_store(db, integrity_check=True)  # raises if the file is damaged
    try:
        names = {name for (name,) in conn.execute("SELECT name FROM sqlite_schema")}
        assert "pibench_wal_room" not in names
    finally:
        conn.close()


if __name__ == "__main__":
    if sys.argv[3:] == ["reserving"]:
        child_reserving(sys.argv[1], int(sys.argv[2]))
    else:
        child(sys.argv[1], int(sys.argv[2]))
