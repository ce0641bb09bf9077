"""A real ``pibench run`` killed with SIGKILL at many random points, then restarted.

After every kill the next ``pibench run`` is the restart: it must find the interrupted run and
close it as ABORTED with the steps it had. At the end every run the database holds is complete
or ABORTED, every run a process announced is there exactly once, and each has exactly one
outbox row: nothing lost, nothing duplicated, nothing left RUNNING.

Real wall time is used here on purpose: the processes are real, and the kill points are spread
over the measured duration of a real run. No assertion depends on how long anything took.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.store import INTERRUPTED_ERROR

PRODUCT = "PowerBank-Foolish"
RUN_LINE = re.compile(r"^plan .* run ([0-9a-f-]{36})")  # the RunStarted line
KILLS = int(os.environ.get("PIBENCH_CRASH_KILLS", "16"))
RUN_PACE = 0.01  # real seconds per simulated second for the runs killed mid-run

pytestmark = pytest.mark.slow


def _start(data_dir: Path, serial: str, pace: float | None = None) -> subprocess.Popen:
    pacing = ["--sim-pace", str(pace)] if pace else []
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "--data-dir", str(data_dir), "--lang", "en",
         "run", "--product", PRODUCT, "--serial", serial, *pacing],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_for_run_id(proc: subprocess.Popen) -> str | None:
    """Read the child's output until it announces its run id (the run is durable by then)."""
    for line in proc.stdout:
        match = RUN_LINE.search(line)
        if match:
            return match.group(1)
    return None


def runs_outcomes(data: Path) -> list[str]:
    with sqlite3.connect(data / "results.sqlite3") as conn:
        return [r[0] for r in conn.execute("SELECT outcome FROM runs")]


def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path):
    data = tmp_path / "station"
    rng = random.Random(int(os.environ.get("PIBENCH_CRASH_SEED", "20261124")))

    # Two reference runs, unkilled, measure this machine. An instant one gives the process's
    # whole lifetime: kills spread over it land in imports, store opening, recovery of the
    # previous victim and the run. A simulated run is over in a few milliseconds, too short
    # to aim at from another process, so the kills meant for the run itself go to runs whose
    # simulated time also passes in real time (``--sim-pace``, ~0.3 s per board here), spread
    # over that run's measured length: from the announcement (run durable, steps about to
    # start) to the verdict. Both are measured, never assumed, so a faster machine (compiled
    # bytecode, an installed wheel) still kills live processes.
    spawned = time.monotonic()
    ref = _start(data, "PBF-900000")
    announced = [_wait_for_run_id(ref)]
    out, err = ref.communicate(timeout=120)
    lifetime = time.monotonic() - spawned
    assert ref.returncode == 0, f"reference run failed:\n{out}\n{err}"

    paced = _start(data, "PBF-900001", RUN_PACE)
    announced.append(_wait_for_run_id(paced))
    after_start = time.monotonic()
    for line in paced.stdout:
        if line.startswith("####"):
            break
    run_phase = time.monotonic() - after_start
    out, err = paced.communicate(timeout=120)
    assert paced.returncode == 0, f"paced reference run failed:\n{out}\n{err}"

    killed_mid_run = 0
    for i in range(KILLS):
        if i % 2:
            proc = _start(data, f"PBF-{i:06d}")
            time.sleep(rng.uniform(0, lifetime))
        else:
            proc = _start(data, f"PBF-{i:06d}", RUN_PACE)
            run_id = _wait_for_run_id(proc)
            if run_id:
                announced.append(run_id)
            time.sleep(rng.uniform(0, run_phase))
        # An exited child stays a zombie until waited for, so the kill cannot miss; a run that
        # finished first simply exits 0 below.
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        if proc.wait(timeout=30) == -signal.SIGKILL:
            killed_mid_run += 1
        proc.stdout.close()
        proc.stderr.close()

    # The restart: a normal run recovers whatever the last kill left behind.
    final = _start(data, "PBF-999999")
    announced.append(_wait_for_run_id(final))
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, f"restart run failed:\n{out}\n{err}"
    assert killed_mid_run >= KILLS // 2, "the kills did not land while processes were alive"
    aborted = [r for r in runs_outcomes(data) if r == "ABORTED"]
    assert aborted, "no kill landed inside a run: the test proved nothing about recovery"

    conn = sqlite3.connect(data / "results.sqlite3")
    runs = {r[0]: r[1:] for r in conn.execute("SELECT run_id, outcome, error, serial FROM runs")}
    for run_id in filter(None, announced):
        assert run_id in runs, f"run {run_id} was announced but is missing from the database"
    outcomes = {outcome for outcome, _, _ in runs.values()}
    assert outcomes <= {"PASS", "ABORTED"}, f"unexpected outcomes: {outcomes}"
    for run_id, (outcome, error, _) in runs.items():
        steps = [row[0] for row in conn.execute(
            "SELECT step_index FROM steps WHERE run_id = ? ORDER BY step_index", (run_id,))]
        assert steps == list(range(len(steps))), f"run {run_id} has a torn step list {steps}"
        if outcome == "ABORTED":
            assert error == INTERRUPTED_ERROR
    serials = [serial for _, _, serial in runs.values()]
    assert len(serials) == len(set(serials)), "a serial was recorded twice"
    outbox = [r[0] for r in conn.execute("SELECT run_id FROM outbox")]
    assert sorted(outbox) == sorted(runs), "every finished run has exactly one outbox row"
    assert runs[announced[0]][0] == "PASS" and runs[announced[-1]][0] == "PASS"
    # For the log (pytest -s): where the kills landed, as steps recorded per aborted run.
    torn = sorted(conn.execute(
        "SELECT COUNT(s.step_index) FROM runs r LEFT JOIN steps s USING (run_id) "
        "WHERE r.outcome = 'ABORTED' GROUP BY r.run_id").fetchall())
    print(f"\n{KILLS} kills: {len(runs)} runs, {len(torn)} aborted mid-run with "
          f"{[n for (n,) in torn]} steps recorded")
