"""``pibench backup``: a verified copy of the result database, safe while the station runs.

SQLite's online backup API copies a consistent snapshot page by page; the station keeps
committing steps meanwhile (WAL: readers never block the writer). The copy is written under a
temporary name, checked, flushed to the medium, and only then renamed to its final name, so a
USB stick pulled out too early never holds a file that looks like a good backup and is not.

Checked after writing: ``PRAGMA integrity_check`` on the copy, its pibench identity and schema
version, and that it holds exactly the runs the source held up to the copy's newest run.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.store.db import StoreError, fsync_path, open_store_read_only
from edge.store.integrity import run_check
from edge.store.migrations import APPLICATION_ID

PAGES_PER_STEP = 256  # small steps: the station's writer never waits long for the copy
BACKUP_MODE = 0o640


class BackupError(StoreError):
    """The backup could not be written or did not verify; nothing was left under its name."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    runs: int
    size_bytes: int


def backup_name(station_id: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in station_id) or "station"
    return f"pibench-{safe}-{stamp}.sqlite3"


def _verify(copy: Path, source: sqlite3.Connection) -> int:
    conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        report = run_check(conn, copy, full=True)
        if not report.ok:
            raise BackupError(f"{copy}: the copy failed its integrity check: {report.problems[0]}")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise BackupError(f"{copy}: the copy is not a pibench result database")
        src_version = source.execute("PRAGMA user_version").fetchone()[0]
        if version != src_version:
            raise BackupError(f"{copy}: schema {version} in the copy, {src_version} in the source")
        count, top = conn.execute("SELECT count(*), coalesce(max(seq), -1) FROM runs").fetchone()
        # Runs finished after the snapshot may be in the source; runs up to it must all be here.
        src_count = source.execute("SELECT count(*) FROM runs WHERE seq <= ?", (top,)).fetchone()[0]
        if src_count != count:
            raise BackupError(f"{copy}: {count} runs in the copy, {src_count} in the source")
        return count
    finally:
        conn.close()


def backup_database(source: str | Path, dest: str | Path, *, station_id: str = "station",
                    now: datetime | None = None) -> BackupResult:
    """Copy the database at ``source`` to ``dest`` (a file, or a directory to put a dated file
    in), verify the copy, and return where it is. Never overwrites an existing file."""
    src_path = Path(source)
    target = Path(dest)
    if target.is_dir():
        target = target / backup_name(station_id, now)
    if target.exists():
        raise BackupError(f"{target} already exists: choose another name (nothing was written)")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such directory (is the USB stick mounted?)")
    partial = target.with_name(f".{target.name}.partial")
    src = open_store_read_only(src_path)
    try:
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, BACKUP_MODE)
            os.close(fd)
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst, pages=PAGES_PER_STEP)
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                dst.close()
            fsync_path(partial)
            runs = _verify(partial, src)
            os.replace(partial, target)
            fsync_path(target.parent)
        except (OSError, sqlite3.Error) as exc:
            raise BackupError(f"backup to {target} failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    return BackupResult(target, runs, target.stat().st_size)


def removable_mounts(mounts_file: str | Path = "/proc/mounts") -> list[Path]:
    """Mount points of removable media as desktop automounting puts them (/media/…,
    /run/media/…), where a technician's USB stick appears."""
    found = []
    for line in Path(mounts_file).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            point = parts[1].replace("\\040", " ")
            if point.startswith(("/media/", "/run/media/")):
                found.append(Path(point))
    return found


def usb_destination(mounts_file: str | Path = "/proc/mounts") -> Path:
    """The one mounted USB stick, or a :class:`BackupError` saying what to do."""
    mounts = removable_mounts(mounts_file)
    if not mounts:
        raise BackupError("no USB stick is mounted (under /media): plug one in, or give a path")
    if len(mounts) > 1:
        listed = ", ".join(str(m) for m in mounts)
        raise BackupError(f"several USB sticks are mounted ({listed}): give the path of one")
    return mounts[0]
