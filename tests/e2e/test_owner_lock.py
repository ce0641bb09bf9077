"""One owner per station (issue 9 §1), with real processes.

A run paused (SIGSTOP) mid-test keeps its station: a second `pibench run` is refused at once,
touching nothing, and the first then finishes normally. A station started twice is refused the
same way. Read-only commands work beside the owner. The kernel releases the lock of a process
killed with SIGKILL, and the next owner recovers its run.
"""

from __future__ import annotations

import json
import signal

import pytest
from procs import PRODUCT, Proc, all_runs, pibench, run_id_of, stored_run

from edge.console import EXIT_BUSY
from edge.owner import OwnerLock, StationBusyError, read_owner
from edge.store import INTERRUPTED_ERROR

pytestmark = pytest.mark.slow


def _run(data, serial, pace, **kw) -> Proc:
    return Proc(data, "run", "--product", PRODUCT, "--serial", serial, "--sim-pace", str(pace),
                **kw)


def test_a_second_run_is_refused_while_the_first_is_paused_and_the_first_completes(tmp_path):
    data = tmp_path / "station"
    first = _run(data, "PBF-000001", pace=0.3)
    run_id = run_id_of(first)
    first.wait_for("PASS power on")
    first.signal(signal.SIGSTOP)  # the board is powered; its process is frozen
    try:
        before = all_runs(data)
        assert (run_id, "RUNNING") in before
        _, _, steps_before = stored_run(data, run_id)

        second = pibench(data, "run", "--product", PRODUCT, "--serial", "PBF-000002")
        assert second.returncode == EXIT_BUSY, second.stderr
        assert f"this station is already running as PID {first.pid} since" in second.stderr
        assert "pibench run" in second.stderr
        assert "Traceback" not in second.stderr
        # Nothing touched: no recovery of the live run, no new run, no new step.
        assert all_runs(data) == before
        assert stored_run(data, run_id)[2] == steps_before
        french = pibench(data, "run", "--product", PRODUCT, "--serial", "PBF-000002",
                         lang="fr")
        assert french.returncode == EXIT_BUSY
        assert f"cette station est déjà en service : PID {first.pid} depuis" in french.stderr
    finally:
        first.signal(signal.SIGCONT)
    assert first.finish() == 0, first.text()
    outcome, error, steps = stored_run(data, run_id)
    assert outcome == "PASS" and error is None
    assert [s[0] for s in steps] == [0, 1, 2, 3, 4]
    assert read_owner(data) is None  # released on the way out


def test_a_station_started_twice_is_refused_and_readers_work_beside_it(tmp_path):
    data = tmp_path / "station"
    seed = pibench(data, "run", "--product", PRODUCT, "--serial", "PBF-000010")
    assert seed.returncode == 0, seed.stderr
    station = Proc(data, "station", "--no-console")
    # Its API is up and in its owner record once it says where: a run started before that is
    # refused as busy instead of handed over (seen with the advertisement delayed by 1 s).
    station.wait_for("api: ")
    try:
        again = pibench(data, "station", "--no-console")
        assert again.returncode == EXIT_BUSY
        assert f"already running as PID {station.pid}" in again.stderr
        assert "pibench station" in again.stderr and "Traceback" not in again.stderr
        # A run beside the station is handed to it through its API (tests/api covers that
        # path); the station, not this process, tests the board.
        run = pibench(data, "run", "--product", PRODUCT, "--serial", "PBF-000011")
        assert run.returncode == 0 and "handed to it" in run.stderr, run.stderr
        assert "Traceback" not in run.stderr

        history = pibench(data, "history")
        assert history.returncode == 0 and "PBF-000010" in history.stdout
        export = pibench(data, "export", "--format", "json")
        assert export.returncode == 0 and json.loads(export.stdout)[0]["serial"] == "PBF-000010"
        status = pibench(data, "sync", "status")
        assert status.returncode != EXIT_BUSY and "queue depth" in status.stdout

        owner = read_owner(data)
        assert owner is not None and owner.pid == station.pid
        assert owner.command == "pibench station"
        assert owner.api is not None and owner.api.startswith("http://127.0.0.1:")  # its API
    finally:
        station.signal(signal.SIGTERM)
    assert station.finish() == 0, station.text()
    assert read_owner(data) is None
    assert [outcome for _, outcome in all_runs(data)] == ["PASS", "PASS"]


def test_the_kernel_releases_the_lock_of_a_killed_owner_and_the_next_start_recovers(tmp_path):
    data = tmp_path / "station"
    victim = _run(data, "PBF-000020", pace=1.0)
    run_id = run_id_of(victim)
    victim.wait_for("PASS power on")
    victim.signal(signal.SIGKILL)
    assert victim.finish() == -signal.SIGKILL
    assert stored_run(data, run_id)[0] == "RUNNING"
    assert read_owner(data) is None  # no stale lock: its holder is gone

    nxt = pibench(data, "run", "--product", PRODUCT, "--serial", "PBF-000021")
    assert nxt.returncode == 0, nxt.stderr
    assert f"run {run_id} was interrupted earlier" in nxt.stdout
    outcome, error, _ = stored_run(data, run_id)
    assert outcome == "ABORTED" and error == INTERRUPTED_ERROR


def test_the_lock_record_has_room_for_the_api_address(tmp_path):
    """The extension point the local API builds on: the owner advertises its address, a
    would-be second owner reads it (and could hand its run over instead of refusing)."""
    lock = OwnerLock(tmp_path)
    lock.acquire("pibench station")
    try:
        lock.advertise(api="http://127.0.0.1:8750")
        other = OwnerLock(tmp_path)
        with pytest.raises(StationBusyError) as refused:
            other.acquire("pibench run")
        assert refused.value.owner.api == "http://127.0.0.1:8750"
        assert refused.value.owner.command == "pibench station"
    finally:
        lock.release()
    assert read_owner(tmp_path) is None
    other.acquire("pibench run")  # free again
    other.release()
