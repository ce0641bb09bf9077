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
which would deadlock. And it may run late: the kernel delivers a process signal to any thread,
and when that is not the main thread, the Python handler waits until the main thread next runs
bytecode, which for a step waiting on the clock can be many seconds. So the signal also goes
through :func:`signal.set_wakeup_fd`: CPython's C-level handler writes the signal number to a
pipe at once, whichever thread the kernel picked, and the helper thread reads it there (a
pipe, not a socket pair: the same wake-up on Linux, without importing ``socket``, ~2.4 ms of
every ``pibench run``).

A second signal while stopping changes nothing: the teardown is not abortable, by design.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StopSignals:
    """``with StopSignals(on_stop): ...``: while inside, a stop signal calls ``on_stop(name)``
    (once, from a helper thread). Outside the main thread it installs nothing (signal
    handlers can only be set there)."""

    def __init__(self, on_stop: Callable[[str], None]) -> None:
        self._on_stop = on_stop
        self.received: str | None = None  # name of the first stop signal, once one came
        self._stopped = False  # on_stop called (only the helper thread reads and writes it)
        self._previous: dict[int, object] = {}
        self._previous_wakeup = -1
        self._thread: threading.Thread | None = None
        self._reader: int | None = None  # the pipe's ends (file descriptors)
        self._writer: int | None = None

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        # The wakeup pipe has already told the helper thread; this runs (maybe later) in
        # the main thread and only makes sure the default action (death) never happens.
        self._note(signum)

    def _note(self, signum: int) -> None:
        """Record the first stop signal (the handler and the helper thread both call this).
        No lock: the handler may interrupt anything in the main thread, even itself."""
        if self.received is None:
            self.received = signal.Signals(signum).name

    def _watch(self, reader: int) -> None:
        while True:
            try:
                data = os.read(reader, 64)
            except OSError:
                return
            if not data:  # __exit__ closed the writer
                return
            for signum in data:
                if signum in STOP_SIGNALS and not self._stopped:
                    self._stopped = True  # once: a second signal changes nothing
                    self._note(signum)
                    self._on_stop(signal.Signals(signum).name)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        self._reader, self._writer = os.pipe()
        os.set_blocking(self._writer, False)  # a full pipe must never block the C handler
        self._thread = threading.Thread(target=self._watch, args=(self._reader,),
                                        name="pibench-stop", daemon=True)
        self._thread.start()
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        self._previous_wakeup = signal.set_wakeup_fd(self._writer, warn_on_full_buffer=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._writer is None:
            return
        signal.set_wakeup_fd(self._previous_wakeup)
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous.clear()
        os.close(self._writer)  # the helper thread sees end of file and returns
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._reader is not None:
            os.close(self._reader)
        self._writer = self._reader = None


__all__ = ["STOP_SIGNALS", "StopSignals"]
