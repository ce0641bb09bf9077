"""Results database care: verified backups, retention of delivered runs only, the start-up
integrity check, and read-only access for technicians. Real SQLite files throughout."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from edge.cli import main
from edge.records import Outcome
from edge.store import NotAResultStoreError, open_store
from edge.store.backup import BackupError, backup_database, usb_destination
from edge.store.db import open_store_read_only as open_readonly
from edge.store.integrity import DamagedDatabaseError, check_database, verify_at_startup
from edge.store.migrations import STEP_KEY_SPAN
from edge.store.retention import apply_retention


def finished_run(recorder, make_meta, make_step, day: int, serial: str = "PB-000123") -> str:
    meta = make_meta(serial=serial, started_utc=f"2026-03-{day:02d}T09:00:00+00:00")
    recorder.begin_run(meta)
    recorder.record_step(meta.run_id, make_step(0))
    recorder.finish_run(meta.run_id, Outcome.PASS, f"2026-03-{day:02d}T09:01:00Z", 60.0)
    return meta.run_id


def deliver(conn: sqlite3.Connection, run_id: str) -> None:
    """Mark delivered the way the sync does (edge/sync/outbox.py: mark_delivered)."""
    conn.execute("UPDATE outbox SET state = 'delivered', delivered_utc = '2026-03-20T00:00:00Z'"
                 " WHERE run_id = ?", (run_id,))


def run_ids(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT run_id FROM runs ORDER BY seq")]


# -- backup -----------------------------------------------------------------------------------
def test_backup_is_a_verified_copy_with_every_run(
    tmp_path: Path, db_path: Path, recorder, make_meta, make_step, store
) -> None:
    ids = [finished_run(recorder, make_meta, make_step, d) for d in (1, 2, 3)]
    stick = tmp_path / "stick"
    stick.mkdir()
    result = backup_database(db_path, stick, station_id="bench 1")
    assert result.path.parent == stick and result.path.name.startswith("pibench-bench_1-")
    assert result.runs == 3
    assert oct(result.path.stat().st_mode & 0o777) == oct(0o640)
    copy = open_store(result.path)
    assert run_ids(copy) == ids
    copy.close()
    assert list(stick.iterdir()) == [result.path]  # no partial file left behind
    with pytest.raises(BackupError, match="already exists"):
        backup_database(db_path, result.path)


def test_backup_while_the_station_holds_an_open_run(
    tmp_path: Path, db_path: Path, recorder, make_meta, make_step
) -> None:
    finished_run(recorder, make_meta, make_step, 1)
    live = make_meta(serial="PB-000999")
    recorder.begin_run(live)
    recorder.record_step(live.run_id, make_step(0))
    result = backup_database(db_path, tmp_path / "copy.sqlite3")
    assert result.runs == 2  # the running run is in the copy as RUNNING, as in the source
    recorder.finish_run(live.run_id, Outcome.PASS, "2026-03-14T09:02:00Z", 1.0)


def test_backup_to_a_missing_stick_or_folder_says_so(db_path: Path, store, tmp_path) -> None:
    with pytest.raises(BackupError, match="is the USB stick mounted"):
        backup_database(db_path, tmp_path / "gone" / "x.sqlite3")
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/mmcblk0p2 / ext4 rw 0 0\n")
    with pytest.raises(BackupError, match="no USB stick"):
        usb_destination(mounts)
    mounts.write_text("/dev/sda1 /media/tech/KEY\\040ONE vfat rw 0 0\n")
    assert usb_destination(mounts) == Path("/media/tech/KEY ONE")
    mounts.write_text("/dev/sda1 /media/a vfat rw 0 0\n/dev/sdb1 /media/b vfat rw 0 0\n")
    with pytest.raises(BackupError, match="several USB sticks"):
        usb_destination(mounts)


def test_backup_cli(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert main(["run", "--data-dir", str(data), "--product", "PowerBank-Foolish",
                 "--serial", "PBF-000001"], out=io.StringIO()) == 0
    out = io.StringIO()
    assert main(["backup", "--data-dir", str(data), str(tmp_path)], out=out) == 0
    assert "1 run(s) backed up and verified" in out.getvalue()


# -- retention ----------------------------------------------------------------------------------
def test_retention_deletes_only_delivered_runs(
    store, recorder, make_meta, make_step
) -> None:
    old_delivered = finished_run(recorder, make_meta, make_step, 1)
    old_pending = finished_run(recorder, make_meta, make_step, 2)
    old_parked = finished_run(recorder, make_meta, make_step, 3)
    new_delivered = finished_run(recorder, make_meta, make_step, 20)
    for run_id in (old_delivered, new_delivered):
        deliver(store, run_id)
    store.execute("UPDATE outbox SET state = 'parked' WHERE run_id = ?", (old_parked,))
    cutoff = 1773446400.0  # 2026-03-14T00:00:00Z

    preview = apply_retention(store, older_than_epoch=cutoff, dry_run=True)
    assert preview.deleted == (old_delivered,) and preview.kept_undelivered == 2
    assert len(run_ids(store)) == 4

    done = apply_retention(store, older_than_epoch=cutoff)
    assert done.deleted == (old_delivered,)
    assert run_ids(store) == [old_pending, old_parked, new_delivered]
    for table in ("steps", "outbox"):  # steps: the view over step_results (schema 3)
        left = store.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?",
                             (old_delivered,)).fetchone()[0]
        assert left == 0, table
    # No orphan step rows: every step_results row belongs to a run that is still there.
    orphans = store.execute(
        "SELECT count(*) FROM step_results s WHERE NOT EXISTS (SELECT 1 FROM runs r"
        " WHERE s.id >= r.seq * ? AND s.id < (r.seq + 1) * ?)",
        (STEP_KEY_SPAN, STEP_KEY_SPAN)).fetchone()[0]
    assert orphans == 0
    kept = store.execute("SELECT count(*) FROM steps WHERE run_id = ?",
                         (new_delivered,)).fetchone()[0]
    assert kept > 0  # the range delete reached only the doomed run


def test_retention_by_count_keeps_the_newest_and_never_a_running_run(
    store, recorder, make_meta, make_step
) -> None:
    ids = [finished_run(recorder, make_meta, make_step, d) for d in (1, 2, 3, 4)]
    for run_id in ids:
        deliver(store, run_id)
    live = make_meta(serial="PB-000999", started_utc="2026-03-01T08:00:00+00:00")
    recorder.begin_run(live)
    result = apply_retention(store, keep_last=3)
    # The running run is the newest (highest seq) and is kept; of the rest the two oldest go.
    assert result.deleted == tuple(ids[:2])
    assert run_ids(store) == [*ids[2:], live.run_id]


def test_retention_cli_is_a_preview_unless_applied(tmp_path: Path) -> None:
    data = tmp_path / "data"
    main(["run", "--data-dir", str(data), "--product", "PowerBank-Foolish",
          "--serial", "PBF-000001"], out=io.StringIO())
    out = io.StringIO()
    assert main(["retention", "--data-dir", str(data), "--keep-last", "0"], out=out) == 0
    assert "0 delivered run(s) would delete" in out.getvalue()
    assert "1 older run(s) kept: not delivered" in out.getvalue()


# -- integrity ----------------------------------------------------------------------------------
def test_integrity_check_finds_a_torn_page_and_says_what_to_do(
    db_path: Path, recorder, make_meta, make_step, store
) -> None:
    for d in range(1, 30):
        finished_run(recorder, make_meta, make_step, d % 28 + 1)
    store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert check_database(db_path).ok
    verify_at_startup(db_path)  # intact: nothing raised
    store.close()
    page = 4096
    with open(db_path, "r+b") as f:  # overwrite one interior page with garbage
        f.seek(page * 3)
        f.write(b"\x0d" + os.urandom(page - 1))
    report = check_database(db_path)
    assert not report.ok
    with pytest.raises(DamagedDatabaseError, match=r"is damaged.*Nothing was changed"):
        verify_at_startup(db_path)


def test_startup_check_passes_a_new_file_and_names_a_foreign_one(tmp_path: Path) -> None:
    verify_at_startup(tmp_path / "none.sqlite3")
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)")
    with pytest.raises(NotAResultStoreError, match="not a pibench result"):
        verify_at_startup(other)


# -- read-only access (a technician in the pibench group) ----------------------------------------
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_group_member_reads_history_while_the_station_runs_and_while_it_is_stopped(
    tmp_path: Path,
) -> None:
    # Under /tmp directly: pytest's own temporary folders are private to root.
    base = Path(tempfile.mkdtemp(prefix="pibench-ro-", dir="/tmp"))
    base.chmod(0o755)
    data = base / "data"
    assert main(["run", "--data-dir", str(data), "--product", "PowerBank-Foolish",
                 "--serial", "PBF-000001"], out=io.StringIO()) == 0
    os.chown(data, 0, 65534)
    data.chmod(0o750)
    for f in data.iterdir():
        os.chown(f, 0, 65534)
        f.chmod(0o640)
    reader = ("import sys; from edge.store.db import open_store_read_only as open_readonly; "
              "c = open_readonly(sys.argv[1]); "
              "print(c.execute('SELECT count(*) FROM runs').fetchone()[0])")
    as_group_member = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                       sys.executable, "-c", reader, str(data / "results.sqlite3")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    writer = open_store(data / "results.sqlite3")  # the station's connection: -wal/-shm exist
    try:
        for f in data.iterdir():
            os.chown(f, 0, 65534)
            f.chmod(0o640)
        r = subprocess.run(as_group_member, capture_output=True, text=True, env=env)
        assert r.stdout.strip() == "1", r.stderr
    finally:
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        writer.close()
    # The station stopped cleanly: SQLite removes -wal and -shm (done here in case another
    # handle of this process kept them), and a reader may not create them.
    for leftover in ("results.sqlite3-wal", "results.sqlite3-shm"):
        (data / leftover).unlink(missing_ok=True)
    r = subprocess.run(as_group_member, capture_output=True, text=True, env=env)
    history = subprocess.run([*as_group_member[:4], sys.executable, "-m", "edge.cli", "history",
                              "--data-dir", str(data)], capture_output=True, text=True, env=env)
    shutil.rmtree(base)
    assert r.stdout.strip() == "1", r.stderr
    assert "PBF-000001" in history.stdout, history.stderr


def test_open_readonly_refuses_what_is_not_ours(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_readonly(tmp_path / "missing.sqlite3")
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(NotAResultStoreError):
        open_readonly(junk)
