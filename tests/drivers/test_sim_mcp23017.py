"""The register-accurate MCP23017 simulator against the checklist of docs/hardware-notes.md ("What
the simulator implements"), item by item.

Tests are named ``test_8_<item>_…`` after that list. Everything goes through the simulated
adapter's smbus2 API (the wire), because that is what the driver sees; chip internals are only
peeked at to state the expected result. Expected values are written out by hand from
the register map and wire tables of docs/hardware-notes.md, never computed with the code under
test.
"""

from __future__ import annotations

import errno
import sys
import threading

import pytest
from sim_fixtures import (
    ADDR,
    BANK,
    BANK0,
    BANK1,
    INTPOL,
    MIRROR,
    ODR,
    PLAIN_RW,
    SEQOP,
    _rig_fixture,  # noqa: F401  (fixture "rig")
    make_rig,
    record,
)
from smbus2 import i2c_msg

from drivers.mcp23017.config import ExpanderConfig
from drivers.mcp23017.driver import MCP23017
from drivers.mcp23017.registers import Port
from drivers.sim.mcp23017 import ChipOptions, SimMCP23017

A, B = Port.A, Port.B


def rd(rig, reg: int) -> int:
    return rig.smbus.read_byte_data(ADDR, reg)


def wr(rig, reg: int, value: int) -> None:
    rig.smbus.write_byte_data(ADDR, reg, value)


def enable_interrupts(rig, gpinten: int, *, intcon: int = 0, defval: int = 0,
                      gppu: int = 0xFFFF) -> None:
    """All pins inputs with pull-ups (so they idle high), then interrupts as given."""
    rig.smbus.write_word_data(ADDR, 0x0C, gppu)
    rig.smbus.write_word_data(ADDR, 0x06, defval)
    rig.smbus.write_word_data(ADDR, 0x08, intcon)
    rig.smbus.write_word_data(ADDR, 0x04, gpinten)


# ------------------------------------------------------------------------ item 1: POR, warm start
def test_8_1_por_register_values_over_the_bus(rig):
    # 0x00..0x15 in one sequential read: IODIR ff/ff, every other register 00, IOCON 00 at both
    # 0x0A and 0x0B, GPIO = pin levels (inputs floating low by default), OLAT 00/00.
    assert rig.smbus.read_i2c_block_data(ADDR, 0x00, 0x16) == [0xFF, 0xFF] + [0x00] * 20


def test_8_1_por_gpio_reads_the_pins_not_a_stored_value():
    rig = make_rig(options=ChipOptions(floating="high"))
    assert rig.smbus.read_word_data(ADDR, 0x12) == 0xFFFF
    assert rig.smbus.read_word_data(ADDR, 0x14) == 0x0000  # OLAT is the latch, still 0


def test_8_1_por_int_lines_idle_high(rig):
    # IOCON=0: push-pull, active-low, nothing pending → both lines high.
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (True, True)


def test_8_1_iocon_is_one_register_at_0x0a_and_0x0b(rig):
    wr(rig, 0x0B, MIRROR | ODR)
    assert (rd(rig, 0x0A), rd(rig, 0x0B)) == (0x44, 0x44)
    wr(rig, 0x0A, INTPOL | 0x01)  # bit 0 is unimplemented and reads 0
    assert (rd(rig, 0x0A), rd(rig, 0x0B)) == (0x02, 0x02)


def test_8_1_warm_start_bank1_seqop1_with_stale_olat_and_gpinten(rig):
    rig.chip.warm_start(IOCON=BANK | SEQOP, OLAT=0x1234, GPINTEN=0x00FF, IODIR=0x0000)
    # BANK=1 addresses now: IOCON at 0x05 and 0x15, OLATA 0x0A, OLATB 0x1A, GPINTENA 0x02.
    assert (rd(rig, 0x05), rd(rig, 0x15)) == (0xA0, 0xA0)
    assert (rd(rig, 0x0A), rd(rig, 0x1A)) == (0x34, 0x12)
    assert (rd(rig, 0x02), rd(rig, 0x12)) == (0xFF, 0x00)
    # SEQOP=1 in BANK=1: a 2-byte read stays on OLATA.
    assert rig.smbus.read_word_data(ADDR, 0x0A) == 0x3434
    # The stale latch really drives the outputs.
    assert rig.chip.level(2) is True and rig.chip.level(0) is False
    assert rig.chip.level(9) is True and rig.chip.level(12) is True


def test_8_1_warm_start_then_power_on_reset_restores_por(rig):
    rig.chip.warm_start(IOCON=0xA0, OLAT=0xFFFF, GPINTEN=0xFFFF, IPOL=0x0F0F, pointer=0x09)
    rig.chip.power_on_reset()
    assert rig.state() == {
        "IODIR": 0xFFFF, "IPOL": 0, "GPINTEN": 0, "DEFVAL": 0, "INTCON": 0, "GPPU": 0,
        "OLAT": 0, "IOCON": 0, "INTF": 0, "INTCAP": 0, "pointer": 0,
    }


