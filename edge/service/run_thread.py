"""The one long-lived thread the station service runs its runs in, one at a time.

A new thread per run cost memory that never came back: each new thread's first allocations go
to whichever glibc arena is free, its stack pages are touched afresh, and over a day of runs
the process grew by about 0.3 MiB per 100 runs (bench/bench_station_rss.py). One worker thread,
started with the first run and kept, runs every run after it: the standard library's
``ThreadPoolExecutor`` with one worker, which keeps its thread between jobs.

Its worker is joined at interpreter exit (``concurrent.futures`` registers that hook before
non-daemon threads are joined), as the per-run thread, not a daemon, was: a run in progress is
finished (its teardown powers the board off, its verdict is stored) before the process ends,
and an idle worker does not keep the process alive.

``concurrent.futures`` is imported, and the executor made, with the first run: a station starts
without it (~0.5 ms, issue 14). Importing it registers that exit hook, so it is in place before
the first job exists; during interpreter shutdown the import itself raises RuntimeError, as
``submit`` does on a shut-down executor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from edge import lazylog

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

_log = lazylog.getLogger("edge.service")


class RunThread:
    def __init__(self, name: str = "pibench-run") -> None:
        self._name = name
        self._executor: ThreadPoolExecutor | None = None  # made with the first job
        self._stopped = False
        self._lock = threading.Lock()
        self._future: Future[None] | None = None
        self._worker: int | None = None  # the worker thread's ident, once it ran a job

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` in the thread. The caller makes sure only one job is given at a time
        (RuntimeError otherwise, or once stopped)."""
        with self._lock:
            if self.busy():
                raise RuntimeError("a run is already in the run thread")
            if self._stopped:
                raise RuntimeError("the run thread is stopped")
            if self._executor is None:
                from concurrent.futures import ThreadPoolExecutor

                self._executor = ThreadPoolExecutor(max_workers=1,
                                                    thread_name_prefix=self._name)
            # RuntimeError when the interpreter is shutting down.
            self._future = self._executor.submit(self._logged, job)

    def busy(self) -> bool:
        """A job is given and not finished."""
        future = self._future
        return future is not None and not future.done()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is running; False if one still is after ``timeout``."""
        future = self._future
        if future is None:
            return True
        from concurrent.futures import wait  # (imported with the first job)

        return bool(wait([future], timeout).done)

    def stop(self, timeout: float | None = None) -> None:
        """Let the job in progress finish (up to ``timeout``), then end the thread."""
        with self._lock:
            self._stopped = True
            executor = self._executor
        if executor is not None:
            executor.shutdown(wait=False)
        if threading.get_ident() != self._worker:  # a job stopping its own thread: no wait
            self.wait_idle(timeout)

    def _logged(self, job: Callable[[], None]) -> None:
        self._worker = threading.get_ident()
        try:
            job()
        except BaseException:  # the job records its own failures; the thread must live on
            _log.exception("a job of the run thread failed")


__all__ = ["RunThread"]
