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
which would deadlock. Setting a :class:`threading.Event` is safe there; the thread waiting on it
does the real work.

A second signal while stopping changes nothing: the teardown is not abortable, by design.
"""

from __future__ import annotations

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
        self._event = threading.Event()
        self.received: str | None = None  # name of the first stop signal, once one came
        self._previous: dict[int, object] = {}
        self._thread: threading.Thread | None = None

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signal.Signals(signum).name
        self._event.set()

    def _watch(self) -> None:
        self._event.wait()
        if self.received is not None:  # not just __exit__ waking us
            self._on_stop(self.received)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        self._thread = threading.Thread(target=self._watch, name="pibench-stop", daemon=True)
        self._thread.start()
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous.clear()
        if self._thread is not None:
            self._event.set()
            self._thread.join(timeout=5)
            self._thread = None


__all__ = ["STOP_SIGNALS", "StopSignals"]
