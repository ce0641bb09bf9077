"""The ``ne555`` limit deriver: limits come from R1/R2/C and their tolerances, through
drivers.timing.ne555, and a plan with bad design values fails at load with its line."""

from __future__ import annotations

import math

import pytest

import edge.products  # noqa: F401  (registers the deriver)
from drivers.timing.ne555 import AstableDesign
from edge.plans import Parameter, PlanError, parse_plan
from edge.products.ne555 import COLD_START_FACTOR, astable_design, ne555_limits

PARAMS = {
    "R1": Parameter("R1", 150_000, "ohm", 0.05),
    "R2": Parameter("R2", 7_500, "ohm", 0.05),
    "C": Parameter("C", 47e-6, "F", 0.2),
    "pulse": Parameter("pulse", "low"),
    "timer_tolerance": Parameter("timer_tolerance", 0.02),
}
DESIGN = AstableDesign(150_000, 7_500, 47e-6, 0.05, 0.2, "low")


@pytest.mark.parametrize("quantity", ["pulse_width", "gap", "period", "duty"])
def test_limits_are_the_designs_worst_case_corners(quantity):
    expected = getattr(DESIGN.limits(0.02), quantity)
    limits = ne555_limits(PARAMS, quantity)
    assert (limits.low, limits.high, limits.units) == (expected.low, expected.high,
                                                       expected.units)
    assert limits.marginal_low is None


def test_the_pulse_is_the_short_low_phase_of_a_keepalive():
    nominal = DESIGN.nominal
    assert 0.1 < nominal.pulse_width < 0.5 and 2 < nominal.period < 10
    pw = ne555_limits(PARAMS, "pulse_width")
    assert nominal.pulse_width == pytest.approx(math.log(2) * 7_500 * 47e-6)
    assert pw.low < nominal.pulse_width < pw.high


def test_marginal_band_is_the_worst_case_of_parts_within_a_fraction_of_their_tolerance():
    limits = ne555_limits(PARAMS, "period", marginal_beyond=0.75)
    comfy = AstableDesign(150_000, 7_500, 47e-6, 0.0375, 0.15, "low").limits(0.015).period
    assert (limits.marginal_low, limits.marginal_high) == (comfy.low, comfy.high)
    assert limits.low < limits.marginal_low < DESIGN.nominal.period < limits.marginal_high
    assert limits.evaluate(limits.high * 0.99).value == "PASS-MARGINAL"


def test_first_pulse_is_the_cold_start_high_phase_plus_power_up():
    limits = ne555_limits(PARAMS, "first_pulse", power_up_s=0.1)
    highs = [c.t_high * COLD_START_FACTOR for c in DESIGN.corners(0.02)]
    assert limits.low == min(highs) and limits.high == max(highs) + 0.1
    high_pulse = dict(PARAMS, pulse=Parameter("pulse", "high"))
    assert ne555_limits(high_pulse, "first_pulse").high == 0.1  # the pulse starts at power-on


def test_the_looser_resistor_tolerance_is_used_for_both():
    params = dict(PARAMS, R1=Parameter("R1", 150_000, "ohm", 0.01))
    assert astable_design(params).r_tolerance == 0.05


PLAN = """\
[plan]
name = "t"
version = "1"
product = "T"
revision = "A"
serial_pattern = "T-[0-9]+"

[parameters]
R1 = { value = 150_000, units = "ohm", tolerance = 0.05 }
C = { value = 47e-6, units = "F", tolerance = 0.2 }
pulse = "low"

[[step]]
name = "timing"
type = "pulse_timing"
params = { input = "keepalive" }
[[step.measurement]]
name = "pulse_width"
limits = { derive = "ne555", quantity = "pulse_width" }
"""


def test_a_plan_missing_a_design_value_fails_at_load_with_the_line():
    with pytest.raises(PlanError) as info:
        parse_plan(PLAN, "t.toml")
    assert info.value.line == 19
    assert "limit deriver 'ne555' failed: ValueError: the plan's [parameters] need R2" in str(
        info.value)


def test_a_plan_with_an_unknown_quantity_fails_at_load():
    text = PLAN.replace('C = {', 'R2 = { value = 7_500, tolerance = 0.05 }\nC = {')
    with pytest.raises(PlanError, match="quantity 'width' is not one of pulse_width"):
        parse_plan(text.replace('quantity = "pulse_width"', 'quantity = "width"'), "t.toml")
