"""drivers.sim.wiring: the fixture's wires between simulated expanders and simulated Pi GPIO.

Real gpiozero devices on the Pi side (``SimPiFactory`` from conftest, as ``factory``); the
expander side is configured through the pibench driver on a simulated bus, as in the station.
"""

from __future__ import annotations

import pytest
from gpiozero import LED, DigitalInputDevice

from drivers.i2c import I2CBus
from drivers.mcp23017.config import ExpanderConfig
from drivers.mcp23017.driver import MCP23017
from drivers.mcp23017.registers import Port
from drivers.sim.mcp23017 import SimMCP23017
from drivers.sim.smbus import SimSMBus
from drivers.sim.wiring import Wiring, WiringError, loopback

GPB0, GPA0, GPA1, GPA3 = 8, 0, 1, 3


@pytest.fixture
def chips():
    a, b = SimMCP23017(0x20), SimMCP23017(0x21)
    bus = I2CBus(SimSMBus([a, b]), name="sim:wiring")
    return a, b, MCP23017(bus, 0x20), MCP23017(bus, 0x21)


@pytest.fixture
def wiring():
    w = Wiring()
    yield w
    w.disconnect_all()


def test_loopback_copies_the_initial_level_at_once_then_follows(chips, wiring):
    a, b, drv_a, drv_b = chips
    drv_a.init(ExpanderConfig(outputs=0x8180, output_levels=1 << GPB0))
    drv_b.init(ExpanderConfig(pullups=0x0000))
    wiring.loopback(a, "GPB0", b, "GPA0")
    assert b.level(GPA0) is True  # before any change: the wire already carries the level
    drv_a.write_pin(GPB0, False)
    assert b.level(GPA0) is False
    assert drv_b.read_pin(GPA0) is False  # and the chip's GPIO register says so too


def test_loopback_is_one_direction(chips, wiring):
    a, b, drv_a, drv_b = chips
    drv_a.init(ExpanderConfig(outputs=0x8180))
    drv_b.init(ExpanderConfig(outputs=0x8181, output_levels=0x0001))
    wiring.loopback(a, GPB0, b, GPA1)
    # b's GPA0 output changing is nobody's business: only a.GPB0 → b.GPA1 exists.
    drv_b.write_pin(GPA0, False)
    assert a.level(GPB0) is False
    drv_a.write_pin(GPB0, True)
    assert b.level(GPA1) is True


def test_loopback_on_the_same_chip_raises_its_interrupt(chips, wiring):
    a, _, drv_a, _ = chips
    drv_a.init(ExpanderConfig(outputs=0x8180, interrupt_enable=1 << GPA3, mirror=True))
    wiring.loopback(a, GPB0, a, GPA3)
    assert a.int_level(Port.A) is True  # open-drain, released
    drv_a.write_pin(GPB0, True)
    assert a.int_level(Port.A) is False  # GPA3 changed: INT pulled low
    snapshot = drv_a.service_interrupt(include_gpio=True)
    assert snapshot.pins() == [GPA3]
    assert a.int_level(Port.A) is True


def test_to_pi_drives_a_gpiozero_input_with_clock_ticks(chips, wiring, factory, clock):
    a, _, drv_a, _ = chips
    drv_a.init(ExpanderConfig(outputs=0x8180))
    device = DigitalInputDevice(27, pull_up=None, active_state=True, pin_factory=factory)
    seen = []
    device.when_activated = lambda: seen.append(clock.now())
    try:
        wiring.to_pi(a, GPB0, factory.pin(27))
        assert device.value == 0
        clock.advance(2.5)
        drv_a.write_pin(GPB0, True)
        assert device.value == 1
        assert seen == [clock.now()]
        clock.advance(0.125)
        assert device.active_time == 0.125  # the edge was stamped on the simulated clock
    finally:
        device.close()


def test_to_pi_keeps_the_line_driven_when_the_pi_sets_a_pull(chips, wiring, factory):
    a, _, drv_a, _ = chips
    drv_a.init(ExpanderConfig(outputs=0x8180))  # GPB0 low
    pin = factory.pin(27)
    wiring.to_pi(a, GPB0, pin)
    # A mock pin jumps to its pull's level; a driven Pi line does not.
    pin.pull = "up"
    assert pin.state is False


def test_from_pi_gpiozero_output_drives_an_expander_input(chips, wiring, factory):
    a, _, drv_a, _ = chips
    drv_a.init(ExpanderConfig(pullups=1 << GPA0))
    led = LED(22, pin_factory=factory)
    try:
        wiring.from_pi(factory.pin(22), a, GPA0)
        # The LED is off (low) from the start: that low wins over the chip's pull-up.
        assert drv_a.read_pin(GPA0) is False
        led.on()
        assert drv_a.read_pin(GPA0) is True
        led.off()
        assert drv_a.read_pin(GPA0) is False
    finally:
        led.close()


def test_int_to_pi_follows_the_electrical_level(chips, wiring, factory):
    a, _, drv_a, _ = chips
    drv_a.init(ExpanderConfig(interrupt_enable=1 << GPA0, pullups=1 << GPA0))
    pin = factory.pin(4)
    wiring.int_to_pi(a, "A", pin)
    assert pin.state is True  # open-drain, released: the Pi's pull-up
    a.drive(GPA0, False)
    assert pin.state is False
    drv_a.service_interrupt()
    assert pin.state is True


