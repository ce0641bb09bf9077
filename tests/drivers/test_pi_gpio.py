"""SimPiFactory / SimPin: gpiozero devices on simulated time, and the pi_pin_factory switch."""

from __future__ import annotations

import gc
import sys
import threading
import types

import pytest
from gpiozero import LED, Button, DigitalInputDevice, DigitalOutputDevice
from gpiozero.exc import PinUnknownPi
from gpiozero.pins.mock import MockPWMPin

from drivers.clock import SimClock
from drivers.gpio import PiGPIOUnavailableError, SimPiFactory, SimPin, pi_pin_factory


def test_ticks_come_from_the_injected_clock(clock, factory):
    assert factory.ticks() == clock.now()
    before = factory.ticks()
    clock.advance(12.5)
    assert factory.ticks_diff(factory.ticks(), before) == 12.5


def test_pretends_to_be_a_pi_5_by_default(factory):
    assert factory.board_info.revision == "d04170"
    assert factory.board_info.model == "5B"
    assert isinstance(factory.pin(17), SimPin)


def test_state_history_is_stamped_by_the_clock(clock, factory):
    pin = factory.pin(17)
    clock.schedule(clock.now() + 2.0, pin.drive_high)
    clock.schedule(clock.now() + 2.25, pin.drive_low)
    clock.advance(10)
    # gpiozero's convention: each timestamp is the delta since the previous change.
    history = [(s.timestamp, s.state) for s in pin.states]
    assert history == [(0.0, False), (2.0, True), (0.25, False)]


def test_when_changed_fires_synchronously_with_clock_ticks(clock, factory):
    pin = factory.pin(17)
    calls = []

    def on_change(ticks, state):
        calls.append((ticks, state, clock.now(), threading.current_thread()))

    pin.when_changed = on_change
    start = clock.now()
    clock.schedule(start + 3.0, pin.drive_high)
    clock.schedule(start + 3.5, pin.drive_low)
    clock.advance(5)
    me = threading.current_thread()
    assert calls == [(start + 3.0, True, start + 3.0, me), (start + 3.5, False, start + 3.5, me)]


def test_digital_input_device_events_see_simulated_time(clock, factory):
    device = DigitalInputDevice(17, pull_up=None, active_state=True, pin_factory=factory)
    activations = []
    device.when_activated = lambda: activations.append(clock.now())
    pin = factory.pin(17)
    clock.schedule(clock.now() + 1.0, pin.drive_high)
    clock.advance(4.0)
    assert device.is_active
    assert activations == [clock.now() - 3.0]
    assert device.active_time == pytest.approx(3.0, abs=1e-9)
    device.close()


def test_button_reads_simulated_presses(clock, factory):
    button = Button(4, pull_up=True, pin_factory=factory)
    pin = factory.pin(4)
    assert not button.is_pressed  # the pull-up holds the line high
    presses = []
    button.when_pressed = lambda: presses.append(clock.now())
    pin.drive_low()
    assert button.is_pressed and presses == [clock.now()]
    button.close()


def test_output_level_changes_reach_listeners(clock, factory):
    led = LED(5, pin_factory=factory)
    heard = []

    def listener(level, ticks):
        heard.append((level, ticks))

    factory.pin(5).add_listener(listener)
    led.on()
    clock.advance(1.5)
    led.off()
    led.off()  # no change, no call
    factory.pin(5).remove_listener(listener)
    led.on()
    start = clock.now() - 1.5
    assert heard == [(True, start), (False, start + 1.5)]
    led.close()


def test_a_pi_output_can_drive_a_simulated_input(clock, factory):
    # The wiring an expander simulation uses: Pi output pin → listener → another input.
    output = DigitalOutputDevice(22, pin_factory=factory)
    target = factory.pin(23)
    factory.pin(22).add_listener(lambda level, ticks: target.drive(level))
    follower = DigitalInputDevice(23, pull_up=None, active_state=True, pin_factory=factory)
    output.on()
    assert follower.is_active
    output.off()
    assert not follower.is_active
    output.close()
    follower.close()


def test_an_unreported_drive_changes_level_without_an_event(clock, factory):
    pin = factory.pin(17)
    events = []

    def on_change(ticks, state):
        events.append(state)

    pin.when_changed = on_change
    pin.drive(True, report=False)
    pin.drive(False)
    assert pin.state is False
    assert events == [False]
    assert [s.state for s in pin.states] == [False, True, False]


def test_a_lambda_on_when_changed_is_collected(factory):
    # gpiozero holds when_changed weakly: this is the pitfall PulseCapture avoids.
    pin = factory.pin(17)
    events = []
    pin.when_changed = lambda ticks, state: events.append(state)
    gc.collect()
    pin.drive_high()
    assert events == []


def test_only_clocked_pin_classes_are_allowed(factory):
    with pytest.raises(ValueError, match="SimPin"):
        factory.pin(18, pin_class=MockPWMPin)


def test_reset_releases_reservations(factory):
    DigitalInputDevice(17, pin_factory=factory)
    factory.reset()
    DigitalInputDevice(17, pin_factory=factory).close()


def test_pi_pin_factory_in_simulation_uses_the_given_clock():
    clock = SimClock(start=50.0)
    factory = pi_pin_factory(simulated=True, clock=clock)
    assert isinstance(factory, SimPiFactory) and factory.ticks() == 50.0
    assert isinstance(pi_pin_factory(simulated=True).clock, SimClock)


def test_pi_pin_factory_real_refuses_a_clock():
    with pytest.raises(ValueError, match="only injected in simulation"):
        pi_pin_factory(simulated=False, clock=SimClock())


def test_pi_pin_factory_real_without_lgpio(monkeypatch):
    # A None entry in sys.modules makes the import fail, whether or not lgpio is installed.
    monkeypatch.setitem(sys.modules, "lgpio", None)
    monkeypatch.delitem(sys.modules, "gpiozero.pins.lgpio", raising=False)
    with pytest.raises(PiGPIOUnavailableError, match="needs the lgpio package"):
        pi_pin_factory(simulated=False)


def test_pi_pin_factory_real_off_a_pi(monkeypatch):
    class NotAPiFactory:
        def __init__(self, chip=None):
            raise PinUnknownPi("unable to locate Pi revision")

    monkeypatch.setitem(sys.modules, "lgpio", types.ModuleType("lgpio"))
    fake = types.ModuleType("gpiozero.pins.lgpio")
    fake.LGPIOFactory = NotAPiFactory
    monkeypatch.setitem(sys.modules, "gpiozero.pins.lgpio", fake)
    with pytest.raises(PiGPIOUnavailableError, match="is this a Raspberry Pi"):
        pi_pin_factory(simulated=False)