def test_8_1_warm_start_rejects_a_register_it_cannot_set(rig):
    # A typo (or a read-only register) must not be silently accepted as "state".
    with pytest.raises(ValueError, match="GPIO"):
        rig.chip.warm_start(GPIO=0x00FF)
    with pytest.raises(ValueError, match="OLATA"):
        rig.chip.warm_start(OLATA=1)


# --------------------------------------------------------------------------- item 2: address decode
@pytest.mark.parametrize("bank,table", [(0, BANK0), (1, BANK1)], ids=["BANK0", "BANK1"])
def test_8_2_address_map_per_bank(rig, bank, table):
    if bank:
        rig.chip.warm_start(IOCON=BANK)
    for i, name in enumerate(PLAIN_RW):
        a_addr, b_addr = table[name]
        wr(rig, a_addr, 0x10 + i)
        wr(rig, b_addr, 0xA0 + i)
    for i, name in enumerate(PLAIN_RW):
        assert rig.chip.word(name) == (0xA0 + i) << 8 | (0x10 + i), name
        a_addr, b_addr = table[name]
        assert (rd(rig, a_addr), rd(rig, b_addr)) == (0x10 + i, 0xA0 + i), name


@pytest.mark.parametrize("bank,table", [(0, BANK0), (1, BANK1)], ids=["BANK0", "BANK1"])
def test_8_2_iocon_both_addresses_per_bank(rig, bank, table):
    base = BANK if bank else 0
    rig.chip.warm_start(IOCON=base)
    a_addr, b_addr = table["IOCON"]
    wr(rig, b_addr, base | MIRROR)
    assert rig.chip.word("IOCON") == base | MIRROR
    assert rd(rig, a_addr) == base | MIRROR


@pytest.mark.parametrize("bank,table", [(0, BANK0), (1, BANK1)], ids=["BANK0", "BANK1"])
def test_8_2_intf_and_intcap_are_read_only(rig, bank, table):
    rig.chip.warm_start(IOCON=BANK if bank else 0)
    before = rig.state()
    for name in ("INTF", "INTCAP"):
        for addr in table[name]:
            wr(rig, addr, 0xFF)
    after = rig.state()
    assert after == before | {"pointer": after["pointer"]}


@pytest.mark.parametrize(
    "bank,addresses",
    [(0, [0x16, 0x17, 0x1F, 0x20, 0x80, 0xFF]),
     (1, [0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x1B, 0x1C, 0x1F])],
    ids=["BANK0", "BANK1"],
)
def test_8_2_unimplemented_addresses_read_0_and_ignore_writes(rig, bank, addresses):
    rig.chip.warm_start(IOCON=BANK if bank else 0, OLAT=0x0102, IPOL=0x0304)
    before = rig.state()
    for addr in addresses:
        wr(rig, addr, 0xFF)
        assert rd(rig, addr) == 0x00, hex(addr)
    after = rig.state()
    assert after == before | {"pointer": after["pointer"]}


def test_8_2_unimplemented_read_value_is_configurable():
    rig = make_rig(options=ChipOptions(unimplemented_read=0xA5))
    assert rd(rig, 0x16) == 0xA5
    assert rd(rig, 0x15) == 0x00  # implemented addresses are unaffected


def test_8_2_map_switches_right_after_the_iocon_write(rig):
    wr(rig, 0x14, 0x5A)  # OLATA, BANK=0 address
    wr(rig, 0x0A, BANK)
    # The very next transaction uses the BANK=1 map.
    assert rd(rig, 0x05) == BANK  # IOCON
    assert rd(rig, 0x0A) == 0x5A  # OLATA
    assert rd(rig, 0x14) == 0x00  # INTCONB now
    wr(rig, 0x05, 0x00)
    assert rd(rig, 0x0A) == 0x00  # IOCON again
    assert rd(rig, 0x14) == 0x5A


def test_8_2_map_switches_within_the_same_transaction(rig):
    # Write IOCON.BANK=1 and keep reading in the same I2C_RDWR: the pointer moves on to 0x0B,
    # which in BANK=0 would be IOCON's alias (0x80) but in BANK=1 is unimplemented (0x00).
    read = i2c_msg.read(ADDR, 1)
    rig.smbus.i2c_rdwr(i2c_msg.write(ADDR, [0x0A, BANK]), read)
    assert list(read) == [0x00]
    assert rig.chip.word("IOCON") == BANK


# --------------------------------------------------------------------------- item 3: pointer
def test_8_3_pointer_is_set_by_the_first_written_byte(rig):
    rig.chip.warm_start(OLAT=0x2211)
    before = rig.state()
    rig.smbus.write_byte(ADDR, 0x14)  # the register byte alone: pointer only, no data
    assert rig.state() == before | {"pointer": 0x14}
    assert rig.smbus.read_byte(ADDR) == 0x11


def test_8_3_pointer_increments_after_each_byte_seqop0(rig):
    rig.smbus.write_i2c_block_data(ADDR, 0x02, [0x01, 0x02, 0x03, 0x04])
    assert (rig.chip.word("IPOL"), rig.chip.word("GPINTEN")) == (0x0201, 0x0403)
    assert rig.chip.pointer == 0x06
    wr(rig, 0x06, 0x77)
    assert rig.smbus.read_i2c_block_data(ADDR, 0x02, 5) == [0x01, 0x02, 0x03, 0x04, 0x77]


