"""The simulated NE555: component draws, faults, power, jitter, glitches and lost edges."""

from __future__ import annotations

import math
import statistics

import pytest

from drivers.timing.ne555 import AstableDesign
from drivers.timing.pulses import PulseCapture, TimestampedInput
from drivers.timing.sim_ne555 import COLD_START_FACTOR, ComponentValues, SimNE555

DESIGN = AstableDesign(680e3, 27e3, 10e-6, r_tolerance=0.01, c_tolerance=0.2, pulse="low")
NOMINAL = ComponentValues.nominal(DESIGN)


def _transitions(pin) -> list[tuple[float, bool]]:
    """The pin's history as (seconds since the previous change, level), initial state dropped."""
    return [(s.timestamp, s.state) for s in pin.states[1:]]


def test_drawn_components_are_within_tolerance_and_reproducible(factory, clock):
    for seed in range(50):
        parts = SimNE555(DESIGN, factory.pin(17), clock, seed=seed).components
        assert abs(parts.r1_ohm / DESIGN.r1_ohm - 1) <= DESIGN.r_tolerance
        assert abs(parts.r2_ohm / DESIGN.r2_ohm - 1) <= DESIGN.r_tolerance
        assert abs(parts.c_farad / DESIGN.c_farad - 1) <= DESIGN.c_tolerance
    again = SimNE555(DESIGN, factory.pin(17), clock, seed=3).components
    assert again == SimNE555(DESIGN, factory.pin(17), clock, seed=3).components
    assert again != SimNE555(DESIGN, factory.pin(17), clock, seed=4).components


def test_truth_follows_the_fitted_components(factory, clock):
    sim = SimNE555(DESIGN, factory.pin(17), clock, seed=1)
    parts = sim.components
    assert sim.truth.t_low == pytest.approx(math.log(2) * parts.r2_ohm * parts.c_farad)
    limits = DESIGN.limits()
    assert sim.truth.pulse_width in limits.pulse_width and sim.truth.duty in limits.duty


def test_a_wrong_timing_resistor_is_caught_by_the_limits(factory, clock):
    # 2.7 kΩ fitted instead of 27 kΩ: the keep-alive pulse is ten times too short.
    wrong = ComponentValues(680e3, 2.7e3, 10e-6)
    sim = SimNE555(DESIGN, factory.pin(17), clock, components=wrong, start_phase=0.0)
    device = TimestampedInput(17, pin_factory=factory)
    sim.power_on()
    stats = PulseCapture(
        device, polarity="low", cycles=3, expected_period=DESIGN.limits().period.high, clock=clock
    ).measure()
    assert stats.pulse_width.mean == pytest.approx(sim.truth.pulse_width)
    assert stats.pulse_width.max not in DESIGN.limits().pulse_width
    device.close()


def test_nominal_unit_produces_exact_phases(factory, clock):
    pin = factory.pin(17)
    sim = SimNE555(DESIGN, pin, clock, components=NOMINAL, start_phase=0.0)
    sim.power_on()
    clock.advance(3 * sim.truth.period + 0.01)
    t_high, t_low = sim.truth.t_high, sim.truth.t_low
    expected = [(True, t_high), (False, t_low)] * 3 + [(True, t_high)]
    assert [(p.level, p.duration) for p in sim.phases] == expected
    history = _transitions(pin)
    assert [level for _, level in history] == [True, False] * 3 + [True]
    assert [dt for dt, _ in history[1:]] == pytest.approx([t_high, t_low] * 3, rel=1e-12)


def test_cold_start_makes_the_first_high_phase_longer(factory, clock):
    sim = SimNE555(DESIGN, factory.pin(17), clock, components=NOMINAL)
    sim.power_on()
    first = sim.phases[0]
    assert first.level is True
    assert first.duration == pytest.approx(sim.truth.t_high * math.log(3) / math.log(2))
    assert math.isclose(COLD_START_FACTOR, 1.585, abs_tol=1e-3)


