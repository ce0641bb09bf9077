"""Pulse statistics on hand-made edge lists, and PulseCapture end to end on simulated time."""

from __future__ import annotations

import gc
import threading

import pytest
from gpiozero import DigitalInputDevice
from gpiozero.pins.mock import MockFactory

from drivers.clock import MonotonicClock
from drivers.timing.ne555 import AstableDesign
from drivers.timing.pulses import (
    Edge,
    NoPulsesError,
    PulseCapture,
    Summary,
    TimestampedInput,
    TooFewCyclesError,
    analyse_edges,
    filter_glitches,
)
from drivers.timing.sim_ne555 import ComponentValues, SimNE555

T0 = 1000.0


def edges(*spec: str) -> list[Edge]:
    """``edges("H1.0", "L1.2")``: level letter then seconds after T0."""
    return [Edge(T0 + float(item[1:]), item[0] == "H") for item in spec]


# A clean 200 ms high pulse every 2 s, starting mid-pulse (the first fall ends a partial pulse).
HIGH_PULSES = edges("L0.05", "H1.0", "L1.2", "H3.0", "L3.2", "H5.0")


# --- Pure statistics --------------------------------------------------------------------------


def test_partial_first_pulse_is_discarded_for_high_pulses():
    analysis = analyse_edges(HIGH_PULSES, "high")
    boundaries = [(c.start, c.pulse_end, c.end) for c in analysis.cycles]
    assert boundaries == [(T0 + 1.0, T0 + 1.2, T0 + 3.0), (T0 + 3.0, T0 + 3.2, T0 + 5.0)]
    for cycle in analysis.cycles:
        assert cycle.pulse_width == pytest.approx(0.2)
        assert cycle.gap == pytest.approx(1.8)
        assert cycle.period == pytest.approx(2.0)
        assert cycle.duty == pytest.approx(0.1)


def test_low_polarity_cuts_cycles_at_falling_edges():
    # Same edges read as low pulses: the first fall starts a complete low pulse.
    analysis = analyse_edges(HIGH_PULSES, "low")
    widths = [round(c.pulse_width, 9) for c in analysis.cycles]
    gaps = [round(c.gap, 9) for c in analysis.cycles]
    assert widths == [0.95, 1.8] and gaps == [0.2, 0.2]


def test_summary_uses_the_sample_standard_deviation():
    summary = Summary.of([0.1, 0.2, 0.3])
    assert (summary.min, summary.max) == (0.1, 0.3)
    assert summary.mean == pytest.approx(0.2)
    assert summary.std == pytest.approx(0.1)  # population std would be 0.0816
    assert Summary.of([0.5]).std == 0.0


def test_a_spike_in_the_gap_is_merged_away():
    noisy = edges("H1.0", "L1.2", "H2.0", "L2.0003", "H3.0", "L3.2", "H5.0")
    analysis = analyse_edges(noisy, "high", glitch_filter=0.001)
    assert analysis.glitches_dropped == 1
    assert [round(c.period, 9) for c in analysis.cycles] == [2.0, 2.0]
    assert [round(c.pulse_width, 9) for c in analysis.cycles] == [0.2, 0.2]


def test_a_dip_inside_the_pulse_is_merged_away():
    noisy = edges("H1.0", "L1.1", "H1.1002", "L1.2", "H3.0")
    kept, dropped = filter_glitches(noisy, 0.001)
    assert dropped == 1 and kept == edges("H1.0", "L1.2", "H3.0")


def test_without_a_filter_a_spike_is_a_short_cycle():
    noisy = edges("H1.0", "L1.2", "H2.0", "L2.0003", "H3.0")
    assert len(analyse_edges(noisy, "high").cycles) == 2


def test_a_lost_edge_resynchronises_on_the_next_pulse_start():
    # The fall at 3.2 was lost: H3.0 is followed by H5.0.
    lossy = edges("H1.0", "L1.2", "H3.0", "H5.0", "L5.2", "H7.0", "L7.2", "H9.0")
    analysis = analyse_edges(lossy, "high")
    assert analysis.lost_edges == 1
    assert [c.start for c in analysis.cycles] == [T0 + 1.0, T0 + 5.0, T0 + 7.0]
    assert all(c.period == pytest.approx(2.0) for c in analysis.cycles)


def test_a_lost_pulse_start_drops_only_the_broken_cycle():
    lossy = edges("H1.0", "L1.2", "L3.2", "H5.0", "L5.2", "H7.0")
    analysis = analyse_edges(lossy, "high")
    assert analysis.lost_edges == 1
    assert [c.start for c in analysis.cycles] == [T0 + 5.0]


