"""Last words: why a run was cut short, kept where a failing database cannot lose it.

When the database refuses a write mid-run (disk full, locked by another program, I/O error),
the station knows exactly why the run cannot be finished, but cannot write that into the
database either. Without help, the next start's recovery would close the run as "crash or
power loss", which is false and sends the technician looking at the wrong thing.

So next to the database (``<database>.last-words``) the station keeps a small file that is
**preallocated** when the station starts, while there is room: 4 KiB of blanks, fsynced. When a
write fails, the recorder overwrites those bytes in place (``pwrite`` at offset 0, then
``fsync``) with one JSON line naming the run and the cause. Overwriting blocks the file already
owns needs no new space, so this works on a full disk, where creating or growing a file would
fail. Recovery (:mod:`edge.store.recovery`) reads the file: a RUNNING run it names is closed as
ABORTED with that cause instead of "crash or power loss"; then the file is blanked again.

The file is best effort on purpose: if it cannot be prepared (the disk was already full at
start, a read-only filesystem), the station still runs, and recovery falls back to the generic
cause. It never holds anything the database does not also get once it can be written.
"""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from drivers.named_tuple import NamedTuple
from edge import lazylog

_log = lazylog.getLogger("edge.store.last_words")

SIZE = 4096
_BLANK = b" " * (SIZE - 1) + b"\n"


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class LastWords(NamedTuple):
    """The cause of a run the database refused, kept until recovery writes it."""

    run_id: str
    cause: str
    written_utc: str


def last_words_path(db_path: str | os.PathLike[str]) -> Path:
    return Path(f"{db_path}.last-words")


class LastWordsFile:
    """The preallocated file of one database; used by the recorder (writer) and recovery."""

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.path = last_words_path(db_path)
        self._fd: int | None = None

    def prepare(self) -> bool:
        """Open (creating and preallocating if needed) the file; False if that is impossible
        now (logged: the station runs without it)."""
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            _log.warning("cannot keep %s (%s): an interrupted run's cause may be reported as "
                         "'crash or power loss'", self.path, exc.strerror)
            return False
        try:
            if os.fstat(fd).st_size < SIZE:
                # Written out, not a sparse ftruncate: the blocks must really be allocated so
                # that overwriting them later needs no free space.
                os.pwrite(fd, _BLANK, 0)
                os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            _log.warning("cannot preallocate %s (%s)", self.path, exc.strerror)
            return False
        self._fd = fd
        return True

    def write(self, run_id: str, cause: str) -> bool:
        """Record why ``run_id`` cannot be finished. True once it is on disk."""
        if self._fd is None and not self.prepare():
            return False
        record = json.dumps({"run_id": run_id, "cause": cause,
                             "written_utc": datetime.now(UTC).isoformat(timespec="seconds")},
                            ensure_ascii=True).encode()
        if len(record) >= SIZE:
            record = json.dumps({"run_id": run_id, "cause": cause[:SIZE // 2],
                                 "written_utc": ""}).encode()
        try:
            assert self._fd is not None
            # Blank padding after the record: the file's size (and its blocks) never change.
            os.pwrite(self._fd, record + _BLANK[len(record):], 0)
            os.fsync(self._fd)
        except OSError as exc:
            _log.error("could not keep the cause of run %s in %s (%s): %s", run_id, self.path,
                       exc.strerror, cause)
            return False
        return True

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def read_last_words(db_path: str | os.PathLike[str]) -> LastWords | None:
    """What the file says, or None (no file, blank, unreadable)."""
    try:
        text = last_words_path(db_path).read_bytes().strip()
    except OSError:
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
        return LastWords(str(data["run_id"]), str(data["cause"]), str(data.get("written_utc")))
    except (ValueError, KeyError, TypeError):
        _log.warning("ignoring unreadable %s", last_words_path(db_path))
        return None


def clear_last_words(db_path: str | os.PathLike[str]) -> None:
    """Blank the file in place (its blocks stay allocated for next time)."""
    path = last_words_path(db_path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.pwrite(fd, _BLANK, 0)
        os.fsync(fd)
    except OSError as exc:
        _log.warning("could not blank %s: %s", path, exc.strerror)
    finally:
        os.close(fd)
