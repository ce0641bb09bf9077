"""Opening the result database: durable settings, a schema we know, clear errors otherwise.

Settings every connection gets, and why:

* ``journal_mode=WAL``: readers (HMI, local API, sync) never block the engine's step commits.
* ``synchronous=FULL``: each commit fsyncs the WAL before returning. With ``NORMAL`` a power cut
  may roll back the last commits, that is, lose steps the operator already saw; not acceptable.
* ``foreign_keys=ON``: a step can never point at a run that does not exist.
* ``page_size`` (new files only; a page size is fixed once a WAL file has data): one
  durable step is one page appended to the WAL, and a WAL frame is a 24-byte header plus the
  page, so with 4096-byte pages every frame straddles two 4 KiB blocks of the card (8 KiB
  written per step); a 1024-byte page rewrites one block, sometimes two (issue 14, bench/).
* ``wal_autocheckpoint``: a checkpoint copies the WAL's pages into the database file (and
  fsyncs it). The recorder turns it off while a run is recording and back on for the commit
  that finishes the run, so it never delays a step; every page changed by several runs is
  copied once per checkpoint, so checkpointing every few runs rather than every run writes less.
* ``journal_size_limit``: after a checkpoint the WAL is overwritten from its start in place, so
  a durable commit rewrites blocks the file already owns (no block allocation, no filesystem
  journal commit on each fdatasync). The limit only trims a WAL that some huge transaction grew
  far beyond its usual size. A station gives the WAL that size before its first board
  (:mod:`edge.store.wal_room`), rather than letting its first ~18 boards grow it.
* ``cache_size``: SQLite keeps up to this much of the file in each connection's memory; its
  default (2 MB) fills as the database grows, and the station holds several connections (engine,
  sync, readers). A step touches a handful of pages, so 256 KiB each is plenty (issue 14: the
  station stays under 40 MiB after thousands of runs).
* ``busy_timeout``: a writer waits for another writer (the sync marking a row delivered) instead
  of failing a step commit with "database is locked".

Transactions are explicit (``isolation_level=None`` plus :func:`write_transaction`): Python's
implicit transaction handling is easy to get wrong, and every write here must be exactly one
``BEGIN IMMEDIATE ... COMMIT``. The one exception is a durable step, a single INSERT that
SQLite commits as its own transaction (see ``RunRecorder.record_step``).

Thread rules: a connection belongs to one thread at a time. The engine's writer connection is
used from the engine thread (the :class:`~edge.store.recorder.RunRecorder` serialises calls with a
lock, so it may be created in another thread); every reader (HMI, API, sync) opens its own
connection with :func:`open_store`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from edge.store import migrations

BUSY_TIMEOUT_MS = 10_000
PAGE_SIZE = 1024
CHECKPOINT_PAGES = 2000  # WAL frames (about 2 MiB) before the checkpoint that follows a run
WAL_SIZE_LIMIT = 16 * 1024 * 1024
PAGE_CACHE_KIB = 256  # per connection; SQLite's default 2000 KiB grows with the file
# The state directory is the service's own (systemd's StateDirectoryMode=0750 agrees): group may
# read results for backups, nobody else may read, and only the service may write.
DIR_MODE = 0o750
FILE_MODE = 0o640


class StoreError(Exception):
    """Base of every error raised by the result store."""


class NotAResultStoreError(StoreError):
    """The file is not a pibench result database (garbage, damaged, or another program's)."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer pibench; opening it could silently lose data."""


class StoreWriteError(StoreError):
    """SQLite refused a write (disk full, I/O error, locked too long). Nothing was half-written.

    ``cause`` is the reason in a few words ("disk full", "database locked", ...) when SQLite
    said which, else None: it is what an interrupted run records as its cause."""

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class StoreFullError(StoreWriteError):
    """Too little free space left to start a run safely, or the disk filled up."""

    def __init__(self, message: str, cause: str | None = "disk full") -> None:
        super().__init__(message, cause)


class StoreReadOnlyError(StoreWriteError):
    """The database (or its directory) is on a read-only filesystem or may not be written.
    The file itself is not damaged: this is never a reason to move it aside."""

    def __init__(self, message: str, cause: str | None = "read-only filesystem") -> None:
        super().__init__(message, cause)


class StoreLockedError(StoreWriteError):
    """Another program kept the database locked for longer than the busy timeout."""

    def __init__(self, message: str, cause: str | None = "database locked") -> None:
        super().__init__(message, cause)


class RunStateError(StoreError):
    """A write contradicting a run's state: finishing twice, a step twice, a step after the end."""


class UnknownRunError(RunStateError, LookupError):
    """No run with this id is on record."""


# SQLite's primary result codes (the low byte of an extended code) that name a storage fault.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR = 5, 6, 8, 10
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 13, 14, 26


def _primary_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def filesystem_read_only(path: Path) -> bool:
    """Whether ``path`` (or, if it does not exist, its directory) cannot be written because the
    filesystem is mounted read-only or the permissions say no."""
    target = path if path.exists() else path.parent
    while not target.exists() and target != target.parent:
        target = target.parent
    try:
        if os.statvfs(target).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(target, os.W_OK)


def classify_sqlite_error(exc: sqlite3.Error, path: Path, what: str) -> StoreError:
    """The store error that says what really happened, from SQLite's result code.

    A read-only filesystem must never be reported as a damaged file (moving a healthy database
    aside is exactly the wrong advice), and a full disk or a lock held by another program must
    be named as such, so the run they interrupt records its true cause."""
    code = _primary_code(exc)
    if code == _SQLITE_FULL:
        return StoreFullError(f"{path}: could not {what}: the disk is full ({exc}); free space "
                              "(results already stored are kept)")
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StoreLockedError(f"{path}: could not {what}: database locked by another "
                                f"program for over {BUSY_TIMEOUT_MS // 1000} s ({exc}); close "
                                "it (an sqlite3 shell, a backup) and try again")
    if code in (_SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_IOERR) and \
            filesystem_read_only(path):
        return StoreReadOnlyError(f"{path}: could not {what}: the filesystem is read-only or "
                                  f"not writable by this user ({exc}); the database is not "
                                  "damaged: remount it read-write or fix the permissions")
    if code == _SQLITE_IOERR:
        return StoreWriteError(f"{path}: could not {what}: I/O error ({exc}); check the storage "
                               "(dmesg, SD card)", cause="I/O error")
    if code in (_SQLITE_NOTADB, _SQLITE_CORRUPT):
        return NotAResultStoreError(
            f"{path}: not usable as a SQLite database ({exc}). If it is damaged, move it aside "
            "(keep it: results may be recoverable) and a new store will be created")
    return StoreWriteError(f"{path}: could not {what}: {exc}")


def os_error_to_store_error(exc: OSError, path: Path, what: str) -> StoreError:
    """A filesystem error on the way to the store, as the store error that names it."""
    if exc.errno == errno.EROFS:
        return StoreReadOnlyError(f"{path}: cannot {what}: the filesystem holding the "
                                  "station's data is mounted read-only; remount it read-write "
                                  "(results already stored are intact)")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return StoreReadOnlyError(f"{path}: cannot {what}: {exc.strerror} (the station's data "
                                  "directory is not writable by this user)")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFullError(f"{path}: cannot {what}: {exc.strerror}; free space")
    return StoreWriteError(f"{path}: cannot {what}: {exc.strerror or exc}",
                           cause=exc.strerror or None)


def database_path(conn: sqlite3.Connection) -> str:
    """The file behind ``conn``, for error messages."""
    for _seq, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return file or ":memory:"
    return "?"


def is_file_path(path: str) -> bool:
    """Whether a :func:`database_path` names a file (not an in-memory or unknown database)."""
    return path not in ("", ":memory:", "?")


def fsync_path(path: str | os.PathLike[str]) -> None:
    """fsync a file or directory by its path (a directory: the entries made in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_private_file(path: Path) -> None:
    """Create the database file (and its directory) with our modes, durably.

    SQLite would create the file itself but with the process umask's permissions; creating it
    first lets SQLite copy our mode onto the -wal and -shm files too. The directory entry is
    fsynced so a power cut right after the first run cannot make the whole file vanish.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if path.exists():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:  # another process just created it: fine
        return
    os.close(fd)
    fsync_path(path.parent)


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a garbage file, another program's database, or a schema newer than this code."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise classify_sqlite_error(exc, path, "read the database") from exc
    fresh = objects == 0 and version == 0 and app_id == 0
    if not fresh and app_id != migrations.APPLICATION_ID:
        raise NotAResultStoreError(
            f"{path}: a SQLite database, but not a pibench result store "
            f"(application_id {app_id:#x}, expected {migrations.APPLICATION_ID:#x})"
        )
    if version > migrations.LATEST_VERSION:
        raise SchemaTooNewError(
            f"{path}: schema version {version} was written by a newer pibench; this one knows up "
            f"to {migrations.LATEST_VERSION}. Install the newer pibench (refusing to downgrade)."
        )


def _apply_settings(conn: sqlite3.Connection, path: Path) -> None:
    # Only takes effect on a file with no table yet (a new store); a no-op on any other.
    conn.execute(f"PRAGMA page_size={int(PAGE_SIZE)}")
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreWriteError(f"{path}: could not switch to WAL journal mode (got {mode!r})")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_MS)}")
    conn.execute(f"PRAGMA wal_autocheckpoint={int(CHECKPOINT_PAGES)}")
    conn.execute(f"PRAGMA journal_size_limit={int(WAL_SIZE_LIMIT)}")
    conn.execute(f"PRAGMA cache_size={-int(PAGE_CACHE_KIB)}")


