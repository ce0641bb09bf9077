"""The test record: what a run *is*, shared by the engine (which produces it), the store (which
makes it durable) and the sync and API (which read it). Plain immutable values (NamedTuples;
``Limits`` and ``RunMeta`` add a ``__new__`` that validates, or defaults a dict), no behaviour
beyond evaluating a value against its limits, so every layer agrees on one shape.

Times: ``*_utc`` are wall-clock ISO-8601 strings in UTC (what a human and the inventory want);
``duration_s`` is measured on the monotonic clock (a Pi without RTC may step its wall clock by
hours when NTP syncs mid-run; durations must not jump with it).
"""

import math
from enum import StrEnum
from typing import Any

from drivers.named_tuple import NamedTuple

MeasuredValue = float | int | bool | str | None


class Outcome(StrEnum):
    PASS = "PASS"
    MARGINAL = "PASS-MARGINAL"  # inside the limits but in the marginal band: passes, flagged
    FAIL = "FAIL"  # the DUT is bad
    ERROR = "ERROR"  # the station is at fault (fixture NACK, missing expander): DUT not judged
    ABORTED = "ABORTED"  # operator abort, or a run found interrupted by a crash / power cut
    SKIPPED = "SKIPPED"  # step not run because a critical step ended the run
    RUNNING = "RUNNING"  # only ever seen on a run or step not finished yet

    @property
    def passed(self) -> bool:
        return self in (Outcome.PASS, Outcome.MARGINAL)


# Severity order used to combine step outcomes into a run outcome: the worst one wins.
_SEVERITY = {
    Outcome.SKIPPED: 0,
    Outcome.PASS: 1,
    Outcome.MARGINAL: 2,
    Outcome.FAIL: 3,
    Outcome.ERROR: 4,
    Outcome.ABORTED: 5,
    Outcome.RUNNING: 6,
}


def worst(outcomes: list[Outcome] | tuple[Outcome, ...]) -> Outcome:
    """Combine outcomes: ABORTED > ERROR > FAIL > MARGINAL > PASS; no outcomes at all is PASS."""
    # One pass, no filtered list and no key function: this judges every attempt of every step
    # (issue 14 goal 2). SKIPPED ranks below PASS, so it never wins; on a tie the first stays.
    found, rank = Outcome.PASS, _SEVERITY[Outcome.PASS]
    for outcome in outcomes:
        severity = _SEVERITY[outcome]
        if severity > rank:
            found, rank = outcome, severity
    return found


# NamedTuples, not frozen dataclasses: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class), and `dataclasses` itself brings inspect,
# ast and dis (~4.5 ms): a third of a start (issue 14). A class that validates or defaults a
# field is a NamedTuple of its fields plus a subclass whose __new__ does it.
class _LimitsFields(NamedTuple):
    low: float | None = None
    high: float | None = None
    units: str = ""
    marginal_low: float | None = None
    marginal_high: float | None = None
    expected: MeasuredValue = None


