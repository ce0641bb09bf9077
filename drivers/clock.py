"""Clocks: the one seam through which every driver learns the time or waits for something.

Real hardware uses :class:`MonotonicClock`. Simulated hardware uses :class:`SimClock`, a
discrete-event clock: nothing ever sleeps, waiting *advances* virtual time to the next scheduled
event (a simulated NE555 edge, a timeout), so a 10-second period is tested in microseconds.

Both clocks offer the same three operations, so measurement code is written once:

* ``now()``: seconds on a monotonic time base (``time.monotonic()`` for the real clock, which is
  also the time base of lgpio's kernel edge timestamps and gpiozero's ``ticks``).
* ``wait_until(predicate, deadline)``: block until ``predicate()`` is true or ``now() >= deadline``;
  returns the predicate's final value. The real clock wakes on :meth:`notify`; the simulated clock
  runs scheduled events in time order until the predicate holds.
* ``notify()``: called by event producers (edge callbacks) so real-clock waiters re-check.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def wait_until(self, predicate: Callable[[], bool], deadline: float) -> bool: ...

    def notify(self) -> None: ...

    def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """Wall time on ``time.monotonic()``, waits on a condition variable (never a polling sleep)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()

    def now(self) -> float:
        return time.monotonic()

    def notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def wait_until(self, predicate: Callable[[], bool], deadline: float) -> bool:
        with self._cond:
            while True:
                if predicate():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return predicate()
                self._cond.wait(remaining)

    def sleep(self, seconds: float) -> None:
        self.wait_until(lambda: False, self.now() + seconds)


class SimClock:
    """Virtual monotonic time driven by a queue of scheduled callbacks.

    ``schedule(at, fn)`` queues ``fn()`` to run when virtual time reaches ``at``. Time only moves
    inside :meth:`advance_to` / :meth:`wait_until` / :meth:`sleep`, so tests are exact and instant.
    Callbacks run in the thread that advances the clock, in (time, insertion) order; a callback
    may schedule further events (a free-running oscillator reschedules itself).
    """

    def __init__(self, start: float = 1000.0) -> None:
        # Start away from zero so code that wrongly treats 0 as "unset" is caught by tests.
        self._now = float(start)
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()

    def now(self) -> float:
        return self._now

    def notify(self) -> None:
        """Nothing to wake: waiting and event delivery happen in the same thread."""

    def schedule(self, at: float, callback: Callable[[], None]) -> None:
        with self._lock:
            heapq.heappush(self._queue, (float(at), next(self._seq), callback))

    def schedule_in(self, delay: float, callback: Callable[[], None]) -> None:
        self.schedule(self._now + delay, callback)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _run_next_before(self, limit: float) -> bool:
        with self._lock:
            if not self._queue or self._queue[0][0] > limit:
                return False
            at, _, callback = heapq.heappop(self._queue)
            self._now = max(self._now, at)
        callback()
        return True

    def advance_to(self, t: float) -> None:
        while self._run_next_before(t):
            pass
        with self._lock:
            self._now = max(self._now, t)

    def advance(self, seconds: float) -> None:
        self.advance_to(self._now + seconds)

    def wait_until(self, predicate: Callable[[], bool], deadline: float) -> bool:
        while not predicate():
            if not self._run_next_before(deadline):
                with self._lock:
                    self._now = max(self._now, deadline)
                return predicate()
        return True

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


class PacedSimClock(SimClock):
    """A :class:`SimClock` whose time also passes in real time, ``pace`` real seconds per
    simulated second (1.0: a simulated run lasts as long as on the bench; 0.1: ten times
    faster). For demonstrations and for tests with real processes that must act *during* a
    run (signals, a second process); everything else uses the instant SimClock.

    The simulated hardware still runs on virtual time (measurements are exact); waiting for
    the next scheduled event also waits the matching real time, on a condition that
    :meth:`notify` wakes, so an abort from another thread is seen at once."""

    def __init__(self, pace: float, start: float = 1000.0) -> None:
        if not pace > 0:
            raise ValueError(f"pace must be > 0, not {pace!r}")
        super().__init__(start)
        self.pace = float(pace)
        self._wake = threading.Condition(threading.Lock())
        self._poked = False

    def notify(self) -> None:
        with self._wake:
            self._poked = True
            self._wake.notify_all()

    def _pause_until(self, target: float) -> bool:
        """Let real time catch up with virtual ``target``. False if :meth:`notify` cut the
        wait short (virtual time then moves only as far as real time did)."""
        start_virtual, start_real = self._now, time.monotonic()
        end_real = start_real + (target - start_virtual) * self.pace
        with self._wake:
            while not self._poked:
                remaining = end_real - time.monotonic()
                if remaining <= 0:
                    return True
                self._wake.wait(remaining)
            self._poked = False
        elapsed = (time.monotonic() - start_real) / self.pace
        with self._lock:
            self._now = max(self._now, min(target, start_virtual + elapsed))
        return False

    def _next_at(self) -> float | None:
        with self._lock:
            return self._queue[0][0] if self._queue else None

    def advance_to(self, t: float) -> None:
        while True:
            nxt = self._next_at()
            target = t if nxt is None or nxt > t else nxt
            if not self._pause_until(target):
                continue
            if target == t and (nxt is None or nxt > t):
                break
            self._run_next_before(t)
        with self._lock:
            self._now = max(self._now, t)

    def wait_until(self, predicate: Callable[[], bool], deadline: float) -> bool:
        while not predicate():
            nxt = self._next_at()
            if nxt is None or nxt > deadline:
                if self._pause_until(deadline):
                    with self._lock:
                        self._now = max(self._now, deadline)
                    return predicate()
                continue  # woken early: look at the predicate again
            if self._pause_until(nxt):
                self._run_next_before(deadline)
        return True
