"""NE555 astable formulas and worst-case limits."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.timing.ne555 import AstableDesign, Limit, astable_phases

LN2 = 0.6931471805599453

# The keep-alive the station tests: a 187 ms LOW pulse every 5.09 s (10 µF electrolytic, ±20 %).
KEEP_ALIVE = AstableDesign(680e3, 27e3, 10e-6, r_tolerance=0.01, c_tolerance=0.2, pulse="low")


def test_basic_astable_formulas_by_hand():
    # t_low = ln2·R2·C = 0.693147·27 kΩ·10 µF; t_high = ln2·(R1+R2)·C = 0.693147·707 kΩ·10 µF.
    nominal = KEEP_ALIVE.nominal
    assert nominal.t_low == pytest.approx(0.1871497, rel=1e-6)
    assert nominal.t_high == pytest.approx(4.9005506, rel=1e-6)
    assert nominal.period == pytest.approx(5.0877003, rel=1e-6)
    assert nominal.pulse_width == nominal.t_low and nominal.gap == nominal.t_high
    # duty = R2 / (R1 + 2·R2) = 27 / 734
    assert nominal.duty == pytest.approx(27 / 734, rel=1e-12)


def test_steering_diode_charges_through_r1_only():
    design = AstableDesign(
        100e3, 1.2e6, 4.7e-6, r_tolerance=0.01, c_tolerance=0.1, pulse="high", steering_diode=True
    )
    # t_high = ln2·100 kΩ·4.7 µF, t_low = ln2·1.2 MΩ·4.7 µF
    assert design.nominal.t_high == pytest.approx(0.3257792, rel=1e-6)
    assert design.nominal.t_low == pytest.approx(3.9093501, rel=1e-6)
    assert design.nominal.pulse_width == design.nominal.t_high
    assert design.nominal.duty == pytest.approx(100 / 1300, rel=1e-12)


def test_polarity_swaps_pulse_and_gap():
    high = AstableDesign(1e3, 150e3, 1e-6, r_tolerance=0.0, c_tolerance=0.0, pulse="high")
    timing = high.nominal
    assert (timing.pulse_width, timing.gap) == (timing.t_high, timing.t_low)
    assert timing.duty == pytest.approx(151 / 301)


def test_limits_by_hand():
    limits = KEEP_ALIVE.limits()
    low_phase = LN2 * 27e3 * 10e-6
    period = LN2 * 734e3 * 10e-6
    assert limits.pulse_width == Limit(
        pytest.approx(low_phase * 0.99 * 0.8), pytest.approx(low_phase * 1.01 * 1.2), "s"
    )
    assert limits.period.low == pytest.approx(period * 0.99 * 0.8)
    assert limits.period.high == pytest.approx(period * 1.01 * 1.2)
    # Duty needs R1 and R2 at opposite corners; C cancels out.
    assert limits.duty.high == pytest.approx(27.27 / (673.2 + 2 * 27.27))
    assert limits.duty.low == pytest.approx(26.73 / (686.8 + 2 * 26.73))
    assert limits.duty.units == "ratio"
    assert limits.gap.units == "s"


def test_duty_extremes_are_not_the_all_high_or_all_low_corner():
    limits = KEEP_ALIVE.limits()
    same_side = [KEEP_ALIVE.timing(680e3 * k, 27e3 * k, 10e-6).duty for k in (0.99, 1.01)]
    assert limits.duty.low < min(same_side) and max(same_side) < limits.duty.high


def test_timer_tolerance_widens_every_time():
    plain, widened = KEEP_ALIVE.limits(), KEEP_ALIVE.limits(timer_tolerance=0.02)
    assert widened.pulse_width.high == pytest.approx(plain.pulse_width.high * 1.02)
    assert widened.gap.low == pytest.approx(plain.gap.low * 0.98)
    assert widened.duty.low < plain.duty.low and widened.duty.high > plain.duty.high


def test_limit_membership():
    band = Limit(1.0, 2.0, "s")
    assert 1.0 in band and 2.0 in band and 1.5 in band
    assert 0.999 not in band and 2.001 not in band


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"r1_ohm": 0}, "r1_ohm must be a positive"),
        ({"r2_ohm": -5}, "r2_ohm must be a positive"),
        ({"c_farad": float("nan")}, "c_farad must be a positive"),
        ({"r_tolerance": 0.5}, r"r_tolerance must be a fraction in \[0, 0.5\)"),
        ({"c_tolerance": -0.01}, "c_tolerance must be a fraction"),
        ({"pulse": "both"}, "pulse must be 'high' or 'low'"),
    ],
)
def test_invalid_designs_are_refused(kwargs, message):
    args = {
        "r1_ohm": 1e3,
        "r2_ohm": 1e3,
        "c_farad": 1e-6,
        "r_tolerance": 0.01,
        "c_tolerance": 0.1,
        "pulse": "low",
    }
    with pytest.raises(ValueError, match=message):
        AstableDesign(**(args | kwargs))


def test_invalid_timer_tolerance_is_refused():
    with pytest.raises(ValueError, match="timer_tolerance"):
        KEEP_ALIVE.limits(timer_tolerance=0.7)


# --- Property tests: limits contain every in-tolerance board, and are attained ----------------

designs = st.builds(
    AstableDesign,
    r1_ohm=st.floats(1e3, 2e6),
    r2_ohm=st.floats(1e3, 2e6),
    c_farad=st.floats(1e-7, 1e-4),
    r_tolerance=st.floats(0, 0.1),
    c_tolerance=st.floats(0, 0.3),
    pulse=st.sampled_from(["high", "low"]),
    steering_diode=st.booleans(),
)
unit = st.floats(-1, 1)


def _quantities(t_high: float, t_low: float, pulse: str) -> dict[str, float]:
    # An independent restatement of the definitions, so the test doesn't grade its own homework.
    width, gap = (t_high, t_low) if pulse == "high" else (t_low, t_high)
    return {"pulse_width": width, "gap": gap, "period": width + gap, "duty": width / (width + gap)}


def _board(design, r1_k, r2_k, c_k, high_k, low_k, timer_tolerance):
    t_high, t_low = astable_phases(
        design.r1_ohm * (1 + r1_k * design.r_tolerance),
        design.r2_ohm * (1 + r2_k * design.r_tolerance),
        design.c_farad * (1 + c_k * design.c_tolerance),
        steering_diode=design.steering_diode,
    )
    return _quantities(
        t_high * (1 + high_k * timer_tolerance), t_low * (1 + low_k * timer_tolerance), design.pulse
    )


@given(designs, st.floats(0, 0.05), unit, unit, unit, unit, unit)
def test_every_in_tolerance_board_is_within_limits(design, timer_tol, r1, r2, c, th, tl):
    limits = design.limits(timer_tolerance=timer_tol)
    board = _board(design, r1, r2, c, th, tl, timer_tol)
    for name, value in board.items():
        band = getattr(limits, name)
        slack = 1e-12 * abs(value)  # float rounding only
        assert band.low - slack <= value <= band.high + slack, (name, value, band)


@given(designs, st.floats(0, 0.05))
def test_limits_are_tight(design, timer_tol):
    limits = design.limits(timer_tolerance=timer_tol)
    corner_boards = [
        _board(design, *signs, timer_tol) for signs in itertools.product((-1, 1), repeat=5)
    ]
    for name in ("pulse_width", "gap", "period", "duty"):
        values = [board[name] for board in corner_boards]
        band = getattr(limits, name)
        # Some real board hits each bound: nothing is added on top of the circuit's own spread.
        assert math.isclose(band.low, min(values), rel_tol=1e-12)
        assert math.isclose(band.high, max(values), rel_tol=1e-12)
