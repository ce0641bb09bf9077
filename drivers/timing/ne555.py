"""NE555 astable timing: datasheet formulas, and pass bands computed from component tolerances.

Pass bands come from the circuit, never from the instrument (edge timestamps are good to µs,
capacitors to ±20 %), and they are computed here from the design, never typed in by hand.
"""

import itertools
import math
from typing import Any, Literal

from drivers.named_tuple import NamedTuple

Polarity = Literal["high", "low"]
POLARITIES: tuple[Polarity, ...] = ("high", "low")

# The datasheet's 0.693 is ln 2: the capacitor swings between 1/3 and 2/3 of VCC, and charging
# (or discharging) across that band takes RC·ln 2.
ASTABLE_K = math.log(2)

# A tolerance of 50 % or more is a typo, not a component.
_MAX_TOLERANCE = 0.5


# NamedTuples, not frozen dataclasses: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class Limit(NamedTuple):
    """A closed pass band ``[low, high]`` in ``units``."""

    low: float
    high: float
    units: str

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"[{self.low:.6g}, {self.high:.6g}] {self.units}"


class AstableLimits(NamedTuple):
    """Worst-case pass bands for one design; ``pulse_width`` is the load pulse, ``gap`` the rest."""

    pulse_width: Limit
    gap: Limit
    period: Limit
    duty: Limit


class AstableTiming(NamedTuple):
    """The two phases of one astable, named by output level, and what they mean for the pulse."""

    t_high: float
    t_low: float
    pulse: Polarity

    @property
    def period(self) -> float:
        return self.t_high + self.t_low

    @property
    def pulse_width(self) -> float:
        return self.t_high if self.pulse == "high" else self.t_low

    @property
    def gap(self) -> float:
        return self.t_low if self.pulse == "high" else self.t_high

    @property
    def duty(self) -> float:
        return self.pulse_width / self.period


def astable_phases(
    r1_ohm: float, r2_ohm: float, c_farad: float, *, steering_diode: bool = False
) -> tuple[float, float]:
    """``(t_high, t_low)`` in seconds; a steering diode across R2 charges through R1 alone."""
    charge_ohm = r1_ohm if steering_diode else r1_ohm + r2_ohm
    return ASTABLE_K * charge_ohm * c_farad, ASTABLE_K * r2_ohm * c_farad


class _AstableDesignFields(NamedTuple):
    r1_ohm: float
    r2_ohm: float
    c_farad: float
    r_tolerance: float
    c_tolerance: float
    pulse: Polarity
    steering_diode: bool = False


class AstableDesign(_AstableDesignFields):
    """A basic NE555 astable: nominal R1, R2, C with their fractional tolerances.

    ``pulse`` says which output level is the load pulse. A basic astable's high phase is always
    the longer one, so a short keep-alive pulse is usually the LOW phase (or the circuit has a
    steering diode across R2).
    """

    __slots__ = ()

    # (a NamedTuple whose __new__ validates, not a dataclass with __post_init__: see above)
    def _replace(self, **changes: Any) -> "AstableDesign":
        # NamedTuple's own _replace skips __new__ (it builds the tuple directly): build anew,
        # so a changed value is checked as one given to the constructor is.
        return type(self)(**{**self._asdict(), **changes})

    def __new__(cls, *args: Any, **kwargs: Any) -> "AstableDesign":
        self = super().__new__(cls, *args, **kwargs)
        for name in ("r1_ohm", "r2_ohm", "c_farad"):
            _require_positive(name, getattr(self, name))
        _require_tolerance("r_tolerance", self.r_tolerance)
        _require_tolerance("c_tolerance", self.c_tolerance)
        _require_polarity(self.pulse)
        return self

    def timing(
        self,
        r1_ohm: float | None = None,
        r2_ohm: float | None = None,
        c_farad: float | None = None,
    ) -> AstableTiming:
        """Timing with the given component values (each defaults to its nominal value)."""
        t_high, t_low = astable_phases(
            self.r1_ohm if r1_ohm is None else r1_ohm,
            self.r2_ohm if r2_ohm is None else r2_ohm,
            self.c_farad if c_farad is None else c_farad,
            steering_diode=self.steering_diode,
        )
        return AstableTiming(t_high, t_low, self.pulse)

    @property
    def nominal(self) -> AstableTiming:
        return self.timing()

    def corners(self, timer_tolerance: float = 0.0) -> list[AstableTiming]:
        """Timing at every tolerance corner.

        R1, R2 and C each sit at −tol or +tol (8 corners); ``timer_tolerance`` then scales the
        high and low phases independently by 1 ± it (×4), covering the 555's own threshold
        spread. Every quantity is monotonic in each of these factors, so the corners hold the
        exact extremes; duty's extremes need R1 and R2 at opposite ends, hence the full set.
        """
        _require_tolerance("timer_tolerance", timer_tolerance)
        r_sides = (1 - self.r_tolerance, 1 + self.r_tolerance)
        c_sides = (1 - self.c_tolerance, 1 + self.c_tolerance)
        t_sides = (1 - timer_tolerance, 1 + timer_tolerance)
        result = []
        for r1_k, r2_k, c_k, high_k, low_k in itertools.product(
            r_sides, r_sides, c_sides, t_sides, t_sides
        ):
            timing = self.timing(self.r1_ohm * r1_k, self.r2_ohm * r2_k, self.c_farad * c_k)
            result.append(AstableTiming(timing.t_high * high_k, timing.t_low * low_k, self.pulse))
        return result

    def limits(self, timer_tolerance: float = 0.0) -> AstableLimits:
        """Worst-case pass bands over :meth:`corners`."""
        corners = self.corners(timer_tolerance)

        def band(quantity: str, units: str) -> Limit:
            values = [getattr(corner, quantity) for corner in corners]
            return Limit(min(values), max(values), units)

        return AstableLimits(
            pulse_width=band("pulse_width", "s"),
            gap=band("gap", "s"),
            period=band("period", "s"),
            duty=band("duty", "ratio"),
        )


def _require_positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _require_tolerance(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0 <= value < _MAX_TOLERANCE):
        raise ValueError(
            f"{name} must be a fraction in [0, {_MAX_TOLERANCE}) (0.05 means ±5 %), got {value!r}"
        )


def _require_polarity(value: str) -> None:
    if value not in POLARITIES:
        raise ValueError(f"pulse must be 'high' or 'low', got {value!r}")