def test_8_3_pointer_rolls_over_0x15_to_0x00_in_bank0(rig):
    rig.smbus.write_word_data(ADDR, 0x14, 0xBBAA)
    assert rig.smbus.read_i2c_block_data(ADDR, 0x14, 4) == [0xAA, 0xBB, 0xFF, 0xFF]
    rig.smbus.write_i2c_block_data(ADDR, 0x15, [0x11, 0x22, 0x33])
    assert rig.chip.word("OLAT") == 0x11AA
    assert rig.chip.word("IODIR") == 0x3322


def test_8_3_seqop1_bank0_pointer_toggles_within_the_pair(rig):
    wr(rig, 0x0A, SEQOP)
    rig.chip.warm_start(OLAT=0xBBAA)
    assert rig.smbus.read_i2c_block_data(ADDR, 0x14, 5) == [0xAA, 0xBB, 0xAA, 0xBB, 0xAA]
    assert rig.smbus.read_i2c_block_data(ADDR, 0x15, 3) == [0xBB, 0xAA, 0xBB]
    # Pair writes still work, and extra bytes land in the same pair, never further on.
    rig.smbus.write_i2c_block_data(ADDR, 0x02, [0x01, 0x02, 0x03])
    assert rig.chip.word("IPOL") == 0x0203
    assert rig.chip.word("GPINTEN") == 0x0000
    assert rig.smbus.read_word_data(ADDR, 0x14) == 0xBBAA


def test_8_3_seqop1_bank1_pointer_stays_put(rig):
    rig.chip.warm_start(IOCON=BANK | SEQOP, OLAT=0xBBAA)
    assert rig.smbus.read_i2c_block_data(ADDR, 0x0A, 3) == [0xAA, 0xAA, 0xAA]
    rig.smbus.write_i2c_block_data(ADDR, 0x01, [0x01, 0x02, 0x03])  # IPOLA, three times
    assert rig.chip.word("IPOL") == 0x0003
    assert rig.chip.word("GPINTEN") == 0x0000  # 0x02 in BANK=1: untouched


def test_8_3_pointer_persists_across_transactions_seqop0(rig):
    rig.chip.warm_start(OLAT=0x4433, IODIR=0x0000)
    assert rd(rig, 0x12) == 0x33  # GPIOA (the outputs follow OLAT)
    # A read-only transaction continues where the pointer was left.
    assert rig.smbus.read_byte(ADDR) == 0x44  # GPIOB
    assert rig.smbus.read_byte(ADDR) == 0x33  # OLATA
    assert rig.smbus.read_byte(ADDR) == 0x44  # OLATB
    assert rig.smbus.read_byte(ADDR) == 0x00  # rolled over to IODIRA


def test_8_3_pointer_persists_byte_mode_polling_bank0(rig):
    wr(rig, 0x0A, SEQOP)
    rig.chip.warm_start(OLAT=0x4433, IODIR=0x0000)
    assert rd(rig, 0x12) == 0x33
    assert [rig.smbus.read_byte(ADDR) for _ in range(3)] == [0x44, 0x33, 0x44]


def test_8_3_pointer_persists_byte_mode_polling_bank1(rig):
    rig.chip.warm_start(IOCON=BANK | SEQOP, IODIR=0x0000, OLAT=0x4433)
    assert rd(rig, 0x09) == 0x33  # GPIOA
    assert [rig.smbus.read_byte(ADDR) for _ in range(3)] == [0x33, 0x33, 0x33]
    rig.chip.warm_start(OLAT=0x4455)
    assert rig.smbus.read_byte(ADDR) == 0x55  # still polling GPIOA, now the new level


# --------------------------------------------------------------------------- item 4: GPIO
def test_8_4_gpio_read_inputs_with_ipol_applied(rig):
    for pin, level in {0: True, 1: False, 2: True, 3: False, 8: True}.items():
        rig.chip.drive(pin, level)
    wr(rig, 0x02, 0b0000_0011)  # IPOLA: pins 0, 1 read inverted
    assert rd(rig, 0x12) == 0b0000_0110
    assert rd(rig, 0x13) == 0b0000_0001


def test_8_4_gpio_read_outputs_from_olat_ipol_ignored(rig):
    rig.smbus.write_word_data(ADDR, 0x02, 0xFFFF)  # IPOL on every pin…
    rig.smbus.write_word_data(ADDR, 0x14, 0x0FF0)
    rig.smbus.write_word_data(ADDR, 0x00, 0x0000)  # …but all are outputs now
    assert rig.smbus.read_word_data(ADDR, 0x12) == 0x0FF0


def test_8_4_gpio_read_mixed_inputs_and_outputs(rig):
    wr(rig, 0x00, 0xF0)  # GPA0..3 outputs, GPA4..7 inputs
    wr(rig, 0x14, 0b1010_0101)  # latch bits of inputs don't show
    rig.chip.drive(4, True)
    rig.chip.drive(5, False)
    wr(rig, 0x0C, 0b0100_0000)  # pin 6 pulled up; pin 7 floats low
    assert rd(rig, 0x12) == 0b0101_0101


