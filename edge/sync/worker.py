"""The sync worker: a thread in the station process or a process of its own.

It never blocks testing: it has its own SQLite connection (WAL: the engine's commits never wait
for it beyond a single short write), its own thread, and explicit (connect, read) timeouts.

Exactly one worker per database delivers at a time, whichever way it runs: it holds an exclusive
``flock`` on ``<database>.sync.lock`` for its lifetime. The kernel drops the lock when the holder
dies (even by SIGKILL), so a crashed worker never blocks its successor.
"""

from __future__ import annotations

import fcntl
import os
import random
import threading
from collections.abc import Callable
from pathlib import Path

from edge import lazylog
from edge.store.db import open_store
from edge.sync.backends import make_backend
from edge.sync.backends.base import Backend, OutboxItem
from edge.sync.clock import SyncClock, SystemClock
from edge.sync.outbox import Outbox
from edge.sync.outcomes import Outcome
from edge.sync.runner import PassReport, TargetRunner
from edge.sync.secrets import install_redaction, load_token
from edge.sync.settings import SyncSettings

log = lazylog.getLogger(__name__)

# Even with nothing due, look at the database this often, whatever poll_s says: "pibench sync now"
# and retry-parked from another process are seen within this time (a few SQLite reads).
MAX_WAIT_S = 5.0
SYNC_PAGE_CACHE_KIB = 64


class SyncBusyError(RuntimeError):
    """Another sync worker already delivers from this database."""


def lock_path(db_path: Path) -> Path:
    return Path(f"{db_path}.sync.lock")


class WorkerLock:
    """The one-worker-per-database lock (see the module docstring)."""

    def __init__(self, db_path: Path) -> None:
        self.path = lock_path(db_path)
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder_pid(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class SyncWorker:
    def __init__(
        self,
        db_path: str | os.PathLike[str],
        settings: SyncSettings,
        *,
        clock: SyncClock | None = None,
        rng: random.Random | None = None,
        backend: Backend | None = None,
        after_outcome: Callable[[OutboxItem, Outcome], None] | None = None,
    ) -> None:
        if not settings.enabled:
            raise ValueError("sync is off ([sync] backend = 'none')")
        self.db_path = Path(db_path)
        self.settings = settings
        self.clock = clock or SystemClock()
        self._rng = rng
        self._backend = backend
        self._after_outcome = after_outcome
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lock = WorkerLock(self.db_path)
        self.runner: TargetRunner | None = None
        self.error: BaseException | None = None

    def _build_runner(self) -> TargetRunner:
        """The runner (token, backend and its caches, probe count) lives as long as the worker;
        each :meth:`run` gives it a fresh database connection."""
        install_redaction()
        conn = open_store(self.db_path)
        # It reads one outbox row at a time and writes its state: the store's default cache
        # (sized for the recorder's writes) would only fill up with pages it never reads again.
        conn.execute(f"PRAGMA cache_size = {-SYNC_PAGE_CACHE_KIB}")
        s = self.settings
        if self.runner is not None:
            self.runner.outbox = Outbox(conn, s.target)
            return self.runner
        return TargetRunner(
            Outbox(conn, s.target),
            self._backend,
            s,
            self.clock,
            rng=self._rng,
            load_token=None if self._backend is not None else (
                lambda: load_token(s.token_file, s.token_env)),
            make_backend=lambda token: make_backend(s, token),
            after_outcome=self._after_outcome,
        )

    # ---- running -------------------------------------------------------------------------------

    def run(
        self,
        *,
        until_idle: bool = False,
        max_steps: int | None = None,
        stop_when: Callable[[], bool] | None = None,
    ) -> None:
        """Deliver until stopped: by :meth:`stop`, or when nothing is due right now
        (``until_idle``), after ``max_steps``, or once ``stop_when()`` is true (tests driving a
        :class:`~edge.sync.clock.ManualClock` through a simulated outage).

        Raises :class:`SyncBusyError` if another worker holds the database's sync lock.
        """
        self._acquire()
        try:
            self.runner = self._build_runner()
            steps = 0
            while not self._stop.is_set():
                if stop_when is not None and stop_when():
                    return
                due = self.runner.step()
                steps += 1
                if max_steps is not None and steps >= max_steps:
                    return
                now = self.clock.time()
                if due is not None and due <= now:
                    continue
                if until_idle:
                    return
                wait = self.settings.poll_s if due is None else due - now
                self.clock.wait(min(wait, MAX_WAIT_S))
        finally:
            if self.runner is not None:
                self.runner.outbox.conn.close()
            self.lock.release()

    def _acquire(self) -> None:
        if not self.lock.acquire():
            pid = self.lock.holder_pid()
            raise SyncBusyError(f"another sync worker (pid {pid}) is delivering from "
                                f"{self.db_path}")

    def run_pass(self) -> PassReport:
        """``sync now`` in the foreground: every waiting run tried once (see
        :meth:`TargetRunner.run_pass`). Raises :class:`SyncBusyError` like :meth:`run`."""
        self._acquire()
        try:
            self.runner = self._build_runner()
            return self.runner.run_pass()
        finally:
            if self.runner is not None:
                self.runner.outbox.conn.close()
            self.lock.release()

    def close(self) -> None:
        """Release the backend's connections (a backend passed in belongs to the caller)."""
        backend = self.runner.backend if self.runner is not None else None
        if backend is not None and backend is not self._backend:
            backend.close()

    def start(self) -> threading.Thread:
        """Run in a daemon thread of the station process."""

        def main() -> None:
            try:
                self.run()
            except BaseException as exc:  # surfaced through .error and the status, not lost
                self.error = exc
                log.exception("sync worker stopped")
            finally:
                self.close()

        self._thread = threading.Thread(target=main, name="pibench-sync", daemon=True)
        self._thread.start()
        return self._thread

    def wake(self) -> None:
        """A run just finished: look at the outbox now rather than at the next poll."""
        self.clock.wake()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        self.clock.wake()
        if self._thread is not None:
            self._thread.join(timeout)
