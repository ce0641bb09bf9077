"""Printing a run on a terminal: each step with its values against its limits, live, and a
verdict large enough to read from across the bench."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import TextIO

from edge import lazylog
from edge.engine import EventBus, Log, MeasurementTaken, RunStarted, StepFinished, StepStarted
from edge.engine.events import Gap
from edge.i18n import t
from edge.records import Measurement, Outcome, RunRecord

# Exit codes of `pibench run`: one per outcome, so scripts can tell them apart.
EXIT_CODES = {
    Outcome.PASS: 0,
    Outcome.FAIL: 1,
    Outcome.ERROR: 2,
    Outcome.ABORTED: 3,
    Outcome.MARGINAL: 4,
}
EXIT_USAGE = 64  # bad command line (sysexits EX_USAGE)
EXIT_BAD_INPUT = 65  # a serial or product that cannot be tested (EX_DATAERR)
EXIT_CONFIG = 78  # a broken configuration, plan or fixture file (EX_CONFIG)
# The result store cannot be used: read-only filesystem, disk full, database locked by another
# program, I/O error, or a file that is not (or no longer) a pibench database (EX_IOERR).
EXIT_STORAGE = 74
# Another process already owns this station (`pibench station` or `pibench run` on the same
# data directory); nothing was touched. Try again once it has finished (EX_TEMPFAIL).
EXIT_BUSY = 75

_MARK = {
    Outcome.PASS: "ok ",
    Outcome.MARGINAL: "~  ",
    Outcome.FAIL: "XX ",
    Outcome.ERROR: "!! ",
    Outcome.ABORTED: "-- ",
    Outcome.SKIPPED: "   ",
}


def format_value(m: Measurement) -> str:
    v = m.value
    if v is None:
        text = "none"
    elif isinstance(v, float):
        text = f"{v:.6g}"
    elif isinstance(v, int) and not isinstance(v, bool) and m.limits.expected is not None:
        text = f"{v:#06x}" if isinstance(m.limits.expected, int) else str(v)
    else:
        text = str(v)
    units = f" {m.units}" if m.units and not isinstance(v, bool) else ""
    return f"{text}{units}"


def format_limits(m: Measurement) -> str:
    lim = m.limits
    if lim.expected is not None:
        exp = lim.expected
        is_pattern = isinstance(exp, int) and not isinstance(exp, bool)
        return f"== {exp:#06x}" if is_pattern else f"== {exp}"
    return lim.describe()


_log = lazylog.getLogger("edge.console")


class GuardedOutput:
    """A terminal stream whose failure is its own business.

    Standard output may be a pipe to ``head`` that closes after two lines, a terminal that went
    away, or a reader that stopped reading. Writing there must never decide a run: the first
    error is reported once on standard error (and in the log), the stream's file descriptor is
    pointed at /dev/null so the interpreter's final flush cannot fail either, and every later
    write is dropped."""

    def __init__(self, out: TextIO, err: TextIO | None = None) -> None:
        self._out = out
        self._err = err
        self.failure: BaseException | None = None
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        if self.failure is None:
            try:
                return self._out.write(text)
            except Exception as exc:
                self._failed(exc)
        return len(text)

    def flush(self) -> None:
        if self.failure is None:
            try:
                self._out.flush()
            except Exception as exc:
                self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            if self.failure is not None:
                return
            self.failure = exc
        _log.info("standard output failed (%s: %s); the run goes on, its result is stored",
                  type(exc).__name__, exc)
        err = self._err if self._err is not None else sys.stderr
        # stderr gone too: the log line above is all we can do
        with contextlib.suppress(Exception):
            print(f"pibench: output stopped ({type(exc).__name__}: {exc}); the run goes on and "
                  "its result is stored", file=err, flush=True)
        try:
            fd = self._out.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        except Exception:  # not a real file (StringIO): nothing will flush it at exit
            pass


class LiveOutput:
    """Prints the engine's events from a thread of its own.

    The engine publishes into a bounded subscription and never waits for the screen: a blocked
    standard output holds up this thread only (if it falls too far behind, it is told how many
    events it missed), and a broken one is a :class:`GuardedOutput` failure. ``close()`` lets
    the thread print what is queued, then waits for it, so the verdict banner comes after the
    steps."""

    def __init__(self, bus: EventBus, out: TextIO, lang: str) -> None:
        self.out = out
        self._printer = LivePrinter(out, lang)
        self._sub = bus.subscribe(maxlen=4096, gather_progress=True)  # (see Event.progress)
        self._thread = threading.Thread(target=self._loop, name="pibench-screen", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        sub = self._sub
        while True:
            event = sub.get()
            if event is None:
                if sub.closed:
                    return
                continue
            try:
                if isinstance(event, Gap):
                    print(f"     … {event.seq - event.first_missed + 1} event(s) not shown "
                          "(the screen fell behind)", file=self.out)
                else:
                    self._printer(event)
            except Exception:  # a printer bug must not silence the rest of the run
                _log.exception("printing event %d failed", event.seq)

    def close(self, timeout: float | None = None) -> None:
        self._sub.close()
        self._thread.join(timeout)


class LivePrinter:
    """Prints one event as the engine goes (from :class:`LiveOutput`'s thread)."""

    def __init__(self, out: TextIO, lang: str) -> None:
        self.out = out
        self.lang = lang

    def __call__(self, event: object) -> None:
        out = self.out
        if isinstance(event, RunStarted):
            meta = event.meta
            retest = f"  ({t('retest', self.lang)})" if meta.retest else ""
            print(f"{meta.product} rev {meta.revision}  serial {meta.serial}{retest}", file=out)
            print(f"plan {meta.plan_name} v{meta.plan_version}  run {meta.run_id}", file=out)
        elif isinstance(event, StepStarted):
            retry = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            tag = "teardown: " if event.teardown else ""
            print(f"  -> {tag}{event.name}{retry}", file=out)
        elif isinstance(event, MeasurementTaken):
            m = event.measurement
            print(f"     {_MARK.get(m.outcome, '   ')}{m.name:<28} {format_value(m):>18}"
                  f"   [{format_limits(m)}]", file=out)
        elif isinstance(event, StepFinished):
            r = event.result
            error = f": {r.error}" if r.error and not r.outcome.passed else ""
            print(f"     {r.outcome.value} {r.name} ({r.duration_s * 1000:.1f} ms){error}",
                  file=out)
        elif isinstance(event, Log) and event.level >= 30:
            print(f"     ! {event.message}", file=out)
        out.flush()


def banner(record: RunRecord, lang: str) -> str:
    """The verdict, big: a framed line the technician reads from a metre away."""
    word = t(record.outcome.value, lang)
    other = t(record.outcome.value, "en" if lang == "fr" else "fr")
    text = f"{word}  /  {other}" if word != other else word
    width = max(len(text) + 8, 40)
    bar = "#" * width
    lines = [bar, f"##{text.center(width - 4)}##", bar]
    if record.error:
        lines.append(record.error)
    failed = [s for s in record.steps if s.outcome in (Outcome.FAIL, Outcome.ERROR)]
    for step in failed:
        bad = [m for m in step.measurements if not m.outcome.passed]
        detail = "; ".join(f"{m.name} = {format_value(m)} [{format_limits(m)}]" for m in bad)
        lines.append(f"  {step.outcome.value}: {step.name}"
                     + (f": {detail}" if detail else f": {step.error or ''}"))
    return "\n".join(lines)