def test_8_4_stuck_pin_overrides_output_and_input(rig):
    wr(rig, 0x00, 0xFE)  # GPA0 output
    wr(rig, 0x14, 0x01)  # latched high…
    rig.chip.stick(0, False)  # …but shorted to GND
    rig.chip.drive(1, True)
    rig.chip.stick(1, False)
    assert rd(rig, 0x12) == 0x00
    assert rd(rig, 0x14) == 0x01  # OLAT still holds what was written
    rig.chip.stick(0, None)
    rig.chip.stick(1, None)
    assert rd(rig, 0x12) == 0x03


def test_8_4_gpio_write_goes_to_olat(rig):
    rig.smbus.write_word_data(ADDR, 0x12, 0xC33C)
    assert rig.chip.word("OLAT") == 0xC33C
    assert rig.smbus.read_word_data(ADDR, 0x14) == 0xC33C
    # All pins are still inputs (floating low): the write changed no level.
    assert rig.smbus.read_word_data(ADDR, 0x12) == 0x0000


def test_8_4_gppu_pulls_an_undriven_input_high(rig):
    rig.smbus.write_word_data(ADDR, 0x0C, 0x8001)
    assert rig.smbus.read_word_data(ADDR, 0x12) == 0x8001
    rig.chip.drive(0, False)  # driven beats the weak pull-up
    assert rig.smbus.read_word_data(ADDR, 0x12) == 0x8000
    rig.chip.drive(0, None)
    assert rig.smbus.read_word_data(ADDR, 0x12) == 0x8001


def test_8_4_gppu_has_no_effect_on_outputs(rig):
    wr(rig, 0x00, 0x00)
    wr(rig, 0x0C, 0xFF)
    assert rd(rig, 0x12) == 0x00  # outputs latched low stay low


@pytest.mark.parametrize("floating,expected", [("low", 0x0000), ("high", 0xFFFF)])
def test_8_4_floating_input_level_configurable(floating, expected):
    rig = make_rig(options=ChipOptions(floating=floating))
    assert rig.smbus.read_word_data(ADDR, 0x12) == expected


def test_8_4_floating_random_is_seeded_and_reproducible():
    def levels(seed):
        return make_rig(options=ChipOptions(floating="random", seed=seed)).smbus.read_word_data(
            ADDR, 0x12)

    assert levels(1) == levels(1)
    # Sixteen coin flips over five seeds: a constant result would mean "random" isn't.
    assert len({levels(s) for s in range(5)}) > 1


def test_8_4_floating_invalid_choice_raises():
    with pytest.raises(ValueError, match="floating"):
        SimMCP23017(options=ChipOptions(floating="sideways"))


# --------------------------------------------------------------------------- item 5: interrupts
def test_8_5_first_event_captures_port_sets_intf_and_asserts_int(rig):
    enable_interrupts(rig, 0x0003)
    assert rig.chip.int_level(A) is True
    rig.chip.drive(1, False)
    assert rig.chip.int_level(A) is False  # active-low
    assert rig.chip.int_level(B) is True  # port B has nothing pending
    assert rd(rig, 0x0E) == 0b10  # INTFA: pin 1
    assert rd(rig, 0x10) == 0b1111_1101  # INTCAPA: the port at the event


def test_8_5_intcap_frozen_while_pending(rig):
    enable_interrupts(rig, 0x0003)
    rig.chip.drive(1, False)
    rig.chip.drive(0, False)  # a second change while pending: no new event, no new capture
    rig.chip.drive(1, True)
    assert rd(rig, 0x0E) == 0b10
    # Reading INTFA cleared nothing, so INTCAPA still holds the first capture. (Reading it now
    # clears, which is the point of the next tests.)
    assert rd(rig, 0x10) == 0b1111_1101


def test_8_5_intf_read_does_not_clear(rig):
    enable_interrupts(rig, 0x0001)
    rig.chip.drive(0, False)
    for _ in range(3):
        assert rig.smbus.read_word_data(ADDR, 0x0E) == 0x0001
    assert rig.chip.int_level(A) is False


@pytest.mark.parametrize("clear_reg", [0x12, 0x10], ids=["GPIOA", "INTCAPA"])
def test_8_5_gpio_or_intcap_read_clears_only_that_port(rig, clear_reg):
    enable_interrupts(rig, 0x0101)
    rig.chip.drive(0, False)
    rig.chip.drive(8, False)
    rd(rig, clear_reg)
    assert rig.smbus.read_word_data(ADDR, 0x0E) == 0x0100  # INTFA cleared, INTFB still set
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (True, False)


def test_8_5_writes_to_gpio_or_intcap_do_not_clear(rig):
    enable_interrupts(rig, 0x0001)
    rig.chip.drive(0, False)
    wr(rig, 0x12, 0x00)
    wr(rig, 0x10, 0x00)
    assert rig.chip.int_level(A) is False
    assert rd(rig, 0x0E) == 0x01


def test_8_5_reference_becomes_state_at_clearing_change_lost(rig):
    enable_interrupts(rig, 0x0001)
    rig.chip.drive(0, False)  # 1→0: interrupt
    rig.chip.drive(0, True)  # back to 1 while pending: lost
    assert rd(rig, 0x12) & 1 == 1  # clears; reference is now 1 (the state at clearing)
    assert rig.chip.int_level(A) is True  # nothing differs from the reference
    rig.chip.drive(0, False)
    assert rig.chip.int_level(A) is False