def test_young_edges_wait_for_the_glitch_filter():
    clean = edges("H1.0", "L1.2", "H3.0")
    young = analyse_edges(clean, "high", glitch_filter=0.001, now=T0 + 3.0005)
    assert young.cycles == () and young.unsettled == (clean[-1],)
    settled = analyse_edges(clean, "high", glitch_filter=0.001, now=T0 + 3.001)
    assert len(settled.cycles) == 1 and settled.unsettled == ()


def test_differences_go_through_ticks_diff():
    # pigpio-style 32-bit microsecond ticks that wrap: only ticks_diff knows.
    wrap = 2**32

    def ticks_diff(later, earlier):
        return ((later - earlier) % wrap) / 1e6

    start = wrap - 100_000
    raw = [Edge(start, True), Edge((start + 200_000) % wrap, False), Edge(start + 2_000_000, True)]
    raw[2] = Edge(raw[2].ticks % wrap, True)
    (cycle,) = analyse_edges(raw, "high", ticks_diff=ticks_diff).cycles
    assert (cycle.pulse_width, cycle.gap) == pytest.approx((0.2, 1.8))


# --- End to end: SimNE555 → SimPin → TimestampedInput → PulseCapture --------------------------

# About a 230 ms LOW pulse every 9.5 s.
TEN_SECOND = AstableDesign(1.3e6, 33e3, 10e-6, r_tolerance=0.01, c_tolerance=0.2, pulse="low")


def _rig(factory, clock, design=TEN_SECOND, **sim_kwargs):
    sim_kwargs.setdefault("components", ComponentValues.nominal(design))
    sim = SimNE555(design, factory.pin(17), clock, **sim_kwargs)
    device = TimestampedInput(17, pin_factory=factory)
    return sim, device


def _capture(device, clock, design=TEN_SECOND, cycles=5, **kwargs):
    kwargs.setdefault("expected_period", design.limits().period.high)
    return PulseCapture(device, polarity=design.pulse, cycles=cycles, clock=clock, **kwargs)


@pytest.mark.parametrize("polarity", ["high", "low"])
@pytest.mark.parametrize("start_phase", [None, 0.0, 0.01, 0.5, 0.975, 0.99])
def test_clean_signal_measured_exactly_within_n_plus_one_periods(
    factory, clock, polarity, start_phase
):
    design = AstableDesign(1.3e6, 33e3, 10e-6, 0.01, 0.2, pulse=polarity)
    sim, device = _rig(factory, clock, design, start_phase=start_phase)
    sim.power_on()
    start = clock.now()
    stats = _capture(device, clock, design, cycles=5).measure()
    truth = sim.truth
    assert stats.n == 5
    assert stats.pulse_width.mean == pytest.approx(truth.pulse_width, rel=1e-12)
    assert stats.gap.max == pytest.approx(truth.gap, rel=1e-12)
    assert stats.period.min == pytest.approx(truth.period, rel=1e-12)
    assert stats.duty.mean == pytest.approx(truth.duty, rel=1e-12)
    assert stats.period.std == pytest.approx(0.0, abs=1e-9)
    assert stats.first_edge_to_verdict <= 6 * truth.period
    assert stats.time_to_verdict == clock.now() - start
    device.close()


def test_verdict_arrives_at_the_last_needed_edge(factory, clock):
    sim, device = _rig(factory, clock, start_phase=0.0)
    sim.power_on()
    stats = _capture(device, clock, cycles=3).measure()
    assert clock.now() == stats.cycles[-1].end  # no waiting beyond the N-th cycle
    assert stats.time_to_verdict == pytest.approx(sim.truth.t_high + 3 * sim.truth.period)


def test_no_pulses_raises_at_the_deadline_with_a_clear_message(factory, clock):
    _, device = _rig(factory, clock)  # never powered
    start = clock.now()
    capture = _capture(device, clock, expected_period=10.0)
    with pytest.raises(NoPulsesError) as caught:
        capture.measure()
    assert str(caught.value) == "no pulses on GPIO17 within 15.0 s (expected period 10.0 s)"
    assert clock.now() == start + 15.0


def test_signal_stopping_mid_measurement_gives_too_few_cycles(factory, clock):
    sim, device = _rig(factory, clock, start_phase=0.0)
    sim.power_on()
    truth = sim.truth
    # Off in the middle of the third low pulse: the output stays low, no edge marks it.
    clock.schedule(clock.now() + 2 * truth.period + truth.t_high + truth.t_low / 2, sim.power_off)
    with pytest.raises(TooFewCyclesError) as caught:
        _capture(device, clock, cycles=5).measure()
    error = caught.value
    assert (error.wanted, error.got) == (5, 2)
    assert error.stats is not None and error.stats.n == 2
    assert error.stats.period.mean == pytest.approx(sim.truth.period)
    assert "only 2 of 5 cycles on GPIO17: signal stopped" in str(error)


