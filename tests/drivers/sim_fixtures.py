"""Shared helpers for the I2C / MCP23017 / simulator tests.

``conftest.py`` in this directory belongs to the Pi-GPIO tests, so these are imported
explicitly. Fixtures are registered under a public name (``rig``) with a private function
name, so importing them does not trip ruff's unused-import / redefinition checks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest

from drivers.i2c import Accounting, I2CBus
from drivers.mcp23017.registers import Port
from drivers.sim.mcp23017 import ChipOptions, SimMCP23017
from drivers.sim.smbus import SimSMBus

ADDR = 0x20
BUS_NAME = "sim:bench"

# The register map (docs/hardware-notes.md), copied by hand rather than taken from
# drivers.mcp23017.registers: the tests
# must be able to catch a mistake in that table.
BANK0 = {
    "IODIR": (0x00, 0x01), "IPOL": (0x02, 0x03), "GPINTEN": (0x04, 0x05),
    "DEFVAL": (0x06, 0x07), "INTCON": (0x08, 0x09), "IOCON": (0x0A, 0x0B),
    "GPPU": (0x0C, 0x0D), "INTF": (0x0E, 0x0F), "INTCAP": (0x10, 0x11),
    "GPIO": (0x12, 0x13), "OLAT": (0x14, 0x15),
}
BANK1 = {
    "IODIR": (0x00, 0x10), "IPOL": (0x01, 0x11), "GPINTEN": (0x02, 0x12),
    "DEFVAL": (0x03, 0x13), "INTCON": (0x04, 0x14), "IOCON": (0x05, 0x15),
    "GPPU": (0x06, 0x16), "INTF": (0x07, 0x17), "INTCAP": (0x08, 0x18),
    "GPIO": (0x09, 0x19), "OLAT": (0x0A, 0x1A),
}
# Registers a test can put arbitrary values in without side effects on the map or pins.
PLAIN_RW = ("IODIR", "IPOL", "GPINTEN", "DEFVAL", "INTCON", "GPPU", "OLAT")

# IOCON bits
BANK, MIRROR, SEQOP, ODR, INTPOL = 0x80, 0x40, 0x20, 0x04, 0x02


@dataclass
class Rig:
    """One simulated chip on a simulated adapter, and the project's bus wrapper over it. Both
    keep a transaction log so tests can compare the two ledgers."""

    chip: SimMCP23017
    smbus: SimSMBus
    bus: I2CBus

    def state(self) -> dict[str, int]:
        """Every register of the chip (A | B << 8), for before/after comparisons."""
        names = (*PLAIN_RW, "IOCON", "INTF", "INTCAP")
        return {n: self.chip.word(n) for n in names} | {"pointer": self.chip.pointer}


def make_rig(address: int = ADDR, *, options: ChipOptions | None = None, retries: int = 2,
             pi4_rules: bool = True) -> Rig:
    chip = SimMCP23017(address, options)
    smbus = SimSMBus([chip], name=BUS_NAME, pi4_rules=pi4_rules,
                     accounting=Accounting(keep_log=True))
    bus = I2CBus(smbus, name=BUS_NAME, retries=retries, accounting=Accounting(keep_log=True))
    return Rig(chip, smbus, bus)


@pytest.fixture(name="rig")
def _rig_fixture() -> Rig:
    return make_rig()


class ConstantDevice:
    """Something that ACKs at an address, ignores what is written and answers every read with
    the same byte: the shape of a non-MCP23017 (an EEPROM page, a sensor) at an expander's
    address. Implements the simulator's device protocol."""

    def __init__(self, address: int, value: int) -> None:
        self.address = address
        self.value = value
        self.written: list[int] = []

    def begin(self) -> None:
        pass

    def end(self) -> None:
        pass

    def write_byte(self, value: int) -> None:
        self.written.append(value)

    def read_byte(self) -> int:
        return self.value


@dataclass
class Recorder:
    """Pin-level and INT-line events from a simulated chip, in delivery order."""

    pins: list[tuple[int, bool]] = field(default_factory=list)
    ints: list[tuple[Port, bool]] = field(default_factory=list)

    def pin(self, pin: int, level: bool) -> None:
        self.pins.append((pin, level))

    def int(self, port: Port, level: bool) -> None:
        self.ints.append((port, level))


def record(chip: SimMCP23017) -> Recorder:
    rec = Recorder()
    chip.on_pin_change(rec.pin)
    chip.on_int_change(rec.int)
    return rec


class ScriptedSMBus:
    """An smbus2-shaped object that raises ``OSError(errno)`` for each errno in ``errors``, in
    order, and then succeeds with ``result``. ``OSError(110, …)`` constructs a TimeoutError and
    ``OSError(11, …)`` a BlockingIOError, exactly as the kernel's errors reach Python."""

    def __init__(self, *errors: int, result: Any = 0, name: str = "i2c-1") -> None:
        self.errors = list(errors)
        self.result = result
        self.name = name
        self.calls: list[tuple[str, tuple]] = []

    def _call(self, method: str, *args: Any) -> Any:
        self.calls.append((method, args))
        if self.errors:
            err = self.errors.pop(0)
            raise OSError(err, os.strerror(err))
        return self.result

    def write_quick(self, addr, force=None):
        return self._call("write_quick", addr)

    def read_byte_data(self, addr, reg, force=None):
        return self._call("read_byte_data", addr, reg)

    def write_byte_data(self, addr, reg, value, force=None):
        return self._call("write_byte_data", addr, reg, value)

    def read_word_data(self, addr, reg, force=None):
        return self._call("read_word_data", addr, reg)

    def write_word_data(self, addr, reg, value, force=None):
        return self._call("write_word_data", addr, reg, value)

    def read_i2c_block_data(self, addr, reg, length, force=None):
        return self._call("read_i2c_block_data", addr, reg, length)

    def write_i2c_block_data(self, addr, reg, data, force=None):
        return self._call("write_i2c_block_data", addr, reg, data)

    def i2c_rdwr(self, *msgs):
        return self._call("i2c_rdwr", *msgs)

    def close(self):
        self.calls.append(("close", ()))