def test_8_5_reference_becomes_state_at_clearing_after_1_to_0(rig):
    enable_interrupts(rig, 0x0001)
    rig.chip.drive(0, False)
    assert rd(rig, 0x12) & 1 == 0  # cleared while low: the new initial state is 0
    assert rig.chip.int_level(A) is True
    rig.chip.drive(0, False)  # no change: nothing
    assert rig.chip.int_level(A) is True
    rig.chip.drive(0, True)  # 0→1: a new interrupt
    assert rig.chip.int_level(A) is False
    assert (rd(rig, 0x0E), rd(rig, 0x10)) == (0x01, 0xFF)


def test_8_5_defval_mode_persists_while_the_condition_lasts(rig):
    enable_interrupts(rig, 0x0001, intcon=0x0001, defval=0x0001)
    assert rig.chip.int_level(A) is True  # pulled up = DEFVAL: no condition
    rig.chip.drive(0, False)
    for _ in range(3):  # whatever is read, INT can't be cleared while pin 0 != DEFVAL
        rd(rig, 0x12)
        rd(rig, 0x10)
        assert rig.chip.int_level(A) is False
        assert rd(rig, 0x0E) == 0x01
    rig.chip.drive(0, True)  # condition gone, but the interrupt is still pending until read
    assert rig.chip.int_level(A) is False
    rd(rig, 0x10)
    assert rig.chip.int_level(A) is True
    assert rd(rig, 0x0E) == 0x00


def test_8_5_outputs_never_interrupt(rig):
    enable_interrupts(rig, 0xFFFF)
    rig.smbus.write_word_data(ADDR, 0x00, 0x0000)  # all outputs; GPINTEN stays set
    rig.smbus.write_word_data(ADDR, 0x14, 0xFFFF)
    rig.smbus.write_word_data(ADDR, 0x14, 0x0000)
    rig.chip.stick(3, True)  # even a pin forced externally
    rig.chip.drive(4, True)  # and the fixture driving an output pin
    assert rig.smbus.read_word_data(ADDR, 0x0E) == 0x0000
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (True, True)


def test_8_5_disabled_pins_do_not_interrupt(rig):
    enable_interrupts(rig, 0x0001)
    rig.chip.drive(1, False)
    rig.chip.drive(9, False)
    assert rig.smbus.read_word_data(ADDR, 0x0E) == 0x0000
    assert rig.chip.int_level(A) is True


@pytest.mark.parametrize(
    "iocon,idle,active",
    [
        (0x00, True, False),  # push-pull, active-low (POR)
        (INTPOL, False, True),  # push-pull, active-high
        (ODR, True, False),  # open-drain: released reads high (Pi pull-up), active pulls low
        (ODR | INTPOL, True, False),  # ODR overrides INTPOL
    ],
    ids=["pushpull-low", "pushpull-high", "opendrain", "opendrain-ignores-intpol"],
)
def test_8_5_int_electrical_levels_from_odr_and_intpol(rig, iocon, idle, active):
    wr(rig, 0x0A, iocon)
    enable_interrupts(rig, 0x0101)
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (idle, idle)
    rig.chip.drive(8, False)
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (idle, active)
    rd(rig, 0x13)
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (idle, idle)


def test_8_5_mirror_ors_both_ports_and_needs_both_ports_read(rig):
    wr(rig, 0x0A, MIRROR)
    enable_interrupts(rig, 0x0101)
    rig.chip.drive(8, False)  # port B only: both lines go active
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (False, False)
    rig.chip.drive(0, False)
    rd(rig, 0x12)  # clears port A only; B still holds both lines
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (False, False)
    rd(rig, 0x13)
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (True, True)


def test_8_5_service_read_from_0x0e_clears_both_ports(rig):
    enable_interrupts(rig, 0x0101)
    rig.chip.drive(0, False)
    rig.chip.drive(8, False)
    assert rig.smbus.read_i2c_block_data(ADDR, 0x0E, 6) == [0x01, 0x01, 0xFE, 0xFE, 0xFE, 0xFE]
    assert (rig.chip.int_level(A), rig.chip.int_level(B)) == (True, True)
    assert rig.smbus.read_word_data(ADDR, 0x0E) == 0x0000


@pytest.mark.parametrize("in_intcap,expected_cap", [(True, 0xFE), (False, 0x01)])
def test_8_5_ipol_in_intcap_is_an_option(in_intcap, expected_cap):
    rig = make_rig(options=ChipOptions(ipol_in_intcap=in_intcap))
    wr(rig, 0x02, 0xFF)  # IPOLA first: flipping it with interrupts on is itself a change
    enable_interrupts(rig, 0x0001, gppu=0x0000)  # inputs floating low
    rig.chip.drive(0, True)  # pins now 0000_0001
    assert rd(rig, 0x10) == expected_cap


