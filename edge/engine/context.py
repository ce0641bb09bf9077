"""What a step function sees: :class:`StepContext`, and the exceptions that decide its outcome.

Outcome rules (the engine applies them; step authors choose which one to raise):

* a measurement outside its limits -> **FAIL** (inside the marginal band -> PASS-MARGINAL);
* :class:`DutFailure` -> **FAIL**: the DUT is bad without a number to show for it ("no pulses
  within 2 s" is a DUT verdict: prefer ``ctx.measure("period", None)``, which FAILs against the
  declared limits and keeps the measurement in the record);
* :class:`StationError` or any ``OSError`` (drivers raise OSError subclasses carrying errno)
  -> **ERROR**: the station is at fault, the DUT is not judged;
* :class:`StepTimeout` -> **ERROR**: the step overran the time budget the plan gave it, which is
  a plan or station fault (a DUT that fails to respond should be caught by the step's own,
  shorter wait and reported as FAIL);
* any other exception -> **ERROR** with its type and message (full traceback to the log);
* :class:`RunAborted` -> **ABORTED**.

Timeouts are cooperative, never a thread per step: the step's deadline is checked in every
:meth:`StepContext.wait_until` / :meth:`sleep` / :meth:`check` / :meth:`measure` call and once
more when the function returns. A step blocked inside C code (an I2C transfer, a serial read)
cannot be interrupted; such calls must carry their own timeouts (the drivers' do), and the
overrun is still detected and reported as ERROR when control comes back.

:class:`StepTimeout` and :class:`RunAborted` derive from ``BaseException`` (like
``KeyboardInterrupt``) so a step's ``except Exception:`` cannot swallow them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from edge import lazylog
from edge.records import Limits, MeasuredValue, Measurement, Outcome, worst

if TYPE_CHECKING:
    import logging

    from drivers.clock import Clock
    from edge.plans.model import Parameter, Step


class StationError(Exception):
    """The station (fixture, instrument, wiring, plan/code mismatch) is at fault: ERROR.
    ``code`` is a stable word for the cause (clients translate it; the message is detail)."""

    code = "station_error"


class DutFailure(Exception):
    """The DUT is bad and there is no measurement to show it: FAIL with this message."""


class StepTimeout(BaseException):
    """The step used up its time budget (``timeout`` in the plan)."""


class RunAborted(BaseException):
    """The operator aborted the run."""


class AbortFlag:
    """Set from any thread, read by the engine and inside waits. A single attribute store is
    atomic in CPython, so readers need no lock; the writer notifies the clock so waits wake."""

    __slots__ = ("reason",)

    def __init__(self) -> None:
        self.reason: str | None = None


# Teardown and ``always`` steps get this one: it is never set, so they cannot be aborted.
NEVER_ABORTED = AbortFlag()


class StepLogger:
    """The step's logger: records go to Python logging (through ``edge/lazylog.py``'s stand-in
    until logging is imported) and, at INFO and above, to the event stream (as Log events) so the
    operator sees them live."""

    __slots__ = ("_emit", "_logger", "_prefix")

    def __init__(self, logger: logging.Logger, prefix: str, emit: Callable[[int, str], None]):
        self._logger = logger
        self._prefix = prefix
        self._emit = emit

    def log(self, level: int, message: str, *args: Any) -> None:
        text = message % args if args else message
        self._logger.log(level, "%s%s", self._prefix, text)
        if level >= lazylog.INFO:
            self._emit(level, text)

    def debug(self, message: str, *args: Any) -> None:
        self.log(lazylog.DEBUG, message, *args)

    def info(self, message: str, *args: Any) -> None:
        self.log(lazylog.INFO, message, *args)

    def warning(self, message: str, *args: Any) -> None:
        self.log(lazylog.WARNING, message, *args)

    def error(self, message: str, *args: Any) -> None:
        self.log(lazylog.ERROR, message, *args)


class StepContext:
    """Everything one attempt of one step may use. Created per attempt (a cheap slotted object);
    the engine reads back the measurements and judges the attempt."""

    __slots__ = ("_abort", "_limits", "_log", "_make_log", "_on_measure", "attempt", "clock",
                 "deadline", "fixture", "measurements", "parameters", "params", "step")

    def __init__(
        self,
        step: Step,
        attempt: int,
        *,
        fixture: Any,
        parameters: Mapping[str, Parameter],
        clock: Clock,
        deadline: float,
        abort: AbortFlag,
        on_measure: Callable[[Measurement], None],
        log: Callable[[], StepLogger],
    ) -> None:
        self.step = step
        self.attempt = attempt  # 1-based
        self.params = step.params
        self.parameters = parameters  # the plan's design values
        self.fixture = fixture
        self.clock = clock
        self.deadline = deadline  # on clock.now()'s time base
        # The step's logger is made on first use: most steps never log (issue 14 goal 2).
        self._log: StepLogger | None = None
        self._make_log = log
        self.measurements: dict[str, Measurement] = {}
        self._limits: Mapping[str, Limits] = step.measurements
        self._abort = abort
        self._on_measure = on_measure

    @property
    def log(self) -> StepLogger:
        """The step's logger (see :class:`StepLogger`)."""
        log = self._log
        if log is None:
            log = self._log = self._make_log()
        return log

    # -- measuring ---------------------------------------------------------------------------
    def measure(self, name: str, value: MeasuredValue) -> Measurement:
        """Judge ``value`` against the plan's limits for ``name`` now, record it (a repeat of
        the same name replaces the earlier value) and publish it. Then checks abort/deadline."""
        limits = self._limits.get(name)
        if limits is None:
            declared = ", ".join(self._limits) or "none"
            raise StationError(f"step '{self.step.name}' measured '{name}', which the plan does "
                               f"not declare (declared: {declared})")
        measurement = Measurement(name, value, limits, limits.evaluate(value))
        self.measurements[name] = measurement
        self._on_measure(measurement)
        self.check()
        return measurement

    def resource(self, param: str) -> Any:
        """The fixture resource named by the resource param ``param`` (e.g. "relay")."""
        return self.fixture.resource(self.params[param])

    # -- time and abort ----------------------------------------------------------------------
    @property
    def remaining(self) -> float:
        """Seconds left of the step's time budget."""
        return self.deadline - self.clock.now()

    def check(self) -> None:
        """Raise :class:`RunAborted` or :class:`StepTimeout` if due. Call it between operations
        in long loops that don't otherwise wait."""
        if self._abort.reason is not None:
            raise RunAborted(self._abort.reason)
        if self.clock.now() > self.deadline:
            raise self._timeout()

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait for ``predicate()``. Returns True once it holds, False when ``timeout`` (the
        step's own patience, e.g. "pulses within 2 s") runs out first. Raises
        :class:`StepTimeout` if the step's budget ends first, :class:`RunAborted` on abort."""
        now = self.clock.now()
        until = self.deadline if timeout is None else min(self.deadline, now + timeout)
        abort = self._abort
        held = self.clock.wait_until(lambda: abort.reason is not None or predicate(), until)
        if abort.reason is not None:
            raise RunAborted(abort.reason)
        if held:
            return True
        if self.clock.now() >= self.deadline:
            raise self._timeout()
        return False

    def sleep(self, seconds: float) -> None:
        """Let time pass (settling, a relay's bounce). Abortable; raises :class:`StepTimeout`
        if the sleep would outlast the step's budget (after sleeping up to the deadline)."""
        self.wait_until(_never, seconds)

    def _timeout(self) -> StepTimeout:
        return StepTimeout(f"step '{self.step.name}' exceeded its {self.step.timeout_s:g} s "
                           "time budget")

    # -- judging (used by the engine) ---------------------------------------------------------
    def verdict(self) -> tuple[Outcome, str | None]:
        """Outcome of an attempt whose function returned normally."""
        measured = self.measurements
        # measure() refuses undeclared names, so as many names as declared means none missing.
        if len(measured) == len(self._limits):
            return worst([m.outcome for m in measured.values()]), None
        missing = [n for n in self._limits if n not in measured]
        if missing:
            # A declared measurement never taken is a step-code bug, not a DUT verdict.
            return Outcome.ERROR, (f"step '{self.step.name}' finished without measuring "
                                   f"{', '.join(repr(n) for n in missing)}")
        return worst([m.outcome for m in self.measurements.values()]), None

    def take_returned(self, value: Any) -> None:
        """A step may return its values instead of calling measure(): a mapping of name ->
        value, or a bare value when it declares exactly one measurement."""
        if isinstance(value, Mapping):
            for name, v in value.items():
                self.measure(name, v)
        elif len(self._limits) == 1:
            self.measure(next(iter(self._limits)), value)
        else:
            raise StationError(f"step '{self.step.name}' returned a bare value but declares "
                               f"{len(self._limits)} measurements; return a dict name -> value")


def _never() -> bool:
    return False
