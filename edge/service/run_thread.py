"""The one long-lived thread the station service runs its runs in, one at a time.

A new thread per run cost memory that never came back: each new thread's first allocations go
to whichever glibc arena is free, its stack pages are touched afresh, and over a day of runs
the process grew by about 0.3 MiB per 100 runs (bench/bench_station_rss.py). One thread,
started with the first run and kept, runs every run after it.

It is not a daemon thread, as the per-run thread was not: at interpreter exit a run in progress
is finished (its teardown powers the board off, its verdict is stored) before the process
ends. An idle thread must not keep the process alive, so it is told to stop at interpreter
shutdown, by the hook ``concurrent.futures`` uses for its own workers (``threading``'s
``_register_atexit``: called before non-daemon threads are joined).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

_log = logging.getLogger("edge.service")


class RunThread:
    def __init__(self, name: str = "pibench-run") -> None:
        self.name = name
        self._cond = threading.Condition(threading.Lock())
        self._job: Callable[[], None] | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` in the thread. The caller makes sure only one job is given at a time
        (RuntimeError otherwise, or once stopped)."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("the run thread is stopped")
            if self._job is not None:
                raise RuntimeError("a run is already in the run thread")
            self._job = job
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name,
                                                daemon=False)
                self._thread.start()
                try:
                    threading._register_atexit(self._stop_at_exit)  # type: ignore[attr-defined]
                except RuntimeError:  # the interpreter is already shutting down
                    self._stopping = True
            self._cond.notify_all()

    def busy(self) -> bool:
        """A job is given and not finished."""
        with self._cond:
            return self._job is not None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is running; False if one still is after ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: self._job is None, timeout)

    def stop(self, timeout: float | None = None) -> None:
        """Let the job in progress finish (up to ``timeout``), then end the thread."""
        self._stop_at_exit()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _stop_at_exit(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._job is None and not self._stopping:
                    self._cond.wait()
                job = self._job
                if job is None:  # stopping, and nothing left to run
                    return
            try:
                job()
            except BaseException:  # the job records its own failures; the thread must live on
                _log.exception("a job of the run thread failed")
            finally:
                with self._cond:
                    self._job = None
                    self._cond.notify_all()


__all__ = ["RunThread"]