@pytest.mark.parametrize("in_compare,fires", [(True, True), (False, False)])
def test_8_5_ipol_in_defval_compare_is_an_option(in_compare, fires):
    rig = make_rig(options=ChipOptions(ipol_in_compare=in_compare))
    wr(rig, 0x02, 0x01)  # IPOLA pin 0: the pin (low) reads as 1
    # DEFVAL 0, compare mode: the IPOL-applied value (1) differs, the raw pin (0) does not.
    enable_interrupts(rig, 0x0001, intcon=0x0001, defval=0x0000, gppu=0x0000)
    assert rig.chip.int_level(A) is (not fires)


def test_8_5_int_listener_follows_raise_and_clear(rig):
    rec = record(rig.chip)
    enable_interrupts(rig, 0x0001)
    rig.chip.drive(0, False)
    rd(rig, 0x12)
    assert rec.ints == [(A, False), (A, True)]


def test_8_5_listeners_fire_after_the_transaction_not_during(rig):
    wr(rig, 0x00, 0x00)
    rig.smbus.write_word_data(ADDR, 0x01, 0x00)
    seen = []
    # When told about pin 0, the other port's latch byte (clocked later in the same write) is
    # already there; and the listener can itself use the bus, which only works between
    # transactions.
    rig.chip.on_pin_change(
        lambda pin, level: seen.append((pin, level, rig.chip.level(8),
                                        rig.smbus.read_byte_data(ADDR, 0x15))))
    rig.smbus.write_word_data(ADDR, 0x14, 0x0101)
    assert seen == [(0, True, True, 0x01), (8, True, True, 0x01)]


def test_8_5_int_listeners_fire_after_the_transaction(rig):
    enable_interrupts(rig, 0x0101)
    rig.chip.drive(0, False)
    rig.chip.drive(8, False)
    seen = []
    rig.chip.on_int_change(lambda port, level: seen.append(
        (port, level, rig.chip.int_level(A), rig.chip.int_level(B))))
    # One read clears A (at INTCAPA) and then B (at INTCAPB). Delivered during the read, the
    # INTA callback would still see INTB active.
    rig.smbus.read_i2c_block_data(ADDR, 0x0E, 4)
    assert seen == [(A, True, True, True), (B, True, True, True)]


# --------------------------------------------------------------------------- item 6: bus behaviour
def test_8_6_wrong_address_nacks_with_oserror_121(rig):
    with pytest.raises(OSError) as exc:
        rig.smbus.read_byte_data(0x21, 0x00)
    assert type(exc.value) is OSError
    assert exc.value.errno == errno.EREMOTEIO == 121


@pytest.mark.parametrize(
    "kind,cls,err",
    [("nack", OSError, 121), ("io", OSError, 5), ("timeout", TimeoutError, 110),
     ("arbitration", BlockingIOError, 11)],
)
def test_8_6_fault_injection_raises_as_the_kernel_does(rig, kind, cls, err):
    rig.smbus.inject(kind)
    with pytest.raises(OSError) as exc:
        rig.smbus.read_byte_data(ADDR, 0x00)
    assert type(exc.value) is cls  # exactly the class Python itself would construct
    assert exc.value.errno == err
    assert rig.smbus.read_byte_data(ADDR, 0x00) == 0xFF  # count=1: next one succeeds


def test_8_6_fault_count_then_recovers(rig):
    rig.smbus.inject("nack", count=2)
    for _ in range(2):
        with pytest.raises(OSError):
            wr(rig, 0x14, 0x01)
    assert rig.chip.word("OLAT") == 0x0000  # a NACKed transaction changes nothing
    wr(rig, 0x14, 0x01)
    assert rig.chip.word("OLAT") == 0x0001


def test_8_6_persistent_fault_until_cleared(rig):
    rig.smbus.inject("timeout", count=-1)
    for _ in range(5):
        with pytest.raises(TimeoutError):
            rd(rig, 0x00)
    rig.smbus.clear_faults()
    assert rd(rig, 0x00) == 0xFF


def test_8_6_pi4_i2c_rdwr_read_not_last_is_eopnotsupp(rig):
    read = i2c_msg.read(ADDR, 1)
    with pytest.raises(OSError) as exc:
        rig.smbus.i2c_rdwr(read, i2c_msg.write(ADDR, [0x00]))
    assert exc.value.errno == errno.EOPNOTSUPP == 95
    with pytest.raises(OSError) as exc:  # two reads: the first is not last
        rig.smbus.i2c_rdwr(i2c_msg.write(ADDR, [0x00]), i2c_msg.read(ADDR, 1), read)
    assert exc.value.errno == 95


def test_8_6_32_byte_smbus_block_limit_is_a_valueerror(rig):
    assert len(rig.smbus.read_i2c_block_data(ADDR, 0x00, 32)) == 32
    rig.smbus.write_i2c_block_data(ADDR, 0x16, [0] * 32)  # 32 is allowed
    with pytest.raises(ValueError):
        rig.smbus.read_i2c_block_data(ADDR, 0x00, 33)
    with pytest.raises(ValueError):
        rig.smbus.write_i2c_block_data(ADDR, 0x00, [0] * 33)
    # i2c_rdwr has no such limit.
    read = i2c_msg.read(ADDR, 40)
    rig.smbus.i2c_rdwr(i2c_msg.write(ADDR, [0x00]), read)
    assert len(list(read)) == 40


