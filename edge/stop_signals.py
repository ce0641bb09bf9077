"""SIGTERM, SIGINT and SIGHUP: stop the station the safe way, never in the middle of a step.

Python's defaults are wrong for a process that powers boards: SIGTERM and SIGHUP kill it at
once (the board under test stays powered, the run stays RUNNING), and SIGINT raises
KeyboardInterrupt wherever the main thread happens to be, possibly inside a step or a commit.
While a station process lives, :class:`StopSignals` replaces them with a handler that only
notes the signal; a small thread then asks the station to stop. The station aborts the run in
progress through the engine's own abort path: the step sees the abort at its next wait, the
remaining steps are recorded SKIPPED, the teardown powers the board off, and the run is stored
ABORTED naming the signal. Then the command exits with its documented code.

Why a thread, not the handler itself: a Python signal handler runs in the main thread between
two bytecodes, possibly while that thread holds a lock the abort needs (the clock's condition),
which would deadlock. The helper thread does the real work.

How the helper thread hears of the signal: through ``signal.set_wakeup_fd``, a pipe the C-level
handler writes the signal number into from whichever thread the kernel delivered the signal
to. Waiting for the Python-level handler instead is not enough: when the kernel hands the signal
to another thread while the main thread sleeps in a timed wait (a step waiting 8 s for a
pulse), the Python handler only runs when that wait ends, and the abort comes 8 s late (seen
under load, with a busy test machine).

A second signal while stopping changes nothing: the teardown is not abortable, by design.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StopSignals:
    """``with StopSignals(on_stop): ...``: while inside, a stop signal calls ``on_stop(name)``
    (once, from a helper thread). Outside the main thread it installs nothing (signals are
    only delivered to the main thread's handlers anyway)."""

    def __init__(self, on_stop: Callable[[str], None]) -> None:
        self._on_stop = on_stop
        self.received: str | None = None  # name of the first stop signal, once one came
        self._previous: dict[int, object] = {}
        self._thread: threading.Thread | None = None
        self._pipe: tuple[int, int] | None = None
        self._previous_wakeup = -1
        self._closing = False

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        # Runs in the main thread, possibly late (see the module docstring): the helper
        # thread has usually acted already; this only makes sure the name is recorded.
        if self.received is None:
            self.received = signal.Signals(signum).name

    def _watch(self, read_fd: int) -> None:
        stop_numbers = {int(s) for s in STOP_SIGNALS}
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data or self._closing:
                return
            numbers = [n for n in data if n in stop_numbers]
            if numbers:
                if self.received is None:
                    self.received = signal.Signals(numbers[0]).name
                self._on_stop(self.received)
                return

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)  # the C handler must never block on it
        self._pipe = (read_fd, write_fd)
        self._previous_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._watch, args=(read_fd,),
                                        name="pibench-stop", daemon=True)
        self._thread.start()
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous.clear()
        if self._pipe is None:
            return
        signal.set_wakeup_fd(self._previous_wakeup)
        self._closing = True
        read_fd, write_fd = self._pipe
        with contextlib.suppress(OSError):  # a full pipe already wakes the helper thread
            os.write(write_fd, b"\0")
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        os.close(read_fd)
        os.close(write_fd)
        self._pipe = None


__all__ = ["STOP_SIGNALS", "StopSignals"]