def test_int_lines_of_two_chips_share_a_pi_pin_as_a_wired_and(chips, wiring, factory):
    a, b, drv_a, drv_b = chips
    for drv in (drv_a, drv_b):
        drv.init(ExpanderConfig(interrupt_enable=1 << GPA0, pullups=1 << GPA0))
    pin = factory.pin(4)
    wiring.int_to_pi(a, Port.A, pin)
    wiring.int_to_pi(b, "INTA", pin)
    b.drive(GPA0, False)
    a.drive(GPA0, False)
    assert pin.state is False
    drv_b.service_interrupt()
    assert pin.state is False  # a still holds the line low
    drv_a.service_interrupt()
    assert pin.state is True


def test_button_pulls_low_and_lets_go_to_the_pull_up(chips, wiring):
    a, _, drv_a, _ = chips
    drv_a.init(ExpanderConfig(pullups=1 << GPA3))
    button = wiring.button(a, "GPA3")
    assert drv_a.read_pin(GPA3) is True
    button.press()
    assert button.pressed and drv_a.read_pin(GPA3) is False
    button.release()
    assert not button.pressed and drv_a.read_pin(GPA3) is True


def test_button_without_the_pull_up_floats(chips, wiring):
    a, _, drv_a, _ = chips
    drv_a.init(ExpanderConfig())  # no pull-up: the simulator's floating level is 'low'
    button = wiring.button(a, GPA3)
    button.press()
    button.release()
    assert drv_a.read_pin(GPA3) is False


def test_two_drivers_on_one_input_are_refused(chips, wiring, factory):
    a, b, _, _ = chips
    wiring.loopback(a, GPB0, b, GPA0)
    with pytest.raises(WiringError, match="already driven"):
        wiring.from_pi(factory.pin(22), b, GPA0)
    with pytest.raises(WiringError, match="already driven"):
        wiring.button(b, "GPA0")
    wiring.to_pi(a, GPB0, factory.pin(27))  # one output may drive several inputs
    with pytest.raises(WiringError, match="already driven"):
        wiring.int_to_pi(a, "A", factory.pin(27))  # INT shares only with other INT lines


def test_feedback_loops_are_refused(chips, wiring, factory):
    a, b, _, _ = chips
    with pytest.raises(WiringError, match="feedback loop"):
        wiring.loopback(a, GPA0, a, GPA0)
    wiring.loopback(a, GPB0, b, GPA0)
    with pytest.raises(WiringError, match="feedback loop"):
        wiring.loopback(b, GPA0, a, GPB0)
    # Through a chip: any input change moves INT, INT drives the Pi pin, the Pi pin drives the
    # input. That one oscillates on real hardware as soon as the Pi services the interrupt.
    pin = factory.pin(4)
    wiring.int_to_pi(b, "A", pin)
    with pytest.raises(WiringError, match="feedback loop"):
        wiring.from_pi(pin, b, GPA3)
    assert len(wiring.connections) == 2  # refused connections leave nothing behind


def test_describe_lists_the_connections_for_a_fixture_file(chips, wiring, factory):
    a, b, _, _ = chips
    wiring.name(b, "dut")
    wiring.loopback(a, GPB0, b, GPA0)
    wiring.to_pi(a, "GPB1", factory.pin(27))
    wiring.from_pi(factory.pin(22), b, "GPA1")
    wiring.int_to_pi(b, "B", factory.pin(4))
    wiring.button(a, "GPA3")
    assert wiring.describe() == [
        {"kind": "loopback", "from": "mcp23017@0x20:GPB0", "to": "dut:GPA0"},
        {"kind": "to_pi", "from": "mcp23017@0x20:GPB1", "to": "pi:GPIO27"},
        {"kind": "from_pi", "from": "pi:GPIO22", "to": "dut:GPA1"},
        {"kind": "int", "from": "dut:INTB", "to": "pi:GPIO4"},
        {"kind": "button", "from": "button", "to": "mcp23017@0x20:GPA3"},
    ]


def test_disconnect_releases_the_target(chips, wiring):
    a, b, drv_a, drv_b = chips
    drv_a.init(ExpanderConfig(outputs=0x8180))  # GPB0 low
    drv_b.init(ExpanderConfig(pullups=1 << GPA0))
    wire = wiring.loopback(a, GPB0, b, GPA0)
    assert drv_b.read_pin(GPA0) is False
    wire.disconnect()
    assert drv_b.read_pin(GPA0) is True  # back to its pull-up
    drv_a.write_pin(GPB0, True)
    drv_a.write_pin(GPB0, False)
    assert drv_b.read_pin(GPA0) is True  # and no longer follows
    assert wiring.describe() == []
    wiring.loopback(b, GPA0, a, GPB0)  # the reverse is no loop any more


def test_lost_edges_change_the_level_without_an_event(chips, wiring, factory):
    a, _, drv_a, _ = chips
    drv_a.init(ExpanderConfig(outputs=0x8180))
    pin = factory.pin(27)
    wire = wiring.to_pi(a, GPB0, pin)
    events = []

    def on_change(ticks, state):
        events.append(state)

    pin.when_changed = on_change
    wire.lose_edges(1)
    drv_a.write_pin(GPB0, True)
    assert pin.state is True and events == []
    drv_a.write_pin(GPB0, False)
    assert events == [False]


def test_lost_edges_only_make_sense_on_a_pi_pin(chips, wiring):
    a, b, _, _ = chips
    with pytest.raises(WiringError, match="not a Pi pin"):
        wiring.loopback(a, GPB0, b, GPA0).lose_edges()


def test_module_level_shortcut_makes_a_recorded_connection(chips):
    a, b, drv_a, _ = chips
    drv_a.init(ExpanderConfig(outputs=0x8180, output_levels=1 << GPB0))
    wire = loopback(a, "GPB0", b, "GPA0")
    assert b.level(GPA0) is True
    assert wire.describe() == {"kind": "loopback", "from": "mcp23017@0x20:GPB0",
                               "to": "mcp23017@0x21:GPA0"}
    wire.disconnect()
