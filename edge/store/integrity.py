"""Is the result database intact? A check for station start-up, ``pibench doctor`` and backups.

``PRAGMA quick_check`` reads every page (seconds on a Pi for years of results) and finds what a
power cut on a bad SD card or a full disk can do: torn pages, broken indexes, malformed records.
It does not compare index contents with tables (``integrity_check`` does, and is slower): that is
kept for a finished backup, whose copy must be perfect before it replaces anything.

The message of :class:`DamagedDatabaseError` is written for the person at the bench: what is
wrong, that nothing was changed, and what to do.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from edge.store.db import NotAResultStoreError, StoreError, open_store_read_only


class DamagedDatabaseError(StoreError):
    """The result database failed its integrity check."""


@dataclass(frozen=True)
class IntegrityReport:
    path: Path
    problems: tuple[str, ...]  # empty when intact

    @property
    def ok(self) -> bool:
        return not self.problems

    def message(self) -> str:
        if self.ok:
            return f"{self.path}: intact"
        shown = "; ".join(" ".join(p.split()) for p in self.problems[:3])
        more = f" (and {len(self.problems) - 3} more)" if len(self.problems) > 3 else ""
        return (
            f"the result database {self.path} is damaged: {shown}{more}. Nothing was changed. "
            "Stop the station, keep this file (results may be recoverable): copy it with its "
            "-wal file to a USB stick, then restore the latest backup in its place "
            "(docs/guide-installateur.md, 'Sauvegardes'), or recover what can be read with: "
            "sqlite3 damaged.sqlite3 .recover | sqlite3 recovered.sqlite3"
        )


def run_check(conn: sqlite3.Connection, path: Path, *, full: bool = False) -> IntegrityReport:
    pragma = "integrity_check" if full else "quick_check"
    try:
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}")]
    except sqlite3.DatabaseError as exc:
        return IntegrityReport(path, (str(exc),))
    return IntegrityReport(path, () if rows == ["ok"] else tuple(rows))


def check_database(path: str | Path, *, full: bool = False) -> IntegrityReport:
    """Check the database at ``path`` through a read-only connection (safe beside the station)."""
    db = Path(path)
    try:
        conn = open_store_read_only(db)
    except NotAResultStoreError as exc:
        return IntegrityReport(db, (str(exc),))
    try:
        return run_check(conn, db, full=full)
    finally:
        conn.close()


def verify_at_startup(path: str | Path) -> None:
    """For station start: nothing when the file is new or intact, else a clear error.

    Call before the station opens the database for writing, so a damaged file is reported as
    damaged instead of failing later in the middle of a run.
    """
    db = Path(path)
    if not db.exists() or db.stat().st_size == 0:
        return
    conn = open_store_read_only(db)  # a foreign or garbage file raises NotAResultStoreError as is
    try:
        report = run_check(conn, db)
    finally:
        conn.close()
    if not report.ok:
        raise DamagedDatabaseError(report.message())
