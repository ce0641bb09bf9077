"""The NE555 astable as a plan describes it, and the ``ne555`` limit deriver.

A plan gives the circuit in ``[parameters]`` and gets its pass bands computed from it, never
typed in (bands come from the circuit, not the instrument: docs/hardware-notes.md, "NE555 keep-alive
timing")::

    [parameters]
    R1 = { value = 150_000, units = "ohm", tolerance = 0.05 }
    R2 = { value = 7_500, units = "ohm", tolerance = 0.05 }
    C = { value = 47e-6, units = "F", tolerance = 0.20 }
    pulse = "low"                   # which output level is the keep-alive pulse
    timer_tolerance = 0.02          # optional: the 555's own threshold spread
    steering_diode = false          # optional: a diode across R2 (t_high = 0.693·R1·C)

    [[step.measurement]]
    name = "period"
    limits = { derive = "ne555", quantity = "period", marginal_beyond = 0.75 }

Quantities: ``pulse_width``, ``gap``, ``period``, ``duty`` (worst case over every tolerance
corner, :meth:`AstableDesign.limits`) and ``first_pulse``, the time from power-on to the start
of the first pulse. ``marginal_beyond = f`` flags as PASS-MARGINAL a value that only parts
beyond ``f`` of their tolerance can produce: the comfortable band is the worst case with every
tolerance scaled by ``f``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from drivers.timing.ne555 import AstableDesign, Polarity
from edge.plans.model import Parameter
from edge.plans.steptypes import limit_deriver
from edge.records import Limits

NE555_PARAMETERS = ("R1", "R2", "C")
QUANTITIES = ("pulse_width", "gap", "period", "duty", "first_pulse")
# From power-on the timing capacitor charges from 0 V rather than from 1/3 VCC, so the first
# high phase takes RC·ln 3 instead of RC·ln 2.
COLD_START_FACTOR = math.log(3) / math.log(2)
# Supply rise and relay closure before the 555 starts: allowed on top of the first pulse.
DEFAULT_POWER_UP_S = 0.1


def has_ne555(parameters: Mapping[str, Parameter]) -> bool:
    return all(name in parameters for name in NE555_PARAMETERS)


def _number(parameters: Mapping[str, Parameter], name: str, example: str) -> Parameter:
    parameter = parameters.get(name)
    if parameter is None:
        raise ValueError(f"the plan's [parameters] need {name} (e.g. {name} = {example})")
    if isinstance(parameter.value, bool) or not isinstance(parameter.value, int | float):
        raise ValueError(f"parameter {name} must be a number, not {parameter.value!r}")
    return parameter


def pulse_polarity(parameters: Mapping[str, Parameter]) -> Polarity:
    parameter = parameters.get("pulse")
    value = parameter.value if parameter is not None else None
    if value not in ("high", "low"):
        raise ValueError('the plan\'s [parameters] need pulse = "low" or "high" (which 555 '
                         f"output level is the keep-alive pulse), got {value!r}")
    return value  # type: ignore[return-value]


def timer_tolerance(parameters: Mapping[str, Parameter]) -> float:
    parameter = parameters.get("timer_tolerance")
    return float(parameter.value) if parameter is not None else 0.0


def astable_design(parameters: Mapping[str, Parameter], scale: float = 1.0) -> AstableDesign:
    """The design from the plan's parameters; ``scale`` multiplies every tolerance."""
    r1 = _number(parameters, "R1", '{ value = 150_000, units = "ohm", tolerance = 0.05 }')
    r2 = _number(parameters, "R2", '{ value = 7_500, units = "ohm", tolerance = 0.05 }')
    c = _number(parameters, "C", '{ value = 47e-6, units = "F", tolerance = 0.2 }')
    diode = parameters.get("steering_diode")
    # AstableDesign takes one resistor tolerance: the looser of the two is the honest choice.
    r_tolerance = max(r1.tolerance or 0.0, r2.tolerance or 0.0)
    return AstableDesign(
        r1_ohm=float(r1.value), r2_ohm=float(r2.value), c_farad=float(c.value),
        r_tolerance=r_tolerance * scale, c_tolerance=(c.tolerance or 0.0) * scale,
        pulse=pulse_polarity(parameters),
        steering_diode=bool(diode.value) if diode is not None else False,
    )


def _band(design: AstableDesign, timer_tol: float, quantity: str,
          power_up_s: float) -> tuple[float, float, str]:
    if quantity == "first_pulse":
        if design.pulse == "high":
            return 0.0, power_up_s, "s"  # the output rises as soon as the 555 is powered
        firsts = [corner.t_high * COLD_START_FACTOR for corner in design.corners(timer_tol)]
        return min(firsts), max(firsts) + power_up_s, "s"
    limit = getattr(design.limits(timer_tol), quantity)
    return limit.low, limit.high, limit.units


@limit_deriver("ne555")
def ne555_limits(parameters: Mapping[str, Parameter], quantity: str,
                 marginal_beyond: float | None = None,
                 power_up_s: float = DEFAULT_POWER_UP_S) -> Limits:
    """Worst-case limits of one astable quantity from R1/R2/C and their tolerances."""
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity {quantity!r} is not one of {', '.join(QUANTITIES)}")
    design = astable_design(parameters)
    timer_tol = timer_tolerance(parameters)
    low, high, units = _band(design, timer_tol, quantity, power_up_s)
    if marginal_beyond is None:
        return Limits(low=low, high=high, units=units)
    if not 0 < marginal_beyond < 1:
        raise ValueError(f"marginal_beyond is a fraction of the tolerances, between 0 and 1, "
                         f"got {marginal_beyond!r}")
    comfy = astable_design(parameters, scale=marginal_beyond)
    m_low, m_high, _ = _band(comfy, timer_tol * marginal_beyond, quantity, power_up_s)
    return Limits(low=low, high=high, units=units, marginal_low=m_low, marginal_high=m_high)
