"""The runtime fixture on the simulated station: the check, the resources, a DUT that is only
powered while the relay is on, and the real builder with the simulator plugged in underneath."""

from __future__ import annotations

import pytest
from products_support import FIXTURES

from drivers.clock import SimClock
from drivers.gpio.pi import SimPiFactory
from drivers.i2c import I2CNackError
from drivers.sim.registry import lookup
from drivers.timing.ne555 import AstableDesign
from edge.engine import StationError
from edge.fixtures import build_real, build_sim, load_fixture
from edge.fixtures.sim import SimStation
from edge.fixtures.sim_faults import parse_faults

DESIGN = AstableDesign(150_000, 7_500, 47e-6, 0.05, 0.2, "low")


def spec(kind: str):
    return load_fixture(FIXTURES[0] / f"{kind}.toml")


@pytest.fixture
def hmi():
    fixture = build_sim(spec("hmi-io-v1"))
    yield fixture
    fixture.close()


@pytest.fixture
def powerbank():
    fixture = build_sim(spec("powerbank-v1"))
    yield fixture
    fixture.close()


def test_check_reports_expanders_and_identity(hmi):
    report = hmi.check()
    assert report.bus == "sim:hmi-io-v1"
    assert report.expanders == (("fixture", 0x21), ("stimulus", 0x22))
    assert report.identity == "0b1010"
    assert "identity 0b1010" in report.describe()


@pytest.mark.parametrize(("kind", "found"), [
    ("powerbank-v1", " (no MCP23017 answers on the bus at all)"),
    ("hmi-io-v1", " (answering instead: 0x22)"),
])
def test_absent_fixture_expander_is_a_clear_station_error(kind, found):
    fixture = build_sim(spec(kind), faults=["absent-expander"])
    try:
        with pytest.raises(StationError) as info:
            fixture.check()
        assert str(info.value) == (f"fixture expander not found at 0x21 on sim:{kind} — is the "
                                   f"fixture cable plugged in?{found}")
        # Nothing can be switched on through an unverified fixture...
        with pytest.raises(StationError, match="fixture expander not found"):
            fixture.resource("dut_power").on()
        assert not fixture.sim.dut_powered
        # ...and switching off what this station never switched on is not an error.
        fixture.resource("dut_power").off()
    finally:
        fixture.close()


def test_wrong_fixture_names_both_patterns_and_the_kind():
    fixture = build_sim(spec("hmi-io-v1"), faults=["wrong-fixture"])
    try:
        with pytest.raises(StationError) as info:
            fixture.check()
        assert str(info.value) == ("wrong fixture: identity straps read 0b0101, expected "
                                   "0b1010 (hmi-io-v1)")
    finally:
        fixture.close()


def test_unknown_resource_is_a_station_error(hmi):
    with pytest.raises(StationError, match=r"has no resource 'relay9' \(has: buttons, "):
        hmi.resource("relay9")


def test_dut_is_powered_only_while_the_relay_is_on_and_nacks_when_off(hmi):
    dut = hmi.resource("dut")
    relay = hmi.resource("dut_power")
    assert not hmi.sim.dut_powered
    assert not dut.present()  # unpowered: nobody acknowledges 0x20
    relay.on()
    assert hmi.sim.dut_powered and dut.present()
    assert relay.switched_at == hmi.clock.now()
    dut.init()
    dut.expander.write_port(0x0004, 0x00FF)  # LED3 on
    assert hmi.sim.chips["dut"].word("IODIR") != 0xFFFF
    assert hmi.resource("outputs").read() == 0x0004
    relay.off()
    with pytest.raises(I2CNackError):
        dut.expander.read_port()
    # Power lost: the chip is back at its power-on state and its outputs let go of the wires.
    assert hmi.sim.chips["dut"].word("IODIR") == 0xFFFF
    assert hmi.sim.chips["dut"].word("OLAT") == 0
    assert hmi.sim.chips["fixture"].level(2) is False
    relay.on()
    assert dut.present()
    assert [on for _, on in hmi.sim.power_log] == [True, False, True]


def test_check_switches_a_relay_left_on_by_a_crashed_run_off(hmi):
    hmi.check()
    hmi.resource("dut_power").on()
    assert hmi.sim.dut_powered
    hmi.check()  # as at the start of the next run: every fixture output to its inactive level
    assert not hmi.sim.dut_powered