@pytest.mark.parametrize(
    ("start_phase", "level", "fraction_of_phase_left"),
    [(0.0, True, 1.0), (0.5, True, None), (0.99, False, None)],
)
def test_start_phase_sets_where_the_first_cycle_begins(
    factory, clock, start_phase, level, fraction_of_phase_left
):
    sim = SimNE555(DESIGN, factory.pin(17), clock, components=NOMINAL, start_phase=start_phase)
    sim.power_on()
    first = sim.phases[0]
    truth = sim.truth
    assert first.level is level
    position = start_phase * truth.period
    remaining = truth.t_high - position if level else truth.period - position
    assert first.duration == pytest.approx(remaining)
    if fraction_of_phase_left is not None:
        assert first.duration == pytest.approx(fraction_of_phase_left * truth.t_high)


def test_power_off_holds_the_output_low_and_stops_edges(factory, clock):
    pin = factory.pin(17)
    sim = SimNE555(DESIGN, pin, clock, components=NOMINAL, start_phase=0.0)
    sim.power_on()
    clock.advance(2.0)
    sim.power_off()
    assert pin.state is False and not sim.powered
    changes = len(pin.states)
    clock.advance(100.0)  # the already scheduled edges fire and are ignored
    assert len(pin.states) == changes
    sim.power_on()  # a fresh cold start
    assert pin.state is True
    clock.advance(100.0)
    assert len(pin.states) > changes + 10


def test_jitter_has_the_requested_spread(factory, clock):
    sim = SimNE555(DESIGN, factory.pin(17), clock, components=NOMINAL, jitter=0.02, seed=5)
    sim.power_on()
    clock.advance(400 * sim.truth.period)
    lows = [p.duration / sim.truth.t_low for p in sim.phases[1:] if not p.level]
    assert len(lows) > 300
    assert statistics.fmean(lows) == pytest.approx(1.0, abs=0.005)
    assert statistics.stdev(lows) == pytest.approx(0.02, rel=0.15)


def test_glitches_are_short_spikes_inside_phases(factory, clock):
    pin = factory.pin(17)
    sim = SimNE555(
        DESIGN,
        pin,
        clock,
        components=NOMINAL,
        glitch_rate_hz=2.0,
        glitch_width_s=(50e-6, 500e-6),
        start_phase=0.0,
        seed=2,
    )
    sim.power_on()
    clock.advance(20 * sim.truth.period)
    # Skip the power-on edge: it comes at the instant the pin was created (dt = 0).
    short = [dt for dt, _ in _transitions(pin)[1:] if dt < 0.001]
    assert sim.glitches_injected > 50
    # Every glitch leaves and returns: one short interval per glitch, each within the width range.
    assert len(short) == sim.glitches_injected
    assert all(50e-6 <= dt <= 500e-6 + 1e-12 for dt in short)


def test_lost_edges_change_the_level_without_an_event(factory, clock):
    pin = factory.pin(17)
    events = []

    def on_change(ticks, state):
        events.append(state)

    pin.when_changed = on_change
    sim = SimNE555(DESIGN, pin, clock, components=NOMINAL, missing_edge_probability=0.2, seed=9)
    sim.power_on()
    clock.advance(50 * sim.truth.period)
    changes = len(pin.states) - 1
    assert sim.edges_hidden > 5
    assert len(events) == changes - sim.edges_hidden


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"jitter": 0.5}, "jitter"),
        ({"glitch_rate_hz": -1.0}, "glitch_rate_hz"),
        ({"glitch_width_s": (1e-3, 1e-4)}, "glitch_width_s"),
        ({"missing_edge_probability": 1.0}, "missing_edge_probability"),
        ({"start_phase": 1.0}, "start_phase"),
    ],
)
def test_invalid_settings_are_refused(factory, clock, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimNE555(DESIGN, factory.pin(17), clock, **kwargs)
