"""The station for the HMI's end-to-end tests: ``pibench station`` itself (its service and HTTP
API, on simulated hardware), with one test-only change: simulated time is *paced* (``--pace S``:
each simulated second takes S real seconds), so a run lasts long enough for a test to act in the
middle of it (abort, kill the HMI, kill the station). Nothing else is replaced, and the tests
never sleep for simulated time: they wait for what the screen shows.

    python tests/hmi/station_proc.py [--pace 0.05] -- station --no-console --config F
"""

from __future__ import annotations

import sys
import time


def install_pacing(pace: float) -> None:
    from drivers.clock import SimClock

    original = SimClock._run_next_before

    def paced_next(self, limit):
        before = self._now
        ran = original(self, limit)
        if ran and self._now > before:
            time.sleep((self._now - before) * pace)
        return ran

    def jump(self, t):  # time passing with no event in it is paced too
        if t > self._now:
            time.sleep((t - self._now) * pace)
            with self._lock:
                self._now = max(self._now, t)

    def paced_wait(self, predicate, deadline):
        while not predicate():
            if not self._run_next_before(deadline):
                jump(self, deadline)
                return predicate()
        return True

    def paced_advance_to(self, t):
        while self._run_next_before(t):
            pass
        jump(self, t)

    SimClock._run_next_before = paced_next
    SimClock.wait_until = paced_wait
    SimClock.advance_to = paced_advance_to


def main() -> int:
    """``station_proc.py [--pace S] -- <pibench arguments>``: pibench's own command line, with
    simulated time paced when asked."""
    argv = sys.argv[1:]
    pace = 0.0
    if argv[:1] == ["--pace"]:
        pace, argv = float(argv[1]), argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if pace > 0:
        install_pacing(pace)
    from edge.cli import main as pibench

    return pibench(argv)


if __name__ == "__main__":
    sys.exit(main())
