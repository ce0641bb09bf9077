"""The MCP23017 driver against the register-accurate simulator: robust init from any leftover
state, glitch-free bring-up, transaction budgets (the minimum of docs/hardware-notes.md,
"Bus-time model"), interrupts verified on the simulated INT pins, RMW safety, and the GPA7/GPB7
rule."""

from __future__ import annotations

import pytest
from sim_fixtures import (
    ADDR,
    BANK,
    BUS_NAME,
    INTPOL,
    MIRROR,
    ODR,
    SEQOP,
    ConstantDevice,
    Rig,
    _rig_fixture,  # noqa: F401  (fixture "rig")
    make_rig,
    record,
)

from drivers.i2c import Accounting, I2CBus, I2CError, I2CNackError, Transaction
from drivers.i2c.accounting import Kind
from drivers.mcp23017.config import ExpanderConfig, GP7InputError
from drivers.mcp23017.driver import MCP23017, ExpanderIdentityError, InterruptSnapshot, scan
from drivers.mcp23017.registers import Port
from drivers.sim.mcp23017 import SimMCP23017
from drivers.sim.smbus import SimSMBus

A, B = Port.A, Port.B

# A config that exercises every register with a distinct, non-trivial value.
RICH = ExpanderConfig(
    outputs=0x80F0,  # GPA4..GPA7 and GPB7 outputs
    output_levels=0x8050,  # GPA4, GPA6, GPB7 high
    pullups=0x3F0C,
    polarity=0x0402,  # not on pins 8, 9: they compare with DEFVAL, IPOL applied
    interrupt_enable=0x0F03,
    interrupt_compare=0x0300,
    interrupt_defval=0x0300,  # pulled-up pins 8, 9 idle at DEFVAL: nothing pending
    mirror=True,
    open_drain=True,
)
RICH_REGISTERS = {
    "IODIR": 0x7F0F,
    "IPOL": 0x0402,
    "GPINTEN": 0x0F03,
    "DEFVAL": 0x0300,
    "INTCON": 0x0300,
    "GPPU": 0x3F0C,
    "OLAT": 0x8050,
    "IOCON": MIRROR | ODR,
}


def chip_registers(chip: SimMCP23017) -> dict[str, int]:
    return {name: chip.word(name) for name in RICH_REGISTERS}


def log_of(rig: Rig) -> list[tuple[str, int | None, int]]:
    return [(t.kind, t.register, t.wire_bytes) for t in rig.bus.accounting.log]


def fresh(rig: Rig, config: ExpanderConfig = RICH, **driver_kwargs) -> MCP23017:
    """A driver initialised with ``config`` and a clean ledger, ready for budget checks."""
    drv = MCP23017(rig.bus, **driver_kwargs)
    drv.init(config)
    rig.bus.accounting.reset()
    return drv


# --------------------------------------------------------------------------- init
def test_init_from_por_writes_exactly_the_config(rig):
    drv = MCP23017(rig.bus)
    drv.init(RICH)
    assert chip_registers(rig.chip) == RICH_REGISTERS
    assert drv.shadow == RICH_REGISTERS
    assert rig.chip.word("INTF") == 0x0000


NASTY_WARM_STATES = {
    "bank1-seqop1": dict(IOCON=BANK | SEQOP, OLAT=0x1234, GPINTEN=0xFFFF),
    "bank0-seqop1": dict(IOCON=SEQOP | INTPOL, pointer=0x13),
    "bank1-everything-garbage": dict(
        IOCON=BANK | MIRROR | INTPOL | 0x18,
        IODIR=0x0000,
        IPOL=0xFFFF,
        GPINTEN=0xFFFF,
        DEFVAL=0xA5A5,
        INTCON=0x5A5A,
        GPPU=0xFFFF,
        OLAT=0xFFFF,
        pointer=0x1A,
    ),
    "garbage-olat-outputs": dict(IODIR=0x0000, OLAT=0xA55A),
    "pointer-at-unimplemented": dict(pointer=0xFF),
}


@pytest.mark.parametrize("state", NASTY_WARM_STATES.values(), ids=NASTY_WARM_STATES.keys())
def test_init_from_a_nasty_warm_state_writes_exactly_the_config(rig, state):
    rig.chip.warm_start(**state)
    drv = MCP23017(rig.bus)
    drv.init(RICH)
    assert chip_registers(rig.chip) == RICH_REGISTERS
    assert drv.shadow == RICH_REGISTERS
    assert rig.chip.word("INTF") == 0x0000
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (True, True)  # open-drain idle


@pytest.mark.parametrize("intcon", [0x0000, 0xFFFF], ids=["on-change", "defval"])
def test_init_clears_stale_pending_interrupts(rig, intcon):
    # A previous run enabled interrupts on every input and left one pending on each port;
    # in DEFVAL mode the condition even persists.
    rig.chip.warm_start(GPINTEN=0xFFFF, INTCON=intcon, DEFVAL=0xFFFF if intcon else 0, GPPU=0xFFFF)
    rig.chip.drive(2, False)
    rig.chip.drive(10, False)
    assert rig.chip.word("INTF") == 0x0404
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (False, False)
    MCP23017(rig.bus).init()
    assert rig.chip.word("INTF") == 0x0000
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (True, True)
    assert rig.chip.word("GPINTEN") == 0x0000


@pytest.mark.parametrize("state", NASTY_WARM_STATES.values(), ids=NASTY_WARM_STATES.keys())
def test_init_brings_every_pin_to_its_level_with_at_most_one_change(rig, state):
    # No glitch: an output configured high that is already high is never seen low, and no
    # pin ever goes one way and back. The pins: outputs 4..7 (4, 6 high), 15 (high); inputs
    # 0..3 (2, 3 pulled up, 0, 1 float low), 8..13 pulled up, 14 floats low.
    rig.chip.warm_start(**state)
    rig.chip.drive(1, False)
    rec = record(rig.chip)
    MCP23017(rig.bus).init(RICH)
    final = 0x8050 | 0x3F0C
    for pin in range(16):
        changes = [level for p, level in rec.pins if p == pin]
        assert len(changes) <= 1, (pin, changes)
        assert rig.chip.level(pin) is bool(final >> pin & 1), pin


def test_init_of_an_already_configured_chip_moves_no_pin(rig):
    # The station restarts while the fixture holds relays on: nothing may even twitch, even
    # though the chip was left in BANK=1 byte mode.
    rig.chip.warm_start(IOCON=BANK | SEQOP, IODIR=0x7F0F, OLAT=0x8050, GPPU=0x3F0C)
    rec = record(rig.chip)
    MCP23017(rig.bus).init(RICH)
    assert rec.pins == []


def test_init_input_becoming_output_high_comes_up_high(rig):
    rig.chip.warm_start(GPPU=0x0010)  # GPA4: input, pulled up (high)
    rec = record(rig.chip)
    MCP23017(rig.bus).init(ExpanderConfig(outputs=0x8090, output_levels=0x0010))
    assert (4, False) not in rec.pins
    assert rig.chip.level(4) is True and rig.chip.is_output(4)


@pytest.mark.parametrize("value", [0x00, 0x04, 0x7F, 0xFF])
def test_init_rejects_a_device_that_is_not_an_mcp23017(value):
    bus = I2CBus(SimSMBus([ConstantDevice(0x20, value)]), name="i2c-1")
    drv = MCP23017(bus)
    with pytest.raises(ExpanderIdentityError) as info:
        drv.init()  # default: IODIR 7f/7f, IOCON 04 (open-drain)
    exc = info.value
    assert isinstance(exc, I2CError)
    assert (exc.bus, exc.address, exc.errno) == ("i2c-1", 0x20, None)
    assert str(exc).startswith("device at 0x20 on i2c-1 does not behave like an MCP23017 (")
    with pytest.raises(RuntimeError, match="init"):
        drv.write_pin(0, True)  # not initialised: the shadow describes nothing


def test_identity_error_names_the_first_register_that_differs():
    bus = I2CBus(SimSMBus([ConstantDevice(0x20, 0x7F)]), name="i2c-1")
    with pytest.raises(ExpanderIdentityError, match=r"IPOLA read 0x7f, wrote 0x00"):
        MCP23017(bus).init()


def test_nack_during_init_names_the_address(rig):
    rig.smbus.detach(ADDR)
    drv = MCP23017(rig.bus)
    with pytest.raises(I2CNackError) as info:
        drv.init()
    assert info.value.address == ADDR
    assert str(info.value).startswith(f"no device at 0x20 on {BUS_NAME} (writing ")
    # The first write is the BANK reset at 0x05; calling it just GPINTENB would mislead.
    assert info.value.register.startswith("IOCON (BANK reset")
    with pytest.raises(RuntimeError):
        drv.write_port(0)  # init never completed: the driver won't pretend to know the chip


def test_transient_nack_during_init_is_survived(rig):
    rig.smbus.inject("nack", count=1)
    MCP23017(rig.bus).init(RICH)
    assert chip_registers(rig.chip) == RICH_REGISTERS
    assert rig.bus.retried == 1


def test_init_refuses_gp7_inputs_before_touching_the_bus(rig):
    with pytest.raises(GP7InputError, match="GPB7"):
        MCP23017(rig.bus).init(ExpanderConfig(outputs=0x0080))
    assert rig.bus.accounting.totals().transactions == 0


def test_reinit_with_another_config(rig):
    drv = MCP23017(rig.bus)
    drv.init(RICH)
    drv.init()
    assert chip_registers(rig.chip) == {
        "IODIR": 0x7F7F,
        "IPOL": 0,
        "GPINTEN": 0,
        "DEFVAL": 0,
        "INTCON": 0,
        "GPPU": 0,
        "OLAT": 0,
        "IOCON": ODR,
    }


# --------------------------------------------------------------------------- outputs
W = Kind.WRITE


@pytest.mark.parametrize("pin,register", [(4, 0x14), ("GPB7", 0x15), (15, 0x15)])
def test_write_pin_is_one_3_byte_write_and_never_reads(rig, pin, register):
    drv = fresh(rig)
    drv.write_pin(pin, False)
    drv.write_pin(pin, False)  # unchanged in the shadow: still sent (an explicit command)
    assert log_of(rig) == [(W, register, 3), (W, register, 3)]
    assert rig.bus.accounting.totals().bits == 2 * 29


def test_write_pin_sets_only_its_bit(rig):
    drv = fresh(rig)
    drv.write_pin(5, True)
    drv.write_pin(4, False)
    assert rig.chip.word("OLAT") == drv.output_latch == 0x8060
    assert [rig.chip.level(p) for p in (4, 5, 6, 15)] == [False, True, True, True]


def test_write_port_both_ports_is_one_w16(rig):
    drv = fresh(rig)
    drv.write_port(0x0070)  # port B unchanged in the shadow: still one W16
    assert log_of(rig) == [(W, 0x14, 4)]
    assert rig.chip.word("OLAT") == 0x0070


@pytest.mark.parametrize("mask,register", [(0x00FF, 0x14), (0xFF00, 0x15), (0x0010, 0x14)])
def test_write_port_one_port_is_one_w8(rig, mask, register):
    drv = fresh(rig)
    drv.write_port(0xFFFF, mask)
    assert log_of(rig) == [(W, register, 3)]
    assert rig.chip.word("OLAT") == (0x8050 & ~mask) | mask


def test_rmw_never_corrupts_an_externally_stuck_output(rig):
    # The classic GPIO-RMW bug: GPA4 is latched high but shorted low by the fixture; reading
    # GPIO and writing it back would latch GPA4 low for good. We write from the shadow.
    drv = fresh(rig)
    rig.chip.stick(4, False)
    assert drv.read_port() & 0x10 == 0  # the pin really reads low
    drv.write_pin(5, True)
    drv.write_port(0x0000, 0x0080)
    drv.configure_output(3, True)
    rig.chip.stick(4, None)
    assert rig.chip.word("OLAT") & 0x10 == 0x10
    assert rig.chip.level(4) is True  # once the short is gone, GPA4 is high again
    # No write was built from a read: the only read is the explicit read_port above.
    assert [k for k, _, _ in log_of(rig)].count(Kind.COMBINED) == 1


def test_rmw_never_copies_inverted_inputs_into_the_latch(rig):
    drv = fresh(rig)
    drv.set_polarity(0x000F)  # inputs GPA0..3 now read as 1 where the pins are low
    drv.write_pin(6, False)
    assert rig.chip.word("OLAT") == 0x8010


def test_listener_writing_another_pin_during_a_write_is_not_lost(rig):
    # The simulator (like a loopback in the fixture) reports pin changes at the end of the
    # transaction, on the writing thread; a handler that reacts by setting another output
    # re-enters the driver before write_pin() has returned.
    drv = fresh(rig, ExpanderConfig(outputs=0x80FF))
    rig.chip.on_pin_change(
        lambda pin, level: drv.write_pin(1, True) if (pin, level) == (0, True) else None
    )
    drv.write_pin(0, True)
    assert rig.chip.word("OLAT") == drv.output_latch == 0x0003


def test_failed_write_leaves_the_shadow_describing_the_chip(rig):
    drv = fresh(rig)
    rig.smbus.inject("nack", count=-1)
    with pytest.raises(I2CNackError):
        drv.write_pin(5, True)
    rig.smbus.clear_faults()
    assert drv.output_latch == rig.chip.word("OLAT") == 0x8050


def test_configure_output_latch_before_direction_without_glitch(rig):
    drv = fresh(rig, ExpanderConfig(pullups=0x0001))  # GPA0: input, pulled up (high)
    rec = record(rig.chip)
    drv.configure_output(0, True)
    assert rec.pins == []
    assert log_of(rig) == [(W, 0x14, 3), (W, 0x00, 3)]  # OLATA, then IODIRA
    assert rig.chip.is_output(0) and rig.chip.level(0) is True


def test_set_outputs_with_levels_writes_olat_first(rig):
    drv = fresh(rig, ExpanderConfig(pullups=0x7F7F))  # every input pulled up
    rec = record(rig.chip)
    drv.set_outputs(0xFFFF, levels=0xFFFF)
    assert log_of(rig) == [(W, 0x14, 4), (W, 0x00, 4)]
    # GPA7/GPB7 (outputs, low) go high; the pulled-up inputs were high and never dip.
    assert rec.pins == [(7, True), (15, True)]
    assert rig.chip.word("IODIR") == 0x0000


# --------------------------------------------------------------------------- inputs
def test_sixteen_inputs_with_pullups_is_two_w16(rig):
    drv = fresh(rig, ExpanderConfig(), allow_gp7_input=True)
    drv.set_inputs(0xFFFF, pullups=0xFFFF)
    assert log_of(rig) == [(W, 0x0C, 4), (W, 0x00, 4)]  # GPPU first, then IODIR
    totals = rig.bus.accounting.totals()
    assert (totals.transactions, totals.wire_bytes, totals.bits) == (2, 8, 76)
    assert (rig.chip.word("IODIR"), rig.chip.word("GPPU")) == (0xFFFF, 0xFFFF)
    assert drv.read_port() == 0xFFFF


def test_gp7_inputs_refused_by_default_naming_the_pins(rig):
    drv = fresh(rig, ExpanderConfig())
    with pytest.raises(GP7InputError) as info:
        drv.set_inputs(0xFFFF, pullups=0xFFFF)
    assert "GPA7 (pin 7) and GPB7 (pin 15)" in str(info.value)
    assert "allow_gp7_input=True" in str(info.value)
    with pytest.raises(GP7InputError, match=r"^GPB7 \(pin 15\) cannot"):
        drv.configure_input("GPB7")
    with pytest.raises(GP7InputError, match="GPA7"):
        drv.set_outputs(0x8000)
    assert rig.bus.accounting.totals().transactions == 0  # refused before any write
    assert rig.chip.word("IODIR") == 0x7F7F


def test_configure_input_pull_up_before_direction(rig):
    drv = fresh(rig, ExpanderConfig(outputs=0x8081, output_levels=0x0001))  # GPA0 out, high
    rec = record(rig.chip)
    drv.configure_input(0, pull_up=True)
    assert log_of(rig) == [(W, 0x0C, 3), (W, 0x00, 3)]
    assert rec.pins == []  # high as an output, high as a pulled-up input
    assert not rig.chip.is_output(0)


def test_read_port_and_read_pin_budgets_and_values(rig):
    drv = fresh(rig)
    rig.chip.drive(0, True)  # IPOL on pin 1 and pin 10 (RICH.polarity = 0x0402)
    assert drv.read_port() == (0x3F0C | 0x8050 | 0x0001) ^ 0x0402
    assert drv.read_pin(1) is True  # floats low, read inverted
    assert drv.read_pin("GPB2") is False  # pulled up, read inverted
    assert log_of(rig) == [
        (Kind.COMBINED, 0x12, 5),
        (Kind.COMBINED, 0x12, 4),
        (Kind.COMBINED, 0x13, 4),
    ]


def test_read_port_with_a_one_port_mask_reads_only_that_port(rig):
    drv = fresh(rig)
    rig.chip.drive(0, True)
    full = drv.read_port()
    rig.bus.accounting.log.clear()
    assert drv.read_port(0x0003) == full & 0x0003
    assert drv.read_port(0x3F00) == full & 0x3F00
    assert drv.read_port(0x0180) == full & 0x0180  # both ports: one 16-bit read
    assert log_of(rig) == [
        (Kind.COMBINED, 0x12, 4),
        (Kind.COMBINED, 0x13, 4),
        (Kind.COMBINED, 0x12, 5),
    ]


# --------------------------------------------------------------------------- interrupts
def irq_rig(**kwargs) -> tuple[Rig, MCP23017]:
    rig = make_rig()
    drv = fresh(rig, ExpanderConfig(pullups=0x7F7F, **kwargs))
    return rig, drv


def test_interrupt_on_change_seen_on_the_int_pin():
    rig, drv = irq_rig()
    drv.configure_interrupts(0x0001)
    assert rig.chip.int_level(A) is True  # open-drain, released
    rig.chip.drive(0, False)
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (False, True)
    snap = drv.service_interrupt()
    assert snap == InterruptSnapshot(flags=0x0001, captured=0x007E)  # INTCAPB: no B event
    assert snap.pins() == [0]
    assert rig.chip.int_level(A) is True
    rig.chip.drive(0, True)  # the release is a change too
    assert rig.chip.int_level(A) is False


def test_interrupt_defval_mode_holds_while_the_condition_lasts():
    rig, drv = irq_rig()
    drv.configure_interrupts(0x0100, compare=0x0100, defval=0x0100)
    assert rig.chip.int_level(B) is True
    rig.chip.drive(8, False)
    assert drv.service_interrupt().flags == 0x0100
    assert rig.chip.int_level(B) is False  # still differs from DEFVAL: can't be cleared
    rig.chip.drive(8, True)
    drv.service_interrupt()
    assert rig.chip.int_level(B) is True


def test_interrupt_mirror_drives_both_lines():
    rig, drv = irq_rig()
    drv.configure_interrupts(0x0100, mirror=True)
    rig.chip.drive(8, False)
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (False, False)


@pytest.mark.parametrize(
    "kwargs,idle,active",
    [
        (dict(open_drain=True), True, False),
        (dict(open_drain=False, active_high=False), True, False),
        (dict(open_drain=False, active_high=True), False, True),
    ],
    ids=["open-drain", "push-pull-low", "push-pull-high"],
)
def test_interrupt_output_drive_and_polarity(kwargs, idle, active):
    rig, drv = irq_rig()
    drv.configure_interrupts(0x0001, **kwargs)
    assert rig.chip.int_level(A) is idle
    rig.chip.drive(0, False)
    assert rig.chip.int_level(A) is active


def test_interrupt_with_ipol_inputs_reports_the_inverted_capture():
    rig, drv = irq_rig(polarity=0x0001)
    drv.configure_interrupts(0x0001)
    rig.chip.drive(0, False)
    assert drv.service_interrupt().captured & 1 == 1  # low pin, inverted


def test_service_interrupt_is_one_7_byte_read_and_clears_both_ports():
    rig, drv = irq_rig()
    drv.configure_interrupts(0x0101)
    rig.chip.drive(0, False)
    rig.chip.drive(8, False)
    rig.bus.accounting.reset()
    snap = drv.service_interrupt()
    assert log_of(rig) == [(Kind.COMBINED, 0x0E, 7)]
    assert rig.bus.accounting.totals().bits == 66
    assert snap == InterruptSnapshot(flags=0x0101, captured=0x7E7E, gpio=None)
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (True, True)
    assert rig.chip.word("INTF") == 0


def test_service_interrupt_with_gpio_is_one_9_byte_read():
    rig, drv = irq_rig()
    drv.configure_interrupts(0x0001)
    rig.chip.drive(0, False)
    rig.chip.drive(0, True)  # lost while pending; the GPIO bytes show the present state
    rig.bus.accounting.reset()
    snap = drv.service_interrupt(include_gpio=True)
    assert log_of(rig) == [(Kind.COMBINED, 0x0E, 9)]
    assert snap == InterruptSnapshot(flags=0x0001, captured=0x007E, gpio=0x7F7F)


def test_interrupt_flags_read_does_not_clear():
    rig, drv = irq_rig()
    drv.configure_interrupts(0x0001)
    rig.chip.drive(0, False)
    assert drv.interrupt_flags() == drv.interrupt_flags() == 0x0001
    assert rig.chip.int_level(A) is False


def test_configure_interrupts_never_wipes_other_iocon_bits(rig):
    drv = fresh(rig, ExpanderConfig(mirror=True, open_drain=True))
    drv.configure_interrupts(0x0001)  # no IOCON arguments: IOCON isn't even written
    assert all(reg != 0x0A for _, reg, _ in log_of(rig))
    assert rig.chip.word("IOCON") == MIRROR | ODR
    drv.configure_interrupts(0x0001, active_high=True)
    assert rig.chip.word("IOCON") == MIRROR | ODR | INTPOL
    drv.configure_interrupts(0x0001, open_drain=False)
    assert rig.chip.word("IOCON") == MIRROR | INTPOL
    drv.configure_interrupts(0x0001, mirror=False)
    assert rig.chip.word("IOCON") == drv.shadow["IOCON"] == INTPOL


def test_configure_interrupts_writes_compare_values_while_disabled(rig):
    drv = fresh(rig, ExpanderConfig(pullups=0x7F7F, interrupt_enable=0x0001))
    drv.configure_interrupts(0x0002, compare=0x0002, defval=0x0002)
    assert log_of(rig) == [(W, 0x04, 3), (W, 0x06, 3), (W, 0x08, 3), (W, 0x04, 3)]
    assert (rig.chip.word("GPINTEN"), rig.chip.word("INTCON"), rig.chip.word("DEFVAL")) == (
        0x0002,
        0x0002,
        0x0002,
    )
    assert rig.chip.word("INTF") == 0  # pin 1 is pulled up = DEFVAL: no spurious interrupt


# --------------------------------------------------------------------------- scan, misc
def test_scan_finds_exactly_the_chips_at_0x20_to_0x27():
    sim = SimSMBus([SimMCP23017(0x21), SimMCP23017(0x24), ConstantDevice(0x50, 0)])
    bus = I2CBus(sim, name="i2c-1", accounting=Accounting(keep_log=True))
    assert scan(bus) == [0x21, 0x24]
    assert bus.accounting.log == [Transaction(Kind.QUICK, a, None, 1, 2) for a in range(0x20, 0x28)]
    assert bus.retried == 0


def test_scan_of_an_empty_bus():
    assert scan(I2CBus(SimSMBus(), name="i2c-1")) == []


def test_two_chips_on_one_bus_are_independent():
    a, b = SimMCP23017(0x20), SimMCP23017(0x27)
    bus = I2CBus(SimSMBus([a, b]), name="i2c-1")
    MCP23017(bus, 0x20).init(RICH)
    other = MCP23017(bus, 0x27)
    other.init()
    other.write_pin(7, True)
    assert chip_registers(a) == RICH_REGISTERS
    assert b.word("OLAT") == 0x0080


def test_methods_before_init_refuse(rig):
    drv = MCP23017(rig.bus)
    for call in (
        lambda: drv.write_pin(0, True),
        lambda: drv.write_port(1),
        lambda: drv.set_pullups(1),
        lambda: drv.configure_interrupts(1),
    ):
        with pytest.raises(RuntimeError, match=r"call init\(\) first"):
            call()
    assert rig.bus.accounting.totals().transactions == 0


def test_bad_address_and_pin_are_refused(rig):
    with pytest.raises(ValueError, match="0x28"):
        MCP23017(rig.bus, 0x28)
    drv = fresh(rig)
    for pin in (16, -1, "GPC0"):
        with pytest.raises(ValueError):
            drv.write_pin(pin, True)


def test_read_register_is_diagnostic_only(rig):
    drv = fresh(rig)
    assert drv.read_register("IOCON") == MIRROR | ODR
    assert drv.read_register("GPPU") == 0x3F0C
    rig.chip.warm_start(GPPU=0x0000)  # someone else changed it: the shadow is not updated
    assert drv.read_register("GPPU") == 0x0000
    assert drv.shadow["GPPU"] == 0x3F0C