def _migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Apply every migration newer than the file, each in its own transaction with its version
    bump, so a crash mid-upgrade leaves the file at the previous version, never in between.
    The version is re-read under the write lock: two processes opening a new file at once
    must not both apply migration 1."""
    if schema_version(conn) == migrations.LATEST_VERSION:
        return migrations.LATEST_VERSION  # the usual case: no write lock needed to find out
    for migration in migrations.MIGRATIONS:
        with write_transaction(conn):
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current > migrations.LATEST_VERSION:
                raise SchemaTooNewError(f"{path}: schema version {current} is newer than this code")
            if current >= migration.version:
                continue
            if current != migration.version - 1:
                raise NotAResultStoreError(
                    f"{path}: schema version {current} cannot be upgraded by migration "
                    f"{migration.version}"
                )
            for statement in migration.statements:
                conn.execute(statement)
            if migration.convert is not None:
                migration.convert(conn)
            for statement in migration.after:
                conn.execute(statement)
            # PRAGMAs take no parameters; both values are integers from our own table.
            conn.execute(f"PRAGMA application_id={int(migrations.APPLICATION_ID)}")
            conn.execute(f"PRAGMA user_version={int(migration.version)}")
    return conn.execute("PRAGMA user_version").fetchone()[0]


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def check_integrity(conn: sqlite3.Connection) -> None:
    """``PRAGMA quick_check`` over the whole file. Linear in the database size (seconds on a Pi
    for years of results), so it is offered, not done on every open."""
    path = database_path(conn)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        raise NotAResultStoreError(f"{path}: database is damaged ({exc})") from exc
    if problems != ["ok"]:
        raise NotAResultStoreError(f"{path}: database is damaged: {'; '.join(problems[:5])}")


def open_store(
    path: str | os.PathLike[str], *, migrate: bool = True, integrity_check: bool = False
) -> sqlite3.Connection:
    """Open (creating if needed) the result database at ``path`` and bring its schema up to date.

    Raises :class:`NotAResultStoreError` (naming the file) for garbage or foreign files and
    :class:`SchemaTooNewError` for a database from a newer pibench.
    """
    db_path = Path(path)
    try:
        _create_private_file(db_path)
    except OSError as exc:
        raise os_error_to_store_error(exc, db_path, "create the result database") from exc
    try:
        conn = sqlite3.connect(
            db_path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # the recorder serialises access with its own lock
            cached_statements=256,
        )
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise classify_sqlite_error(exc, db_path, "open the database") from exc
    try:
        _check_identity(conn, db_path)
        _apply_settings(conn, db_path)
        if integrity_check:
            check_integrity(conn)
        if migrate:
            _migrate(conn, db_path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        error = classify_sqlite_error(exc, db_path, "open the database")
        if type(error) is StoreWriteError:  # nothing more specific: the file is the problem
            error = NotAResultStoreError(f"{db_path}: cannot use this database ({exc})")
        raise error from exc
    except BaseException:
        conn.close()
        raise
    return conn


def open_store_read_only(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to an existing result database; never creates or migrates it.

    For whoever cannot write beside the file: a technician reading through the ``pibench``
    group (file 0640, directory 0750), a backup, a card mounted read-only. While the station
    runs, the ``-wal`` and ``-shm`` files exist and SQLite reads them read-only. When they do not
    exist and cannot be created, nobody is writing the file (the station would have made them),
    so it is opened ``immutable``: read as it is, without the -shm index or locks."""
    db_path = Path(path)
    if not db_path.exists():
        raise FileNotFoundError(f"{db_path}: no result database here")
    uri = db_path.resolve().as_uri()
    conn = None
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        if conn is not None:
            conn.close()
        try:
            conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise classify_sqlite_error(exc, db_path, "open the database") from exc
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise classify_sqlite_error(exc, db_path, "open the database") from exc
    try:
        _check_identity(conn, db_path)
    except BaseException:
        conn.close()
        raise
    return conn


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE ... COMMIT``: all of the block's writes are durable, or none are.

    IMMEDIATE takes the write lock up front, so a concurrent writer waits at BEGIN (within the
    busy timeout) rather than failing halfway through the block.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may already have rolled back (some I/O errors do); only roll back what is open.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Several SELECTs that see one consistent state of the file.

    In autocommit mode each statement sees the newest commit, so a step committed between the
    "steps" and the "attempts" query would tear a record apart. A deferred transaction pins the
    WAL snapshot at its first read. Inside a transaction already open (``finish_run`` reading
    back what it just wrote), the reads simply join it.
    """
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN DEFERRED")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")  # read-only: nothing to commit