def _gp7_rig(corruption: bool):
    rig = make_rig(options=ChipOptions(gp7_corruption=corruption, seed=3))
    wr(rig, 0x0C, 0xFF)  # all port A inputs, pulled up: reads 0xFF
    return rig


def test_8_6_gp7_input_changing_during_a_read_corrupts_one_bit():
    rig = _gp7_rig(True)
    rig.chip.faults.toggle_during_next_read.add(7)  # GPA7 toggles 1→0 while the byte goes out
    value = rd(rig, 0x12)
    honest = 0x7F  # what the pins are after the toggle
    assert bin(value ^ honest).count("1") == 1
    assert rd(rig, 0x12) == honest  # the next transaction is clean again


def test_8_6_gp7_corruption_off_by_default():
    rig = _gp7_rig(False)
    rig.chip.faults.toggle_during_next_read.add(7)
    assert rd(rig, 0x12) == 0x7F


def test_8_6_gp7_corruption_only_for_gpa7_gpb7_inputs():
    rig = _gp7_rig(True)
    rig.chip.faults.toggle_during_next_read.add(6)  # not pin 7: clean
    assert rd(rig, 0x12) == 0xBF
    wr(rig, 0x00, 0x7F)  # GPA7 now an output: the erratum doesn't apply
    wr(rig, 0x14, 0x80)
    rig.chip.faults.toggle_during_next_read.add(7)
    assert rd(rig, 0x12) == 0xBF


def test_8_6_gp7_corruption_also_for_gpb7():
    rig = _gp7_rig(True)
    wr(rig, 0x0D, 0xFF)
    rig.chip.faults.toggle_during_next_read.add(15)
    value = rd(rig, 0x13)
    assert bin(value ^ 0x7F).count("1") == 1


# --------------------------------------------------------------------------- item 7: accounting
# (call, kind, wire bytes incl. address bytes, bits = 9·bytes + S/Sr/P) per docs/hardware-notes.md
ACCOUNTING_TABLE = [
    (lambda s: s.write_quick(ADDR), "quick", 1, 11),
    (lambda s: s.write_byte(ADDR, 0x12), "write", 2, 20),
    (lambda s: s.read_byte(ADDR), "read", 2, 20),
    (lambda s: s.write_byte_data(ADDR, 0x14, 1), "write", 3, 29),
    (lambda s: s.read_byte_data(ADDR, 0x12), "combined", 4, 39),
    (lambda s: s.write_word_data(ADDR, 0x14, 1), "write", 4, 38),
    (lambda s: s.read_word_data(ADDR, 0x12), "combined", 5, 48),
    (lambda s: s.write_i2c_block_data(ADDR, 0x00, [0xFF] * 12), "write", 14, 128),
    (lambda s: s.read_i2c_block_data(ADDR, 0x0E, 4), "combined", 7, 66),
    (lambda s: s.read_i2c_block_data(ADDR, 0x0E, 6), "combined", 9, 84),
    (lambda s: s.i2c_rdwr(i2c_msg.write(ADDR, [0x12]), i2c_msg.read(ADDR, 40)),
     "combined", 43, 390),
    (lambda s: s.i2c_rdwr(i2c_msg.write(ADDR, [0x14, 1, 2])), "write", 4, 38),
    (lambda s: s.i2c_rdwr(i2c_msg.read(ADDR, 2)), "read", 3, 29),
]


@pytest.mark.parametrize("call,kind,wire,bits", ACCOUNTING_TABLE,
                         ids=[f"{k}-{w}" for _, k, w, _ in ACCOUNTING_TABLE])
def test_8_7_accounting_per_transaction_matches_the_bus_time_model(rig, call, kind, wire, bits):
    call(rig.smbus)
    (t,) = rig.smbus.accounting.log
    assert (t.kind, t.address, t.wire_bytes, t.bits) == (kind, ADDR, wire, bits)


def test_8_7_bus_time_at_100_and_400_khz(rig):
    rig.smbus.write_byte_data(ADDR, 0x14, 1)  # W8: 29 bits
    rig.smbus.read_i2c_block_data(ADDR, 0x0E, 4)  # IRQ service: 66 bits
    totals = rig.smbus.accounting.totals()
    assert (totals.transactions, totals.wire_bytes, totals.bits) == (2, 10, 95)
    assert totals.seconds_at(100_000) == pytest.approx(950e-6)
    assert totals.seconds_at(400_000) == pytest.approx(237.5e-6)


def test_8_7_failed_transactions_are_accounted_too(rig):
    # The address byte went out and was NACKed: the bus was busy for it.
    with pytest.raises(OSError):
        rig.smbus.read_byte_data(0x27, 0x00)
    assert rig.smbus.accounting.totals().transactions == 1


