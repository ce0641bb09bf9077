"""One owner per station: the lock that `pibench station` and `pibench run` hold for life.

A station's data directory (its result database) and its fixtures belong to exactly one
process at a time. That process holds an exclusive ``flock`` on ``<data dir>/owner.lock`` from
before it opens the database until it exits. The kernel releases the lock when the process
dies, however it dies (SIGKILL, power cut), so the lock can never go stale the way a PID file
does, and "nobody holds the lock" really means "the previous owner is gone". That is the one
moment start-up recovery may close RUNNING runs as interrupted.

The lock file also says who holds it, as one JSON object::

    {"pid": 4242, "since_utc": "2026-12-05T09:00:00+00:00", "command": "pibench station"}

so a refused second process can say "this station is already running as PID 4242 since …".

Extension point (the local API, next): an owner that serves the API adds its address with
:meth:`OwnerLock.advertise` (``api="http://127.0.0.1:8750"``). A later ``pibench run`` reads
:func:`read_owner`; when the record has an ``api``, it can hand its run to that station over
the API instead of refusing. Readers ignore keys they do not know, so the record can grow
without breaking older readers.

Read-only commands (history, export, sync status) never take this lock: SQLite's WAL lets
them read beside the owner.
"""

import contextlib
import errno
import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from drivers.named_tuple import NamedTuple

LOCK_NAME = "owner.lock"
# Room for the record; the file is rewritten in place, so a reader never sees it half-grown.
_RECORD_MAX = 4096


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class OwnerRecord(NamedTuple):
    """Who owns a station. ``api`` is the owner's local API address, once it serves one."""

    pid: int
    since_utc: str
    command: str
    api: str | None = None

    def to_json(self) -> str:
        fields = {k: v for k, v in self._asdict().items() if v is not None}
        return json.dumps(fields, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "OwnerRecord | None":
        """The record, or None for an empty or unreadable file (an owner still starting)."""
        try:
            data = json.loads(text)
            pid = int(data["pid"])
        except (ValueError, TypeError, KeyError):
            return None
        api = data.get("api")
        return cls(pid=pid, since_utc=str(data.get("since_utc", "?")),
                   command=str(data.get("command", "?")),
                   api=str(api) if api else None)


class StationBusyError(Exception):
    """Another process owns this station; nothing was touched."""

    def __init__(self, data_dir: Path, owner: OwnerRecord | None) -> None:
        self.data_dir = data_dir
        self.owner = owner
        super().__init__(self.message("en"))

    def message(self, lang: str) -> str:
        from edge.i18n import t

        owner = self.owner
        if owner is None:
            return t("station_busy_unknown", lang, data_dir=str(self.data_dir))
        return t("station_busy", lang, pid=str(owner.pid), since=owner.since_utc[:19] + " UTC",
                 command=owner.command, data_dir=str(self.data_dir))


class OwnerLockError(OSError):
    """The lock file cannot be created or opened (read-only filesystem, permissions)."""


def lock_path(data_dir: Path) -> Path:
    return Path(data_dir) / LOCK_NAME


class OwnerLock:
    """``acquire()`` once, keep the object for the process's life, ``release()`` on the way out
    (the kernel releases it anyway if the process dies)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = lock_path(self.data_dir)
        self._fd: int | None = None
        self.record: OwnerRecord | None = None
        # Set by acquire(): the lock file still held the previous owner's record, which
        # release() erases, so that owner died without releasing (crash, kill, power cut).
        self.previous_owner_died = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, command: str) -> OwnerRecord:
        """Take the lock or raise :class:`StationBusyError` at once (never waits).

        Creates the data directory if needed. Raises :class:`OwnerLockError` (an ``OSError``
        with the errno) when the directory or the file cannot be created or opened."""
        if self._fd is not None:
            raise RuntimeError("owner lock already held by this object")
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            raise OwnerLockError(exc.errno, exc.strerror, str(self.path)) from exc
        for _attempt in range(3):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise OwnerLockError(exc.errno, f"cannot lock {self.path}: {exc.strerror}",
                                         str(self.path)) from exc
                owner = read_owner(self.data_dir)
                if owner is not None or is_held(self.data_dir):
                    os.close(fd)
                    raise StationBusyError(self.data_dir, owner) from None
                # Only a reader's brief shared lock (read_owner) was in the way: try again.
        else:
            os.close(fd)
            raise StationBusyError(self.data_dir, None)
        self._fd = fd
        try:
            self.previous_owner_died = bool(os.pread(fd, 1, 0))
        except OSError:
            self.previous_owner_died = True  # cannot tell: assume the worst
        record = OwnerRecord(pid=os.getpid(),
                             since_utc=datetime.now(UTC).isoformat(timespec="seconds"),
                             command=command)
        self._write(record)
        return record

    def advertise(self, **fields: str | None) -> OwnerRecord:
        """Add to the record what others may use to reach the owner (``api=…``)."""
        if self._fd is None or self.record is None:
            raise RuntimeError("owner lock not held")
        record = self.record._replace(**fields)
        self._write(record)
        return record

    def _write(self, record: OwnerRecord) -> None:
        data = record.to_json().encode()[:_RECORD_MAX]
        assert self._fd is not None
        # Informational only: the lock is the flock, not these bytes. A full disk must not
        # stop the owner here (the store reports that plainly a moment later).
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data + b"\n", 0)
        except OSError:
            pass
        self.record = record

    def release(self) -> None:
        """Let the next owner in. The file stays (removing it would race a new owner's open)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def is_held(data_dir: Path) -> bool:
    """Whether some process holds the station's lock right now (asked of the kernel)."""
    path = lock_path(Path(data_dir))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return _held(fd)
    finally:
        os.close(fd)


def _held(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def read_owner(data_dir: Path) -> OwnerRecord | None:
    """The current owner of a station, or None if no process owns it.

    Whether somebody holds the lock is asked of the kernel (a shared, non-blocking flock that
    only succeeds when nobody holds it exclusively), not read from the file, which may be
    left over from a process that died."""
    path = lock_path(Path(data_dir))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not _held(fd):
            return None
        text = os.pread(fd, _RECORD_MAX, 0).decode(errors="replace")
        return OwnerRecord.from_json(text)
    finally:
        os.close(fd)


__all__ = ["LOCK_NAME", "OwnerLock", "OwnerLockError", "OwnerRecord", "StationBusyError",
           "is_held", "lock_path", "read_owner"]
