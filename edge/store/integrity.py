"""Is the result database intact? A check for station start-up, ``pibench doctor`` and backups.

``PRAGMA quick_check`` reads every page (seconds on a Pi for years of results) and finds what a
power cut on a bad SD card or a full disk can do: torn pages, broken indexes, malformed records.
It does not compare index contents with tables (``integrity_check`` does, and is slower): that is
kept for a finished backup, whose copy must be perfect before it replaces anything.

When it runs: ``pibench station`` checks at every start (the service starts at every boot, so
after every power cut). ``pibench run``, a process per board, checks only when no owner has found
this file intact since the machine booted (:func:`checked_this_boot`, a stamp with the boot id)
or when the previous owner died without releasing its lock: a power cut always means a new boot,
and between those, what protects the file is SQLite's own design (WAL, every commit
``synchronous=FULL``: a crash leaves the last commit or the one before, never half of one) and
its checks of every page it reads, which fail a run on a damaged page rather than write past it.

The message of :class:`DamagedDatabaseError` is written for the person at the bench: what is
wrong, that nothing was changed, and what to do.
"""

import os
import sqlite3
from pathlib import Path

from drivers.named_tuple import NamedTuple
from edge.store.db import NotAResultStoreError, StoreError, open_store_read_only


class DamagedDatabaseError(StoreError):
    """The result database failed its integrity check."""


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class IntegrityReport(NamedTuple):
    """What an integrity check found in a database file."""

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


# Where an owner notes that it found the database intact: the machine's boot id and the file's
# identity. Not durable on purpose: lost, it only means one more check.
STAMP_NAME = "integrity-checked"
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _stamp_text(db: Path) -> str | None:
    """This boot and this database file, or None when either cannot be told (always check)."""
    try:
        # Bytes decoded, not read_text(): ASCII's decoder needs no codec lookup, which CPython
        # 3.13.0 fails (SystemError) in a process whose working directory was deleted.
        boot = _BOOT_ID.read_bytes().decode("ascii").strip()
        st = db.stat()
    except OSError:
        return None
    return f"{boot} {st.st_dev}:{st.st_ino}\n" if boot else None


def checked_this_boot(path: str | Path, stamp: Path) -> bool:
    """Whether an owner found this very database file intact since the machine last booted."""
    expected = _stamp_text(Path(path))
    try:
        return expected is not None and stamp.read_bytes().decode("ascii") == expected
    except (OSError, UnicodeDecodeError):
        return False


def note_checked(path: str | Path, stamp: Path) -> None:
    """Remember a passing check (best effort: a read-only or full disk just means more checks)."""
    text = _stamp_text(Path(path))
    if text is None:
        return
    try:
        fd = os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    except OSError:
        return
    try:
        os.write(fd, text.encode("ascii"))
    except OSError:
        pass
    finally:
        os.close(fd)


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