def test_interrupt_line_follows_the_dut_int_pins(hmi):
    hmi.resource("dut_power").on()
    line, dut, buttons = hmi.resource("dut_int"), hmi.resource("dut"), hmi.resource("buttons")
    dut.init()
    assert not line.active
    dut.expander.configure_interrupts(buttons.dut_mask)
    buttons.press("SW2")
    assert line.active
    assert dut.expander.service_interrupt().pins() == [9]  # GPB1
    assert not line.active
    buttons.release("SW2")


def test_relay_contact_closes_a_few_milliseconds_after_the_coil(hmi):
    hmi.resource("dut_power").on()
    dut, contact = hmi.resource("dut"), hmi.resource("relay_contact")
    dut.init()
    dut.expander.write_pin("GPA6", True)
    assert not contact.active  # the relay has not operated yet
    hmi.clock.advance(0.01)
    assert contact.active
    dut.expander.write_pin("GPA6", False)
    hmi.clock.advance(0.01)
    assert not contact.active


def test_the_555_runs_only_while_powered_and_to_the_design_given(powerbank):
    pulse = powerbank.resource("keepalive")
    powerbank.start_run(ne555=DESIGN)
    powerbank.resource("dut_power").on()
    powerbank.clock.advance(30)
    assert len(pulse.history) >= 10  # ~5.4 s period, 8 s cold start
    powerbank.resource("dut_power").off()
    count = len(pulse.history)
    powerbank.clock.advance(30)
    assert len(pulse.history) - count <= 1  # the falling edge of power-off, then silence
    assert pulse.level is False


def test_close_powers_the_dut_off(hmi):
    hmi.check()
    hmi.resource("dut_power").on()
    hmi.close()
    assert not hmi.sim.dut_powered
    with pytest.raises(StationError, match="closed"):
        hmi.resource("dut_power").on()


def test_i2c_nack_fault_is_retried_by_the_bus():
    fixture = build_sim(spec("hmi-io-v1"), faults=["i2c-nack"])
    try:
        fixture.check()
        fixture.resource("dut_power").on()
        dut = fixture.resource("dut")
        dut.init()
        for _ in range(10):
            dut.expander.read_port()
        assert fixture.sim.nacks > 0
        assert fixture.bus.retried == fixture.sim.nacks
    finally:
        fixture.close()


def test_the_real_builder_runs_on_the_simulator_plugged_in_as_an_smbus_object():
    """The seam: the same Fixture class built by build_real, its bus opened from an SMBus-like
    object (open_bus's object path) and its Pi pins from a gpiozero mock factory."""
    clock = SimClock()
    factory = SimPiFactory(clock)  # a gpiozero MockFactory whose ticks are the SimClock
    world = SimStation(spec("hmi-io-v1"), clock=clock, pi_factory=factory,
                       faults=parse_faults([]))
    fixture = build_real(world.spec, i2c_bus=world.smbus, pin_factory=factory, clock=clock)
    try:
        assert fixture.sim is None
        assert fixture.check().identity == "0b1010"
        fixture.resource("dut_power").on()
        assert world.dut_powered
    finally:
        fixture.close()
        world.close()
        factory.close()
    assert not world.dut_powered


def test_sim_faults_are_parsed_by_name_and_unknown_ones_refused():
    faults = parse_faults(["stuck-output:LED5", "i2c-nack"])
    assert faults.stuck_label == "LED5"
    assert faults.names == ("stuck-output", "i2c-nack")
    with pytest.raises(ValueError, match=r"unknown simulated fault 'wrong-resistr' \(known: "):
        parse_faults(["wrong-resistr"])
    with pytest.raises(ValueError, match="takes no argument"):
        parse_faults(["no-pulses:now"])


def test_faults_that_do_not_apply_are_ignored_and_stuck_output_takes_a_label():
    fixture = build_sim(spec("powerbank-v1"), faults=["stuck-output", "no-pulses"])
    assert fixture.sim.applied == ["no-pulses"]
    fixture.close()
    fixture = build_sim(spec("hmi-io-v1"), faults=["stuck-output:BUZZER"])
    assert fixture.sim.stuck_wire().label == "BUZZER"
    fixture.close()
    with pytest.raises(ValueError, match="has no loopback labelled 'LED9'"):
        build_sim(spec("hmi-io-v1"), faults=["stuck-output:LED9"])
    with pytest.raises(LookupError):  # nothing left registered by the refused build
        lookup("hmi-io-v1")