def test_8_7_bus_wrapper_accounting_equals_the_simulators(rig):
    b = rig.bus
    b.write_byte_data(ADDR, 0x14, 0x01)
    b.read_byte_data(ADDR, 0x12)
    b.write_word_data(ADDR, 0x14, 0x0102)
    b.read_word_data(ADDR, 0x12)
    b.write_block(ADDR, 0x00, [0xFF] * 12)
    b.read_block(ADDR, 0x0E, 4)
    b.read_block(ADDR, 0x00, 40)  # > 32: one I2C_RDWR
    b.write_block(ADDR, 0x00, [0xFF] * 40)
    b.write_then_read(ADDR, [0x12], 2)
    b.probe(ADDR)
    b.probe(0x27)  # NACK: counted once (probe doesn't retry)
    rig.smbus.inject("nack", count=1)
    b.read_byte_data(ADDR, 0x12)  # fails once, retried: two transactions on the wire
    assert rig.bus.accounting.log == rig.smbus.accounting.log
    assert rig.bus.accounting.totals() == rig.smbus.accounting.totals()
    assert rig.bus.accounting.totals().transactions == 13


# --------------------------------------------------------------------------- item 8: thread safety
@pytest.fixture
def fast_switching():
    # Switch threads every microsecond instead of every 5 ms, so the interleavings that a real
    # station sees over hours happen in a fraction of a second.
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _run_threads(targets) -> None:
    errors: list[BaseException] = []

    def guard(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # re-raised in the test thread below
                errors.append(exc)
        return run

    threads = [threading.Thread(target=guard(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        # A generous guard against a deadlock hanging the suite; not a timing assertion.
        t.join(timeout=10)
    assert not [t for t in threads if t.is_alive()], "deadlock: threads still running"
    assert errors == []


def test_8_8_threads_hammering_one_chip_through_one_bus(rig, fast_switching):
    drv = MCP23017(rig.bus)
    drv.init(ExpanderConfig(outputs=0x80FF, pullups=0x7F00))
    rig.bus.accounting.reset()
    rig.smbus.accounting.reset()
    n = 300

    def toggler(pin):
        def run():
            for i in range(n):
                drv.write_pin(pin, i % 2 == 0)
                drv.read_port()
        return run

    def fixture_side():
        for i in range(n):
            rig.chip.drive(8 + i % 7, bool(i % 3))

    _run_threads([toggler(p) for p in range(4)] + [fixture_side])
    # Each toggler ends on i = n-1 (odd): False. Nobody touched pins 4..7.
    assert rig.chip.word("OLAT") == drv.output_latch == 0x0000
    assert rig.bus.accounting.totals().transactions == 4 * n * 2
    assert rig.bus.accounting.log == rig.smbus.accounting.log
    assert rig.chip.word("IODIR") == 0x7F00


def test_8_8_pin_ownership_under_threads_keeps_every_latch_bit(rig, fast_switching):
    # The classic lost update: two threads each read the shadow, change their own bit and write
    # the byte back. Each thread sets its pin high at the end; none may be lost.
    drv = MCP23017(rig.bus)
    drv.init(ExpanderConfig(outputs=0xFFFF))

    def worker(pin):
        def run():
            for i in range(200):
                drv.write_pin(pin, i % 2 == 1)
        return run

    _run_threads([worker(p) for p in range(8)])
    assert rig.chip.word("OLAT") == drv.output_latch == 0x00FF


def test_8_8_listener_doing_bus_io_while_the_fixture_drives_pins(rig, fast_switching):
    # An INT listener that services the chip (as the Pi-side callback does) while the fixture
    # drives inputs from one thread and the station polls from another. Listeners called with
    # the chip's lock held would deadlock against the polling thread here.
    drv = MCP23017(rig.bus)
    drv.init(ExpanderConfig(outputs=0x8080, pullups=0x7F7F, interrupt_enable=0x7F7F,
                            open_drain=False))
    serviced = []
    rig.chip.on_int_change(
        lambda port, level: serviced.append(drv.service_interrupt()) if not level else None)

    def fixture_side():
        for i in range(300):
            rig.chip.drive(i % 7, bool(i % 2))

    def poller():
        for _ in range(300):
            drv.read_port()

    _run_threads([fixture_side, poller])
    drv.service_interrupt()
    assert rig.chip.int_level(A) is True
    assert serviced  # the listener really ran


@pytest.mark.parametrize("seed", range(40))
def test_all_pins_at_once_read_as_each_pin_alone(seed):
    """The chip re-derives all 16 levels in one pass after every change (fixture checks walk it
    often: issue 14); that pass must say what :meth:`level` says pin by pin, whatever the
    directions, latches, pull-ups, external drives, stuck faults and floating inputs."""
    import random

    rng = random.Random(seed)
    chip = SimMCP23017(0x20, ChipOptions(floating=rng.choice(["low", "high", "random"]),
                                         seed=seed))
    for _ in range(30):
        chip.warm_start(IODIR=rng.getrandbits(16), OLAT=rng.getrandbits(16),
                        GPPU=rng.getrandbits(16), IPOL=rng.getrandbits(16))
        for pin in rng.sample(range(16), rng.randint(0, 6)):
            chip.drive(pin, rng.choice([True, False, None]))
        for pin in rng.sample(range(16), rng.randint(0, 2)):
            chip.stick(pin, rng.choice([True, False, None]))
        one_by_one = sum(1 << pin for pin in range(16) if chip.level(pin))
        with chip._lock:
            assert chip._levels() == one_by_one
            for port in Port:
                raw = chip._port_value(port, apply_ipol=False)
                assert raw == one_by_one >> (8 * port) & 0xFF