class Limits(_LimitsFields):
    """Machine-readable limits. ``low``/``high`` are inclusive; either may be None (one-sided).
    ``marginal_low``/``marginal_high`` (inside the limits) bound the comfortable zone: a value
    within the limits but outside that zone is PASS-MARGINAL. ``expected`` is for exact checks
    (a read-back bit pattern, a boolean) and excludes low/high."""

    __slots__ = ()

    def _replace(self, **changes: Any) -> "Limits":
        # NamedTuple's own _replace skips __new__ (it builds the tuple directly): build anew,
        # so a changed value is checked as one given to the constructor is.
        return type(self)(**{**self._asdict(), **changes})

    def __new__(cls, *args: Any, **kwargs: Any) -> "Limits":
        self = super().__new__(cls, *args, **kwargs)
        if self.expected is not None and (self.low is not None or self.high is not None):
            raise ValueError("limits take either 'expected' or 'low'/'high', not both")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low limit {self.low} is above high limit {self.high}")
        if self.marginal_low is not None and self.low is not None and self.marginal_low < self.low:
            raise ValueError("marginal_low must lie inside the limits")
        mh = self.marginal_high
        if mh is not None and self.high is not None and mh > self.high:
            raise ValueError("marginal_high must lie inside the limits")
        return self

    def evaluate(self, value: MeasuredValue) -> Outcome:
        # The fields unpacked at once and a float taken as it is: every measurement of every
        # step comes through here (issue 14 goal 2).
        low, high, _units, marginal_low, marginal_high, expected = self
        if expected is not None:
            return Outcome.PASS if value == expected else Outcome.FAIL
        if type(value) is float:
            v = value
        elif value is None or isinstance(value, str | bool):
            return Outcome.FAIL if (low is not None or high is not None) else Outcome.PASS
        else:
            v = float(value)
        if math.isnan(v):
            return Outcome.FAIL
        if (low is not None and v < low) or (high is not None and v > high):
            return Outcome.FAIL
        if (marginal_low is not None and v < marginal_low) or (
            marginal_high is not None and v > marginal_high
        ):
            return Outcome.MARGINAL
        return Outcome.PASS

    def describe(self) -> str:
        """Human form for consoles: '4.5 ≤ x ≤ 5.5 V', '== 0x55'."""
        if self.expected is not None:
            return f"== {self.expected!r}"
        lo = "" if self.low is None else f"{self.low:g} ≤ "
        hi = "" if self.high is None else f" ≤ {self.high:g}"
        return f"{lo}x{hi} {self.units}".strip()


class Measurement(NamedTuple):
    """One measured value, its limits and the verdict against them."""

    name: str
    value: MeasuredValue
    limits: Limits
    outcome: Outcome

    @property
    def units(self) -> str:
        return self.limits.units

    @property
    def marginal(self) -> bool:
        return self.outcome is Outcome.MARGINAL


class Attempt(NamedTuple):
    """One try of a step (a step is retried when its plan allows), with its measurements."""

    number: int  # 1-based
    outcome: Outcome
    duration_s: float
    measurements: tuple[Measurement, ...] = ()
    error: str | None = None  # what went wrong, for humans; never a secret


class StepResult(NamedTuple):
    """A step's verdict: every attempt, the last one deciding."""

    index: int  # position in the plan, 0-based
    name: str
    outcome: Outcome
    started_utc: str
    ended_utc: str
    duration_s: float
    attempts: tuple[Attempt, ...] = ()
    critical: bool = False

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        """The measurements of the attempt that decided the step (the last one)."""
        return self.attempts[-1].measurements if self.attempts else ()

    @property
    def error(self) -> str | None:
        return self.attempts[-1].error if self.attempts else None


class _RunMetaFields(NamedTuple):
    run_id: str  # UUID minted at start: also the idempotency key for delivery
    serial: str
    product: str
    revision: str
    plan_name: str
    plan_version: str
    plan_hash: str  # sha256 of the plan file's bytes
    station_id: str
    fixture_id: str
    software_version: str
    started_utc: str
    clock_synced: bool  # False when the wall clock was not NTP-synchronised at start
    operator: str = ""
    batch: str = ""
    retest: bool = False  # this serial already had a run on record
    extra: dict[str, Any] | None = None  # (None: a new empty dict, see RunMeta)


class RunMeta(_RunMetaFields):
    """Everything known when a run starts, persisted before the first step runs. ``extra``
    left out (or None) is a new empty dict for each run."""

    __slots__ = ()
    extra: dict[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> "RunMeta":
        self = super().__new__(cls, *args, **kwargs)
        return self._replace(extra={}) if self.extra is None else self


class RunRecord(NamedTuple):
    """A whole run as stored: its metadata, verdict and steps."""

    meta: RunMeta
    outcome: Outcome
    ended_utc: str | None
    duration_s: float | None
    steps: tuple[StepResult, ...] = ()
    error: str | None = None  # run-level reason (abort reason, fixture check failure, crash)
