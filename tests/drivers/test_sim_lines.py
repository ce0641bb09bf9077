"""The simulated station's Pi GPIO inputs (drivers/gpio/sim_lines.py), without gpiozero: what a
fixture reads through them, and the same measurements as gpiozero's own devices on its
MockFactory (SimPiFactory), which the real Pi runs (on lgpio)."""

from __future__ import annotations

import pytest

from drivers.clock import SimClock
from drivers.gpio.sim_lines import SimLines
from drivers.sim.wiring import Wiring
from drivers.timing.ne555 import AstableDesign
from drivers.timing.pulses import PulseCapture, TimestampedInput, TooFewCyclesError
from drivers.timing.sim_ne555 import SimNE555

DESIGN = AstableDesign(680e3, 27e3, 10e-6, r_tolerance=0.01, c_tolerance=0.2, pulse="low")


def test_an_input_reads_the_driven_level_and_hears_reported_edges_only():
    clock = SimClock()
    lines = SimLines(clock)
    device = lines.open_input(17, pull_up=None, active_state=True)
    heard: list[tuple[float, bool]] = []
    device.add_edge_listener(lambda ticks, level: heard.append((ticks, level)))
    t0 = clock.now()
    clock.advance(1.0)
    lines.pin(17).drive(True)
    assert device.value == 1 and device.is_active
    clock.advance(0.5)
    lines.pin(17).drive(False, report=False)  # a lost kernel event: the level, no edge
    assert device.value == 0
    lines.pin(17).drive(True)
    assert heard == [(t0 + 1.0, True), (t0 + 1.5, True)]
    assert lines.ticks_diff(lines.ticks(), t0 + 1.0) == pytest.approx(0.5)


def test_a_pull_up_sets_only_an_undriven_line_and_makes_it_active_low():
    lines = SimLines(SimClock())
    idle = lines.open_input(27, pull_up=True, active_state=None)
    assert idle.pin.state is True and not idle.is_active  # nothing drives it: the pull wins
    lines.pin(22).drive(False)  # an open-drain INT holding the line low before the Pi looks
    held = lines.open_input(22, pull_up=True, active_state=None)
    assert held.pin.state is False and held.is_active  # a real pull-up cannot lift it


def test_a_line_has_one_input_until_it_is_closed():
    lines = SimLines(SimClock())
    first = lines.open_input(17, pull_up=None, active_state=True)
    with pytest.raises(ValueError, match="GPIO17 is already used"):
        lines.open_input(17, pull_up=None, active_state=True)
    first.close()
    lines.open_input(17, pull_up=None, active_state=True).close()
    lines.open_input(18, pull_up=None, active_state=True)
    lines.close()  # closes what is still open
    lines.open_input(18, pull_up=None, active_state=True)


@pytest.mark.parametrize("lost", [0.0, 0.3])
def test_a_555_measures_the_same_on_sim_lines_as_on_gpiozero_devices(factory, clock, lost):
    """One seeded 555 (with jitter, glitches and lost edges), measured through each input: the
    same statistics, or the same failure."""
    results: list[object] = []
    for pins, clk in ((factory, clock), (SimLines(SimClock()), None)):
        clk = clk or pins.clock
        sim = SimNE555(DESIGN, pins.pin(17), clk, seed=5, jitter=0.01, glitch_rate_hz=0.2,
                       missing_edge_probability=lost)
        device = (TimestampedInput(17, pin_factory=pins) if pins is factory
                  else pins.open_input(17, pull_up=None, active_state=True))
        sim.power_on()
        capture = PulseCapture(device, polarity="low", cycles=5, clock=clk, glitch_filter=1e-3,
                               expected_period=DESIGN.limits().period.high)
        try:
            results.append(capture.measure())
        except TooFewCyclesError as exc:
            results.append(str(exc))
        device.close()
    on_gpiozero, on_sim_lines = results
    assert on_sim_lines == on_gpiozero
    assert isinstance(on_gpiozero, str) == (lost == 0.3)  # (both kinds of result compared)


def test_the_wiring_drives_a_sim_line_as_it_drives_a_gpiozero_pin(factory, clock):
    """An expander's INT output, open-drain, on a Pi input with its pull-up (the HMI board's
    interrupt line): released reads high, asserted reads low, on either kind of pin."""
    from drivers.sim.mcp23017 import SimMCP23017

    seen = []
    for pins in (factory, SimLines(clock)):
        chip = SimMCP23017(0x20)
        Wiring().int_to_pi(chip, "A", pins.pin(27))
        device = (TimestampedInput(27, pull_up=True, active_state=None, pin_factory=pins)
                  if pins is factory else pins.open_input(27, pull_up=True, active_state=None))
        seen.append(device.is_active)
        device.close()
    assert seen == [False, False]  # nothing asserted: the pull-up holds the line high