def test_too_slow_a_signal_misses_the_overall_deadline(factory, clock):
    sim, device = _rig(factory, clock, start_phase=0.0)
    sim.power_on()
    expected = sim.truth.period * 0.75  # edges keep coming, but cycles are too long
    with pytest.raises(TooFewCyclesError, match="deadline of") as caught:
        _capture(device, clock, cycles=5, expected_period=expected).measure()
    assert caught.value.got < 5


def test_glitches_and_lost_edges_are_survived_and_counted(factory, clock):
    sim, device = _rig(
        factory, clock, seed=7, glitch_rate_hz=0.5, missing_edge_probability=0.1, start_phase=0.3
    )
    sim.power_on()
    stats = _capture(device, clock, cycles=10, glitch_filter=0.001).measure()
    assert stats.glitches_dropped > 0 and stats.lost_edges > 0
    assert stats.n == 10
    # Every surviving cycle is exact: glitches were removed, not averaged in.
    assert stats.pulse_width.min == pytest.approx(sim.truth.pulse_width, rel=1e-9)
    assert stats.period.max == pytest.approx(sim.truth.period, rel=1e-9)


def test_glitch_filter_settles_the_last_edge_before_the_verdict(factory, clock):
    sim, device = _rig(factory, clock, start_phase=0.0)
    sim.power_on()
    stats = _capture(device, clock, cycles=2, glitch_filter=0.002).measure()
    assert clock.now() == pytest.approx(stats.cycles[-1].end + 0.002)


def test_an_inline_device_is_kept_alive_by_the_capture(factory, clock):
    # gpiozero holds when_changed weakly; the capture holds the device strongly.
    sim = SimNE555(TEN_SECOND, factory.pin(17), clock, start_phase=0.2)
    capture = _capture(TimestampedInput(17, pin_factory=factory), clock, cycles=2)
    gc.collect()
    sim.power_on()
    assert capture.measure().n == 2


def test_a_bare_pin_can_be_captured(factory, clock):
    sim = SimNE555(TEN_SECOND, factory.pin(17), clock, start_phase=0.2)
    capture = _capture(factory.pin(17), clock, cycles=2)
    gc.collect()
    sim.power_on()
    assert capture.measure().n == 2
    capture.close()
    assert factory.pin(17).when_changed is None


def test_the_devices_own_events_keep_working(factory, clock):
    sim, device = _rig(factory, clock, start_phase=0.0)
    deactivations = []
    device.when_deactivated = lambda: deactivations.append(clock.now())
    sim.power_on()
    _capture(device, clock, cycles=2).measure()
    assert len(deactivations) >= 2


def test_a_plain_digital_input_device_is_refused(factory, clock):
    plain = DigitalInputDevice(17, pull_up=None, active_state=True, pin_factory=factory)
    with pytest.raises(TypeError, match="TimestampedInput"):
        _capture(plain, clock)
    # ... and so is its pin: replacing a device's when_changed would break the device.
    with pytest.raises(ValueError, match="already has a when_changed"):
        _capture(plain.pin, clock)
    plain.close()


def test_measurements_can_repeat(factory, clock):
    sim, device = _rig(factory, clock, start_phase=0.0)
    sim.power_on()
    capture = _capture(device, clock, cycles=2)
    first, second = capture.measure(), capture.measure()
    assert second.edges[0].ticks > first.edges[-1].ticks
    assert second.period.mean == pytest.approx(first.period.mean)
    capture.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"polarity": "up"}, "polarity"),
        ({"cycles": 0}, "cycles"),
        ({"expected_period": 0.0}, "expected_period"),
        ({"glitch_filter": 6.0}, "glitch_filter"),
    ],
)
def test_invalid_capture_settings_are_refused(factory, clock, kwargs, message):
    _, device = _rig(factory, clock)
    args = {"polarity": "low", "cycles": 5, "expected_period": 10.0, "clock": clock} | kwargs
    with pytest.raises(ValueError, match=message):
        PulseCapture(device, **args)


def test_real_clock_wakes_on_edges_from_another_thread():
    # Wall-clock path: plain MockFactory (monotonic ticks), edges driven from a second thread
    # as fast as it can go. Nothing sleeps; the measurement returns when the cycles are in.
    factory = MockFactory(revision="d04170")
    waiting = threading.Event()

    class SignallingClock(MonotonicClock):
        def wait_until(self, predicate, deadline):
            waiting.set()
            return super().wait_until(predicate, deadline)

    device = TimestampedInput(17, pin_factory=factory)
    pin = factory.pin(17)
    capture = PulseCapture(
        device, polarity="high", cycles=3, expected_period=30.0, clock=SignallingClock()
    )

    def toggle():
        waiting.wait()
        for _ in range(4):
            pin.drive_high()
            pin.drive_low()

    driver = threading.Thread(target=toggle)
    driver.start()
    stats = capture.measure()
    driver.join()
    assert stats.n == 3 and all(c.pulse_width > 0 for c in stats.cycles)
    device.close()
    factory.reset()
