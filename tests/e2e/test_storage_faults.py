"""Storage faults get their true cause (issue 9 §5), with real processes and real filesystems.

Read-only and full disks are real: a small tmpfs mounted for the test (remounted read-only,
or filled with a file). That needs root, as in CI; elsewhere these tests are skipped with the
reason. The garbage file and the lock held by another program need nothing special.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from procs import PRODUCT, Proc, pibench, run_id_of, stored_run

from edge.console import EXIT_CODES, EXIT_STORAGE
from edge.records import Outcome

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def tmpfs(where: Path, size: str):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                    str(where)], check=True, capture_output=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def remount(where: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], check=True,
                   capture_output=True)


def _clean_failure(done: subprocess.CompletedProcess, code: int) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_a_fresh_data_directory_on_a_read_only_filesystem(tmp_path):
    with tmpfs(tmp_path / "mnt", "4m") as mnt:
        remount(mnt, "ro")
        for argv in (("run", "--product", PRODUCT, "--serial", "PBF-000001"),
                     ("station", "--no-console")):
            err = _clean_failure(pibench(mnt / "fresh", *argv), EXIT_STORAGE)
            assert "read-only" in err


def test_a_healthy_database_on_a_read_only_filesystem_is_not_called_damaged(tmp_path):
    with tmpfs(tmp_path / "mnt", "72m") as mnt:  # a run needs 64 MiB free to start
        data = mnt / "station"
        assert pibench(data, "run", "--product", PRODUCT, "--serial", "PBF-000001").returncode == 0
        remount(mnt, "ro")
        err = _clean_failure(
            pibench(data, "run", "--product", PRODUCT, "--serial", "PBF-000002"), EXIT_STORAGE)
        assert "read-only" in err
        assert "damaged" not in err.replace("not damaged", "") and "move it aside" not in err
        history = pibench(data, "history")  # reading still works: nothing can change the file
        assert history.returncode == 0 and "PBF-000001" in history.stdout
        status = pibench(data, "sync", "status")  # the result waiting for the inventory is told
        assert status.returncode == 3 and "1 results kept" in status.stdout, status.stderr
        err = _clean_failure(pibench(data, "sync", "retry-parked"), EXIT_STORAGE)  # it writes
        assert "read-only" in err


def test_a_garbage_database_file_is_a_clean_error_and_is_left_as_it_was(tmp_path):
    data = tmp_path / "station"
    data.mkdir()
    garbage = os.urandom(8192)
    (data / "results.sqlite3").write_bytes(garbage)
    for argv in (("run", "--product", PRODUCT, "--serial", "PBF-000001"),
                 ("station", "--no-console"), ("history",), ("export",), ("sync", "status")):
        err = _clean_failure(pibench(data, *argv), EXIT_STORAGE)
        assert "not usable as a SQLite database" in err
    assert (data / "results.sqlite3").read_bytes() == garbage


def test_a_database_locked_mid_run_closes_the_run_with_that_cause(tmp_path):
    data = tmp_path / "station"
    proc = Proc(data, "run", "--product", PRODUCT, "--serial", "PBF-000001",
                "--sim-pace", "0.3")
    run_id = run_id_of(proc)
    proc.wait_for("PASS power on")  # emitted once that step is committed
    other = sqlite3.connect(data / "results.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        proc.wait_for("database locked", stream="err")  # the next step could not be stored
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert proc.finish() == EXIT_CODES[Outcome.ERROR], proc.text()
    outcome, error, steps = stored_run(data, run_id)
    assert outcome == "ERROR" and "database locked" in error, error
    assert [s[1] for s in steps] == ["fixture check", "power on", "power off"]
    assert "Traceback" not in proc.text()


def test_a_disk_full_mid_run_is_recorded_as_disk_full(tmp_path):
    # Room for the 64 MiB the station wants free before it starts a run, and a little more.
    with tmpfs(tmp_path / "mnt", "72m") as mnt:
        data = mnt / "station"
        proc = Proc(data, "run", "--product", PRODUCT, "--serial", "PBF-000001",
                    "--sim-pace", "0.3", verbose=True)
        run_id = run_id_of(proc)
        proc.wait_for("PASS power on")
        filler = mnt / "filler"
        _fill(filler)
        assert proc.finish() == EXIT_STORAGE, proc.text()
        # (-v logs tracebacks at DEBUG level for developers; the screen shows none)
        assert "disk is full" in "".join(proc.err) and "Traceback" not in "".join(proc.out)
        assert proc.err and any("simulated DUT power OFF" in line for line in proc.err)
        outcome, _, steps = stored_run(data, run_id)
        # A step is one small WAL frame (1 KiB pages): the first one or two after the disk
        # filled may still fit in a block the WAL already owns. Which write meets the full
        # disk varies; that every committed step stays, and the cause is disk full, does not.
        stored = [s[1] for s in steps]
        assert outcome == "RUNNING" and stored[:2] == ["fixture check", "power on"], stored

        filler.unlink()  # the technician frees space; the next start closes the run
        nxt = pibench(data, "run", "--product", PRODUCT, "--serial", "PBF-000002")
        assert nxt.returncode == 0, nxt.stderr
        outcome, error, steps = stored_run(data, run_id)
        assert outcome == "ABORTED" and "disk full" in error, error
        assert "crash or power loss" not in error
        assert [s[1] for s in steps] == stored  # nothing lost


def _fill(path: Path) -> None:
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 20, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC

