"""Cross-check against an independent implementation: Adafruit's MCP23017 driver.

Adafruit's code was written from the datasheet by other people. Run through ``BlinkaI2C`` over
``SimSMBus`` + ``SimMCP23017``, it must (1) see the chip the datasheet describes, which checks
the simulator, and (2) leave the simulator in the same observable state as our driver for the
same sequence of station operations, which checks our driver. Where the two legitimately
differ, the difference is one of Adafruit's known flaws, and each has its own test below.
"""

from __future__ import annotations

import errno as E
import inspect
import subprocess
import sys
import threading
from typing import Any

import pytest

from drivers.i2c import Accounting, I2CBus, I2CNackError, I2CTimeoutError, Transaction
from drivers.i2c.accounting import Kind, Totals
from drivers.mcp23017.adafruit import AdafruitExpander, BlinkaI2C, _import_adafruit
from drivers.mcp23017.backends import make_expander
from drivers.mcp23017.config import ExpanderConfig, GP7InputError
from drivers.mcp23017.driver import MCP23017, InterruptSnapshot
from drivers.mcp23017.protocol import Expander
from drivers.mcp23017.registers import Port
from drivers.sim.mcp23017 import SimMCP23017
from drivers.sim.smbus import SimSMBus

BACKENDS = ("pibench", "adafruit")
A, B = Port.A, Port.B


class HookedSMBus:
    """SimSMBus with one-shot hooks run *between* transactions: how a test makes an input
    change at a precise point of a multi-transaction operation, as a real input could."""

    def __init__(self, inner: SimSMBus) -> None:
        self.inner = inner
        self.after_next: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.inner, name)
        if not callable(fn):
            return fn

        def call(*args: Any, **kwargs: Any) -> Any:
            result = fn(*args, **kwargs)
            hooks, self.after_next = self.after_next, []
            for hook in hooks:
                hook()
            return result

        return call


@pytest.fixture
def chip() -> SimMCP23017:
    return SimMCP23017(0x20)


@pytest.fixture
def smbus(chip: SimMCP23017) -> HookedSMBus:
    return HookedSMBus(SimSMBus([chip], name="sim:adafruit"))


@pytest.fixture
def bus(smbus: HookedSMBus) -> I2CBus:
    return I2CBus(smbus, name="sim:adafruit", accounting=Accounting(keep_log=True))


@pytest.fixture
def i2c(bus: I2CBus) -> BlinkaI2C:
    return BlinkaI2C(bus)


def adafruit_mcp(i2c: BlinkaI2C, address: int = 0x20) -> Any:
    cls, _ = _import_adafruit()
    return cls(i2c, address)


def levels(chip: SimMCP23017) -> int:
    return sum(1 << p for p in range(16) if chip.level(p))


def cost(bus: I2CBus, fn: Any) -> tuple[int, int, int]:
    with bus.accounting.measure() as span:
        fn()
    t: Totals = span.totals
    return t.transactions, t.wire_bytes, t.bits


# ======================================== BlinkaI2C: one call, one transaction


def test_writeto_is_one_write_transaction_of_one_plus_len_bytes(bus, i2c, chip):
    bus.accounting.reset()
    i2c.writeto(0x20, bytes([0x14, 0xAA, 0x55]))
    assert bus.accounting.log == [Transaction(Kind.WRITE, 0x20, 0x14, 4, 2)]
    assert chip.word("OLAT") == 0x55AA


def test_writeto_honours_start_and_end(bus, i2c, chip):
    bus.accounting.reset()
    i2c.writeto(0x20, b"\xee\x14\x0f\xff", start=1, end=3)
    assert bus.accounting.log == [Transaction(Kind.WRITE, 0x20, 0x14, 3, 2)]
    assert chip.word("OLAT") == 0x000F  # OLATB untouched: the slice ended before 0xff


def test_writeto_then_readfrom_is_one_combined_transaction(bus, i2c, chip):
    chip.drive(0, True)
    chip.drive(9, True)
    # Adafruit passes one buffer both ways: register at [0], data read into [1:3].
    buf = bytearray([0x12, 0xEE, 0xEE])
    bus.accounting.reset()
    i2c.writeto_then_readfrom(0x20, buf, buf, out_end=1, in_start=1, in_end=3)
    assert bus.accounting.log == [Transaction(Kind.COMBINED, 0x20, 0x12, 5, 3)]
    assert buf == bytearray([0x12, 0x01, 0x02])


def test_readfrom_into_is_one_read_transaction_from_the_pointer(bus, i2c, chip):
    i2c.writeto(0x20, bytes([0x0C, 0x34, 0x12]))  # GPPU; the pointer is left at 0x0E
    i2c.writeto(0x20, bytes([0x0C]))  # pointer back to GPPUA
    buf = bytearray(4)
    bus.accounting.reset()
    i2c.readfrom_into(0x20, buf, start=1, end=3)
    assert bus.accounting.log == [Transaction(Kind.READ, 0x20, None, 3, 2)]
    assert buf == bytearray([0, 0x34, 0x12, 0])


def test_zero_length_writeto_is_a_one_byte_probe(bus, i2c):
    bus.accounting.reset()
    i2c.writeto(0x20, b"")
    assert bus.accounting.log == [Transaction(Kind.QUICK, 0x20, None, 1, 2)]


def test_probe_of_an_absent_address_raises_nack_with_errno(i2c):
    with pytest.raises(I2CNackError) as info:
        i2c.writeto(0x21, b"")
    assert isinstance(info.value, OSError)  # what adafruit_bus_device catches
    assert info.value.errno == E.EREMOTEIO
    assert info.value.address == 0x21


def test_adafruit_probe_failure_becomes_nack_again_in_the_adapter(bus):
    with pytest.raises(ValueError, match="No I2C device"):
        adafruit_mcp(BlinkaI2C(bus), 0x21)  # Adafruit's own behaviour: errno lost
    exp = AdafruitExpander(bus, 0x21, recover_bank1=False)
    with pytest.raises(I2CNackError) as info:
        exp.init()
    assert info.value.errno == E.EREMOTEIO


def test_bus_errors_pass_through_adafruit_with_errno_and_register(bus, smbus):
    exp = AdafruitExpander(bus, 0x20)
    exp.init()
    smbus.inner.inject("timeout", count=-1)
    with pytest.raises(I2CTimeoutError) as info:
        exp.read_port()  # Adafruit's `mcp.gpio` underneath: it lets OSError through as is
    smbus.inner.clear_faults()
    assert info.value.errno == E.ETIMEDOUT
    assert info.value.register == "GPIOA" and info.value.address == 0x20


def test_a_transient_nack_is_retried_under_adafruit(bus, smbus, i2c):
    mcp = adafruit_mcp(i2c)
    smbus.inner.inject("nack", count=1)
    mcp.gpio = 0x0001
    assert bus.retried == 1


def test_try_lock_fails_while_another_thread_holds_the_bus(bus, i2c):
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with bus.lock:
            held.set()
            release.wait()

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait()
    try:
        assert i2c.try_lock() is False
    finally:
        release.set()
        thread.join()
    assert i2c.try_lock() is True
    i2c.unlock()


# ======================================== Adafruit's driver sees the datasheet's chip


def test_construction_resets_iodir_gppu_ipol_at_the_documented_cost(bus, i2c, chip):
    chip.warm_start(IODIR=0x0000, GPPU=0xFFFF, IPOL=0x00FF)
    assert cost(bus, lambda: adafruit_mcp(i2c)) == (4, 13, 125)  # probe + 3 pair writes
    assert (chip.word("IODIR"), chip.word("GPPU"), chip.word("IPOL")) == (0xFFFF, 0, 0)


def test_port_properties_land_in_the_registers(i2c, chip):
    mcp = adafruit_mcp(i2c)
    mcp.gpio = 0x00A5  # a GPIO write goes to OLAT
    mcp.iodir = 0xFF00
    mcp.gppu = 0x0F00
    mcp.ipol = 0x0100
    assert chip.word("OLAT") == 0x00A5
    assert (chip.word("IODIR"), chip.word("GPPU"), chip.word("IPOL")) == (0xFF00, 0x0F00, 0x0100)
    # Outputs follow the latch; inputs 8..11 are pulled up; 12..15 float (low).
    assert levels(chip) == 0x0FA5
    assert mcp.iodir == 0xFF00 and mcp.gppu == 0x0F00 and mcp.ipol == 0x0100


def test_reading_pins_reflects_driven_levels_and_ipol(i2c, chip):
    mcp = adafruit_mcp(i2c)
    mcp.ipol = 0x0400
    chip.drive(3, True)
    chip.drive(9, True)
    chip.drive(10, True)  # inverted by IPOL: reads 0
    chip.drive(11, False)
    assert mcp.gpio == 0x0208
    pins = [mcp.get_pin(n) for n in range(16)]
    assert [p.value for p in pins[8:12]] == [False, True, False, False]


def test_digitalinout_switching_lands_in_the_registers(i2c, chip):
    _, digitalio = _import_adafruit()
    mcp = adafruit_mcp(i2c)
    out, inp = mcp.get_pin(2), mcp.get_pin(12)
    out.switch_to_output(value=True)
    inp.switch_to_input(pull=digitalio.Pull.UP)
    assert chip.word("IODIR") == 0xFFFB
    assert chip.word("OLAT") & 0x0004 and chip.level(2)
    assert chip.word("GPPU") == 0x1000 and chip.level(12)
    assert inp.value is True
    chip.drive(12, False)
    assert inp.value is False


def test_interrupt_flags_captures_and_clear_ints(i2c, chip):
    mcp = adafruit_mcp(i2c)
    mcp.gppu = 0x0300
    mcp.interrupt_configuration = 0x0200  # pin 9 compares with DEFVAL, pin 8 with previous
    mcp.default_value = 0x0200
    mcp.interrupt_enable = 0x0300
    assert (chip.word("GPINTEN"), chip.word("INTCON"), chip.word("DEFVAL")) == (
        0x0300, 0x0200, 0x0200)
    assert not chip.int_active(B)

    chip.drive(8, False)
    assert chip.int_active(B) and not chip.int_active(A)
    assert mcp.int_flag == [8]
    assert mcp.int_flag == [8]  # reading INTF clears nothing
    assert chip.int_active(B)
    assert mcp.int_cap[8:10] == [0, 1]
    assert not chip.int_active(B)  # reading INTCAP cleared it (int_cap and clear_ints alike)

    chip.drive(9, False)  # differs from DEFVAL: the condition persists
    assert mcp.int_flag == [9]
    mcp.clear_ints()
    assert chip.int_active(B)  # DEFVAL mode: cannot be cleared while the condition lasts
    chip.drive(9, True)
    mcp.clear_ints()
    assert not chip.int_active(B) and mcp.int_flag == []


def test_io_control_writes_iocon_and_silently_drops_bank(i2c, chip):
    mcp = adafruit_mcp(i2c)
    mcp.io_control = 0x44
    assert chip.word("IOCON") == 0x44
    mcp.io_control = 0x84
    assert chip.word("IOCON") == 0x04 and chip.bank == 0


# ======================================== the backends agree


def observe(chip: SimMCP23017, label: str, result: Any = None) -> tuple:
    """What a station (or a probe on the board) could see. OLAT counts only for outputs: the
    latch bits of input pins drive nothing, and Adafruit fills them from GPIO (see
    test_adafruit_copies_input_levels_into_the_latch for why that still matters)."""
    outputs = ~chip.word("IODIR") & 0xFFFF
    regs = {r: chip.word(r) for r in ("IODIR", "IPOL", "GPINTEN", "DEFVAL", "INTCON", "GPPU",
                                      "IOCON", "INTF")}
    return (label, result, regs, chip.word("OLAT") & outputs, levels(chip),
            chip.int_active(A), chip.int_active(B))


def scenario(exp: Expander, chip: SimMCP23017) -> list[tuple]:
    """Every Expander operation, with the fixture driving inputs in between."""
    trace = []

    def snap(label: str, result: Any = None) -> None:
        trace.append(observe(chip, label, result))

    # Outputs 0-3, 7, 15; inputs 4-6 (5 inverted) and 8-14 (8-13 pulled up).
    exp.init(ExpanderConfig(outputs=0x808F, output_levels=0x0081, pullups=0x3F00,
                            polarity=0x0020))
    snap("init")
    exp.write_pin(1, True)
    snap("write_pin 1 high")
    exp.write_pin("GPA0", False)
    snap("write_pin GPA0 low")
    exp.write_port(0x8004, mask=0x800C)
    snap("write_port")
    chip.drive(4, True)
    chip.drive(9, False)
    snap("read_port", exp.read_port())
    snap("read_pin 4", exp.read_pin(4))
    snap("read_pin 5", exp.read_pin(5))
    snap("read_pin GPB1", exp.read_pin("GPB1"))
    snap("read_pin 10", exp.read_pin(10))
    exp.configure_output(10, True)
    snap("configure_output 10")
    exp.configure_input(3, pull_up=True)
    snap("configure_input 3")
    exp.set_outputs(0x80CF, levels=0x8041)
    snap("set_outputs")
    exp.set_inputs(0x0003, pullups=0x3F03)
    snap("set_inputs")
    exp.set_pullups(0x3F0F)
    snap("set_pullups")
    exp.set_polarity(0x0120)
    snap("set_polarity")
    chip.drive(9, True)
    exp.configure_interrupts(0x0300, compare=0x0200, defval=0x0200, mirror=True)
    snap("configure_interrupts")
    chip.drive(8, False)
    snap("pin 8 falls")
    snap("service 1", exp.service_interrupt(include_gpio=True))
    chip.drive(9, False)
    snap("service 2", exp.service_interrupt())
    chip.drive(9, True)
    snap("service 3", exp.service_interrupt())
    return trace


def run(backend: str) -> list[tuple]:
    chip = SimMCP23017(0x20)
    bus = I2CBus(SimSMBus([chip], name="sim"), name="sim")
    return scenario(make_expander(bus, 0x20, backend), chip)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scenario_matches_the_datasheet(backend):
    steps = {label: (result, regs, olat, lv, ia, ib)
             for label, result, regs, olat, lv, ia, ib in run(backend)}
    _, regs, olat, lv, _, _ = steps["init"]
    assert regs["IODIR"] == 0x7F70 and regs["IPOL"] == 0x0020 and regs["GPPU"] == 0x3F00
    assert regs["IOCON"] == 0x04  # open-drain INT, the config default
    assert olat == 0x0081 and lv == 0x3F81
    assert steps["write_port"][2] == 0x8086  # 2 and 15 set, 3 cleared, 1 and 7 kept
    # GPIO: pin 4 driven high, 5 inverted (floats low → 1), 8-13 pulled up but 9 driven low.
    assert steps["read_port"][0] == 0x3D00 | 0x8086 | 0x0030
    assert [steps[f"read_pin {p}"][0] for p in ("4", "5", "GPB1", "10")] == [
        True, True, False, True]
    assert steps["configure_output 10"][1]["IODIR"] == 0x7B70
    assert steps["configure_output 10"][3] & 0x0400
    _, regs, _, lv, _, _ = steps["configure_input 3"]
    assert regs["IODIR"] == 0x7B78 and regs["GPPU"] == 0x3F08 and lv & 0x0008
    _, regs, olat, _, _, _ = steps["set_outputs"]
    assert regs["IODIR"] == 0x7F30 and olat == 0x8041
    _, regs, _, _, _, _ = steps["set_inputs"]
    assert regs["IODIR"] == 0x7F33 and regs["GPPU"] == 0x3F03
    assert steps["set_polarity"][1]["IPOL"] == 0x0120
    _, regs, _, _, ia, ib = steps["configure_interrupts"]
    assert (regs["GPINTEN"], regs["INTCON"], regs["DEFVAL"]) == (0x0300, 0x0200, 0x0200)
    assert regs["IOCON"] == 0x44 and not ia and not ib
    # Pin 8 (pulled up, IPOL-inverted) pulled low: reads 1 after inversion, a change.
    assert steps["pin 8 falls"][1]["INTF"] == 0x0100
    assert steps["pin 8 falls"][4] and steps["pin 8 falls"][5]  # MIRROR: both INT lines
    snap1 = steps["service 1"][0]
    assert snap1.flags == 0x0100 and snap1.captured >> 8 & 0x03 == 0x03
    assert snap1.gpio is not None and snap1.gpio >> 8 & 1 == 1
    assert steps["service 2"][0].flags == 0x0200
    assert steps["service 2"][5]  # DEFVAL mode: still active while pin 9 is low
    assert steps["service 3"][0].flags == 0x0200
    assert not steps["service 3"][5]


def test_both_backends_leave_identical_observable_state_at_every_step():
    ours, theirs = run("pibench"), run("adafruit")
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a == b, f"backends differ after {a[0]!r}"


# ======================================== Adafruit's known flaws, pinned


def test_adafruit_constructor_leaves_iocon_zero(i2c, chip):
    mcp = adafruit_mcp(i2c)
    assert mcp.iocon == 0x4  # the typo: a Python attribute, never sent to the chip
    assert chip.word("IOCON") == 0x00
    assert mcp.io_control == 0x00


@pytest.mark.parametrize("backend", BACKENDS)
def test_init_writes_iocon_in_both_backends(backend, bus, chip):
    make_expander(bus, 0x20, backend).init(ExpanderConfig(mirror=True))
    assert chip.word("IOCON") == 0x44  # MIRROR + ODR


@pytest.mark.parametrize(("backend", "latch_survives"), [("pibench", True), ("adafruit", False)])
def test_rmw_from_gpio_corrupts_the_latch_of_an_output_held_low(backend, latch_survives, bus,
                                                                 chip):
    exp = make_expander(bus, 0x20, backend)
    exp.init(ExpanderConfig(outputs=0x80FF))
    exp.write_pin(0, True)
    chip.stick(0, False)  # overloaded or shorted: the pin reads low although latched high
    exp.write_pin(1, True)  # an unrelated pin
    assert bool(chip.word("OLAT") & 1) is latch_survives
    chip.stick(0, None)  # the short goes away
    assert chip.level(0) is latch_survives  # Adafruit silently dropped "pin 0 high"


@pytest.mark.parametrize(("backend", "glitch"), [("pibench", 0), ("adafruit", 0x0070)])
def test_adafruit_copies_input_levels_into_the_latch(backend, glitch, bus, chip):
    exp = make_expander(bus, 0x20, backend)
    exp.init(ExpanderConfig(outputs=0x808F, pullups=0x0070))  # inputs 4-6 pulled up
    exp.write_pin(0, True)
    assert chip.word("OLAT") & 0x0070 == glitch
    # Consequence: making those pins outputs without naming levels drives them high.
    exp.set_outputs(0x80FF)
    assert levels(chip) & 0x0070 == glitch


@pytest.mark.parametrize(("backend", "events"), [("pibench", []),
                                                 ("adafruit", [(3, True), (3, False)])])
def test_switch_to_output_glitches_through_the_stale_latch(backend, events, bus, chip):
    exp = make_expander(bus, 0x20, backend)
    exp.init()
    exp.write_port(0x0008, mask=0x0008)  # pin 3 is still an input: only its latch changes
    seen: list[tuple[int, bool]] = []
    chip.on_pin_change(lambda pin, level: seen.append((pin, level)))
    exp.configure_output(3, False)
    assert seen == events  # Adafruit: IODIR first, so the old latch shows for one transaction
    assert not chip.level(3)


@pytest.mark.parametrize(("backend", "ipol"), [("pibench", 0x0010), ("adafruit", 0x0000)])
def test_switch_to_input_clears_the_pins_polarity(backend, ipol, bus, chip):
    exp = make_expander(bus, 0x20, backend)
    exp.init(ExpanderConfig(outputs=0x809F))
    exp.set_polarity(0x0010)
    exp.configure_input(4)
    assert chip.word("IPOL") == ipol


@pytest.mark.parametrize(("backend", "still_pending"), [("pibench", True), ("adafruit", False)])
def test_writing_an_output_loses_a_pending_interrupt(backend, still_pending, bus, chip):
    exp = make_expander(bus, 0x20, backend)
    exp.init(ExpanderConfig(outputs=0x8081, pullups=0x0100))
    exp.configure_interrupts(0x0100)
    chip.drive(8, False)
    assert chip.int_active(B)
    exp.write_pin(0, True)  # reading GPIO for the RMW clears port B's interrupt
    assert chip.int_active(B) is still_pending
    assert bool(exp.service_interrupt().flags) is still_pending


@pytest.mark.parametrize(("backend", "still_pending"), [("pibench", True), ("adafruit", False)])
def test_reading_a_port_a_pin_clears_a_port_b_interrupt(backend, still_pending, bus, chip):
    exp = make_expander(bus, 0x20, backend)
    exp.init(ExpanderConfig(pullups=0x0100))
    exp.configure_interrupts(0x0100)
    chip.drive(8, False)
    exp.read_pin(2)  # Adafruit reads GPIOA *and* GPIOB for one bit
    assert chip.int_active(B) is still_pending


@pytest.mark.parametrize(("backend", "seen_later"), [("pibench", True), ("adafruit", False)])
def test_an_event_between_the_service_reads_is_lost(backend, seen_later, bus, smbus, chip):
    exp = make_expander(bus, 0x20, backend)
    exp.init(ExpanderConfig(pullups=0x0101))
    exp.configure_interrupts(0x0101)
    chip.drive(0, False)  # port A interrupts
    # Port B changes right after the service's first transaction. Ours reads INTF and INTCAP
    # in that one transaction, so the change is still pending afterwards; Adafruit's INTCAP
    # read (second transaction) clears port B without its flag ever having been read.
    smbus.after_next.append(lambda: chip.drive(8, False))
    first = exp.service_interrupt()
    assert first.flags == 0x0001
    assert bool(exp.service_interrupt().flags & 0x0100) is seen_later


def test_adafruit_constructor_on_a_bank1_chip_writes_the_wrong_registers(i2c, chip):
    chip.warm_start(IOCON=0x80)  # left in BANK=1 by an earlier run: no power cycle on reboot
    adafruit_mcp(i2c)
    assert chip.bank == 1  # not recovered
    # "IODIR = 0xFFFF" hit 0x00/0x01 = IODIRA, IPOLA; "IPOL = 0" hit 0x02/0x03 = GPINTENA,
    # DEFVALA; "GPPU = 0" hit 0x0C/0x0D, unimplemented in BANK=1.
    assert chip.word("IPOL") == 0x00FF and chip.word("IODIR") == 0xFFFF


@pytest.mark.parametrize(("recover", "ipol"), [(True, 0x0000), (False, 0x00FF)])
def test_leftover_bank1_through_the_adapter(recover, ipol, bus, chip):
    chip.warm_start(IOCON=0x80)
    config = ExpanderConfig(outputs=0x80FF, output_levels=0x0001)
    AdafruitExpander(bus, 0x20, recover_bank1=recover).init(config)
    # Without the adapter's write to 0x05 the chip still ends up in BANK=0, by accident: the
    # 16-bit `interrupt_enable = 0` at 0x04 spills into 0x05, IOCON in BANK=1. By then the
    # constructor's writes have gone astray, and port A's inputs read inverted.
    assert chip.bank == 0
    assert chip.word("IODIR") == 0x7F00 and chip.level(0)
    assert chip.word("IPOL") == ipol


def test_our_driver_recovers_bank1_by_itself(bus, chip):
    chip.warm_start(IOCON=0x80)
    MCP23017(bus, 0x20).init(ExpanderConfig(outputs=0x80FF, output_levels=0x0001))
    assert chip.bank == 0 and chip.word("IODIR") == 0x7F00 and chip.level(0)


@pytest.mark.parametrize(
    ("operation", "ours", "adafruit"),
    [  # (transactions, wire bytes, bits); Adafruit's column: docs/hardware-notes.md
        ("write_pin", (1, 3, 29), (2, 9, 86)),
        ("read_pin", (1, 4, 39), (1, 5, 48)),
        ("read_port", (1, 5, 48), (1, 5, 48)),
        ("configure_input", (2, 6, 58), (7, 32, 306)),
        ("configure_output", (2, 6, 58), (4, 18, 172)),
        ("service_interrupt", (1, 7, 66), (2, 10, 96)),
    ],
)
def test_cost_per_operation(operation, ours, adafruit, bus):
    calls = {
        "write_pin": lambda e: e.write_pin(0, True),
        "read_pin": lambda e: e.read_pin(8),
        "read_port": lambda e: e.read_port(),
        "configure_input": lambda e: e.configure_input(1, pull_up=True),
        "configure_output": lambda e: e.configure_output(8, False),
        "service_interrupt": lambda e: e.service_interrupt(),
    }
    for backend, expected in (("pibench", ours), ("adafruit", adafruit)):
        exp = make_expander(bus, 0x20, backend)
        exp.init(ExpanderConfig(outputs=0x8083))
        assert cost(bus, lambda e=exp: calls[operation](e)) == expected, backend


# ======================================== the protocol and the factory


@pytest.mark.parametrize("backend", BACKENDS)
def test_factory_builds_an_expander(backend, bus):
    exp = make_expander(bus, 0x21, backend, allow_gp7_input=True)
    assert isinstance(exp, Expander)
    assert exp.address == 0x21 and exp.bus is bus
    assert isinstance(exp, MCP23017 if backend == "pibench" else AdafruitExpander)


def test_factory_rejects_an_unknown_backend(bus):
    with pytest.raises(ValueError, match="pibench, adafruit"):
        make_expander(bus, 0x20, "wiringpi")


@pytest.mark.parametrize("cls", [MCP23017, AdafruitExpander])
def test_backends_match_the_protocol_signatures(cls):
    members = [n for n, v in vars(Expander).items()
               if inspect.isfunction(v) and not n.startswith("_")]
    assert len(members) == 13
    for name in members:
        theirs = inspect.signature(getattr(cls, name))
        wanted = inspect.signature(getattr(Expander, name))
        shape = [(p.name, p.kind, p.default) for p in wanted.parameters.values()]
        assert [(p.name, p.kind, p.default) for p in theirs.parameters.values()] == shape, name


@pytest.mark.parametrize("backend", BACKENDS)
def test_gp7_input_policy_holds_in_both_backends(backend, bus):
    exp = make_expander(bus, 0x20, backend)
    with pytest.raises(GP7InputError):
        exp.init(ExpanderConfig(outputs=0x0000))
    exp.init()
    with pytest.raises(GP7InputError):
        exp.configure_input(15)


def test_adafruit_backend_needs_init_first(bus):
    with pytest.raises(RuntimeError, match="init"):
        AdafruitExpander(bus).read_port()


def test_importing_the_backend_module_does_not_import_blinka():
    code = ("import sys, drivers.mcp23017.adafruit; "
            "print(sorted(m for m in ('digitalio', 'busio', 'adafruit_mcp230xx', "
            "'adafruit_platformdetect') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_snapshot_type_is_shared():
    # The station handles one snapshot type whatever the backend.
    assert InterruptSnapshot(flags=1, captured=0).pins() == [0]
