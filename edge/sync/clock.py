"""The sync worker's only view of time: wall-clock epoch seconds and a way to wait.

Delivery schedules (``next_attempt_at``) are stored as epoch seconds because they must survive a
restart and be readable by other processes (``pibench sync status``); a monotonic clock restarts
at boot. Tests inject :class:`ManualClock`, whose ``wait`` advances virtual time instead of
sleeping, so a 72-hour outage runs in seconds.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class SyncClock(Protocol):
    def time(self) -> float:
        """Wall-clock seconds since the epoch."""
        ...

    def wait(self, seconds: float) -> None:
        """Wait up to ``seconds``; may return early when woken."""
        ...

    def wake(self) -> None:
        """Cut a running :meth:`wait` short (new work, stop request)."""
        ...


class SystemClock:
    """Real time; ``wait`` blocks on an event so ``wake()`` (a finished run, a stop) is instant."""

    def __init__(self) -> None:
        self._woken = threading.Event()

    def time(self) -> float:
        return time.time()

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            self._woken.wait(seconds)
        self._woken.clear()

    def wake(self) -> None:
        self._woken.set()


class ManualClock:
    """Virtual time for tests: ``wait`` jumps forward, nothing sleeps."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        # A realistic epoch (2027) so nothing treats 0 as "unset" by accident.
        self._now = float(start)
        self._lock = threading.Lock()
        self.waited = 0.0

    def time(self) -> float:
        with self._lock:
            return self._now

    def wait(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            self.waited += seconds

    def wake(self) -> None:
        """Nothing to wake: virtual waits return at once."""
