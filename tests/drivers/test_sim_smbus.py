"""``SimSMBus`` as a drop-in for ``smbus2.SMBus``.

The strongest check here runs the *real* smbus2 0.6.1 ``SMBus`` against a simulated chip, with
``ioctl`` routed through a small model of the kernel's i2c-dev + SMBus emulation (the table
"What each call puts on the wire" of docs/hardware-notes.md, written out independently
below), and compares it byte for byte with ``SimSMBus`` driving an identical chip. That
catches a simulator that is self-consistent but disagrees with what smbus2 actually sends and
returns (byte order, block length handling, pointer-only writes).
"""

from __future__ import annotations

import errno
import inspect
from ctypes import string_at

import pytest
import smbus2
from sim_fixtures import (
    ADDR,
    BANK,
    SEQOP,
    ConstantDevice,
    _rig_fixture,  # noqa: F401  (fixture "rig")
    make_rig,
)
from smbus2 import i2c_msg
from smbus2 import smbus2 as smbus2_module

from drivers.i2c import open_bus
from drivers.sim import registry
from drivers.sim.mcp23017 import SimMCP23017
from drivers.sim.smbus import SimSMBus

SMBUS2_API = ("write_quick", "read_byte", "write_byte", "read_byte_data", "write_byte_data",
              "read_word_data", "write_word_data", "read_i2c_block_data",
              "write_i2c_block_data", "i2c_rdwr", "close")


# --------------------------------------------------------------------------- API shape
@pytest.mark.parametrize("method", SMBUS2_API)
def test_same_parameters_as_smbus2(method):
    # Callers pass force= and positional arguments exactly as to smbus2; annotations may differ.
    def shape(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert shape(getattr(SimSMBus, method)) == shape(getattr(smbus2.SMBus, method))


def test_force_argument_is_accepted(rig):
    rig.smbus.write_byte_data(ADDR, 0x14, 0x01, force=True)
    assert rig.smbus.read_byte_data(ADDR, 0x14, force=True) == 0x01


# --------------------------------------------------------------------------- i2c_rdwr buffers
def test_i2c_rdwr_fills_the_smbus2_read_buffer(rig):
    rig.chip.warm_start(OLAT=0xBEEF, IODIR=0x0000)
    read = i2c_msg.read(ADDR, 4)
    rig.smbus.i2c_rdwr(i2c_msg.write(ADDR, [0x12]), read)
    # GPIOA, GPIOB (outputs follow OLAT), OLATA, OLATB - through every smbus2 accessor.
    assert list(read) == [0xEF, 0xBE, 0xEF, 0xBE]
    assert bytes(read) == b"\xef\xbe\xef\xbe"
    assert len(read) == 4
    assert [read.buf[i] for i in range(4)] == [b"\xef", b"\xbe", b"\xef", b"\xbe"]


def test_i2c_rdwr_each_write_message_sets_the_pointer_again(rig):
    # A repeated START to the chip starts a new message: its first byte is a register address.
    rig.smbus.i2c_rdwr(i2c_msg.write(ADDR, [0x14, 0x11]), i2c_msg.write(ADDR, [0x02, 0x22]))
    assert rig.chip.word("OLAT") == 0x0011
    assert rig.chip.word("IPOL") == 0x0022


def test_i2c_rdwr_read_continues_at_the_pointer(rig):
    rig.chip.warm_start(OLAT=0x2211)
    rig.smbus.write_byte(ADDR, 0x14)
    read = i2c_msg.read(ADDR, 2)
    rig.smbus.i2c_rdwr(read)
    assert list(read) == [0x11, 0x22]


def test_i2c_rdwr_eopnotsupp_touches_nothing(rig):
    before = rig.state()
    with pytest.raises(OSError) as exc:
        rig.smbus.i2c_rdwr(i2c_msg.read(ADDR, 1), i2c_msg.write(ADDR, [0x14, 0xFF]))
    assert exc.value.errno == errno.EOPNOTSUPP
    assert rig.state() == before  # refused by the adapter before anything reached the bus
    assert rig.smbus.accounting.totals().transactions == 0


def test_i2c_rdwr_read_not_last_is_fine_without_pi4_rules():
    # The Pi 5's DesignWare adapter has no "read must be last" rule.
    rig = make_rig(pi4_rules=False)
    rig.chip.warm_start(OLAT=0x2211, pointer=0x14)
    first, second = i2c_msg.read(ADDR, 1), i2c_msg.read(ADDR, 1)
    rig.smbus.i2c_rdwr(first, i2c_msg.write(ADDR, [0x00]), second)
    assert (list(first), list(second)) == ([0x11], [0xFF])  # OLATA, then IODIRA


def test_i2c_rdwr_nack_on_any_message_fails_the_transaction(rig):
    with pytest.raises(OSError) as exc:
        rig.smbus.i2c_rdwr(i2c_msg.write(ADDR, [0x14, 0x01]), i2c_msg.write(0x27, [0x00]))
    assert exc.value.errno == errno.EREMOTEIO
    # The transaction is closed towards the chip that did answer: its next one works.
    assert rig.smbus.read_byte_data(ADDR, 0x14) == 0x01


# --------------------------------------------------------------------------- faults, devices
def test_fault_scoped_to_one_address():
    chips = [SimMCP23017(0x20), SimMCP23017(0x21)]
    sim = SimSMBus(chips)
    sim.inject("io", address=0x21, count=-1)
    assert sim.read_byte_data(0x20, 0x00) == 0xFF
    with pytest.raises(OSError) as exc:
        sim.read_byte_data(0x21, 0x00)
    assert exc.value.errno == errno.EIO


def test_faults_apply_in_injection_order(rig):
    rig.smbus.inject("timeout")
    rig.smbus.inject("nack")
    with pytest.raises(TimeoutError):
        rig.smbus.write_quick(ADDR)
    with pytest.raises(OSError) as exc:
        rig.smbus.write_quick(ADDR)
    assert exc.value.errno == errno.EREMOTEIO
    rig.smbus.write_quick(ADDR)


def test_fault_applies_to_i2c_rdwr(rig):
    rig.smbus.inject("arbitration")
    with pytest.raises(BlockingIOError):
        rig.smbus.i2c_rdwr(i2c_msg.write(ADDR, [0x12]), i2c_msg.read(ADDR, 2))


def test_unknown_fault_kind_is_refused(rig):
    with pytest.raises(ValueError, match="arbitration"):
        rig.smbus.inject("gremlins")


def test_two_devices_at_one_address_are_refused(rig):
    with pytest.raises(ValueError, match="0x20"):
        rig.smbus.attach(SimMCP23017(ADDR))


def test_detached_device_nacks(rig):
    rig.smbus.detach(ADDR)
    with pytest.raises(OSError) as exc:
        rig.smbus.write_quick(ADDR)
    assert exc.value.errno == errno.EREMOTEIO


def test_any_device_protocol_object_can_sit_on_the_bus():
    dev = ConstantDevice(0x50, 0x5A)
    sim = SimSMBus([dev])
    sim.write_i2c_block_data(0x50, 0x10, [1, 2])
    assert sim.read_word_data(0x50, 0x00) == 0x5A5A
    assert dev.written == [0x10, 1, 2, 0x00]


# --------------------------------------------------------------------------- registry
def test_registry_lets_open_bus_find_a_simulated_bus_by_name():
    sim = registry.register(SimSMBus([SimMCP23017(0x23)], name="fixture-test"))
    try:
        assert registry.lookup("fixture-test") is sim
        bus = open_bus("sim:fixture-test")
        assert bus.name == "sim:fixture-test"
        assert bus.probe(0x23) is True
    finally:
        registry.unregister("fixture-test")
    with pytest.raises(LookupError, match="fixture-test"):
        registry.lookup("fixture-test")


# --------------------------------------------------------------------------- vs real smbus2
class KernelModel:
    """Just enough of Linux i2c-dev for smbus2: I2C_SLAVE, I2C_FUNCS, I2C_RDWR, and I2C_SMBUS
    turned into I2C messages as the kernel's SMBus emulation does for an adapter that only
    speaks plain I2C (the Pi's). Each message starts with a START/repeated START (the chip's
    ``begin``); one STOP (``end``) closes the transfer."""

    I2C_FUNC_I2C, I2C_FUNC_SMBUS_EMUL = 0x00000001, 0x0EFF0008

    def __init__(self, *devices) -> None:
        self.devices = {d.address: d for d in devices}
        self.slave: int | None = None

    def ioctl(self, fd, request, arg):
        if request in (smbus2_module.I2C_SLAVE, smbus2_module.I2C_SLAVE_FORCE):
            self.slave = arg
        elif request == smbus2_module.I2C_FUNCS:
            arg.value = self.I2C_FUNC_I2C | self.I2C_FUNC_SMBUS_EMUL
        elif request == smbus2_module.I2C_SMBUS:
            self._smbus(arg)
        elif request == smbus2_module.I2C_RDWR:
            msgs = [arg.msgs[i] for i in range(arg.nmsgs)]
            segments = []
            for m in msgs:
                if m.flags & smbus2_module.I2C_M_RD:
                    segments.append((m.addr, "r", m.len))
                else:
                    segments.append((m.addr, "w", list(string_at(m.buf, m.len))))
            data = iter(self._transfer(segments))
            for m in msgs:
                if m.flags & smbus2_module.I2C_M_RD:
                    for i in range(m.len):
                        m.buf[i] = bytes([next(data)])
        else:
            raise OSError(errno.ENOTTY, "unexpected ioctl")
        return 0

    def _transfer(self, segments) -> list[int]:
        touched, out = [], []
        try:
            for addr, kind, payload in segments:
                dev = self.devices.get(addr)
                if dev is None:
                    raise OSError(errno.EREMOTEIO, "Remote I/O error")
                dev.begin()
                touched.append(dev)
                if kind == "w":
                    for byte in payload:
                        dev.write_byte(byte)
                else:
                    out.extend(dev.read_byte() for _ in range(payload))
        finally:
            for dev in dict.fromkeys(touched):
                dev.end()
        return out

    def _smbus(self, req) -> None:
        a, cmd, data = self.slave, req.command, req.data.contents
        write = req.read_write == smbus2_module.I2C_SMBUS_WRITE
        size = req.size
        if size == smbus2_module.I2C_SMBUS_QUICK:
            self._transfer([(a, "w", [])])
        elif size == smbus2_module.I2C_SMBUS_BYTE:
            if write:
                self._transfer([(a, "w", [cmd])])
            else:
                (data.byte,) = self._transfer([(a, "r", 1)])
        elif size == smbus2_module.I2C_SMBUS_BYTE_DATA:
            if write:
                self._transfer([(a, "w", [cmd, data.byte])])
            else:
                (data.byte,) = self._transfer([(a, "w", [cmd]), (a, "r", 1)])
        elif size == smbus2_module.I2C_SMBUS_WORD_DATA:
            if write:
                self._transfer([(a, "w", [cmd, data.word & 0xFF, data.word >> 8])])
            else:
                lo, hi = self._transfer([(a, "w", [cmd]), (a, "r", 2)])
                data.word = lo | hi << 8
        elif size == smbus2_module.I2C_SMBUS_I2C_BLOCK_DATA:
            n = data.block[0]
            if write:
                self._transfer([(a, "w", [cmd, *data.block[1:n + 1]])])
            else:
                data.block[1:n + 1] = self._transfer([(a, "w", [cmd]), (a, "r", n)])
        else:  # SMBus block transfers: the Pi's adapters can't emulate them
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")


class WireLog:
    """Wraps a chip and records the bytes it sees, per transaction."""

    def __init__(self, chip: SimMCP23017) -> None:
        self.chip = chip
        self.address = chip.address
        self.log: list[tuple] = []

    def begin(self) -> None:
        self.chip.begin()

    def end(self) -> None:
        self.log.append(("P",))
        self.chip.end()

    def write_byte(self, value: int) -> None:
        self.log.append(("w", value))
        self.chip.write_byte(value)

    def read_byte(self) -> int:
        value = self.chip.read_byte()
        self.log.append(("r", value))
        return value


def _script():
    """Calls as (method, args): every smbus2 call the project uses, with awkward values."""
    return [
        ("write_byte_data", (ADDR, 0x00, 0x00)),
        ("write_word_data", (ADDR, 0x14, 0xBEEF)),
        ("read_word_data", (ADDR, 0x14)),
        ("read_word_data", (ADDR, 0x12)),
        ("read_byte_data", (ADDR, 0x13)),
        ("write_i2c_block_data", (ADDR, 0x02, [1, 2, 3, 4, 5])),
        ("read_i2c_block_data", (ADDR, 0x00, 22)),
        ("read_i2c_block_data", (ADDR, 0x14, 32)),
        ("write_byte", (ADDR, 0x14)),
        ("read_byte", (ADDR,)),
        ("read_byte", (ADDR,)),
        ("write_quick", (ADDR,)),
        ("write_byte_data", (ADDR, 0x0C, 0x1A5)),  # ctypes keeps the low byte
        ("write_word_data", (ADDR, 0x0C, 0x12345)),
        ("read_word_data", (ADDR, 0x0C)),
        ("rdwr", ([0x12], 4)),
        ("rdwr", ([0x02, 0x77, 0x66], 0)),
        ("read_i2c_block_data", (ADDR, 0x0E, 6)),
    ]


def _run(bus, script):
    results = []
    for method, args in script:
        if method == "rdwr":
            out, n = args
            msgs = [i2c_msg.write(ADDR, out)] + ([i2c_msg.read(ADDR, n)] if n else [])
            bus.i2c_rdwr(*msgs)
            results.append(list(msgs[-1]) if n else None)
        else:
            results.append(getattr(bus, method)(*args))
    return results


@pytest.mark.parametrize("iocon", [0x00, SEQOP, BANK, BANK | SEQOP],
                         ids=["seq", "byte-mode", "bank1", "bank1-byte-mode"])
def test_simulator_matches_real_smbus2_on_the_wire(monkeypatch, iocon):
    def chip():
        c = SimMCP23017(ADDR)
        c.warm_start(IOCON=iocon, OLAT=0x0F0F, IODIR=0x00FF, GPPU=0xF000, pointer=0x03)
        c.drive(9, True)
        return c

    real_chip, sim_chip = WireLog(chip()), WireLog(chip())
    kernel = KernelModel(real_chip)
    monkeypatch.setattr(smbus2_module, "ioctl", kernel.ioctl)
    real = smbus2.SMBus()  # not opened: every call goes through the patched ioctl
    real.fd = -1
    sim = SimSMBus([sim_chip])

    assert _run(sim, _script()) == _run(real, _script())
    assert sim_chip.log == real_chip.log
    for name in ("IODIR", "IPOL", "GPINTEN", "DEFVAL", "INTCON", "GPPU", "OLAT", "IOCON"):
        assert sim_chip.chip.word(name) == real_chip.chip.word(name), name
    assert sim_chip.chip.pointer == real_chip.chip.pointer


def test_real_smbus2_limits_match_the_simulator(monkeypatch):
    monkeypatch.setattr(smbus2_module, "ioctl", KernelModel(SimMCP23017(ADDR)).ioctl)
    real = smbus2.SMBus()
    real.fd = -1
    sim = SimSMBus([SimMCP23017(ADDR)])
    for bus in (real, sim):
        with pytest.raises(ValueError):
            bus.read_i2c_block_data(ADDR, 0x00, 33)
        with pytest.raises(ValueError):
            bus.write_i2c_block_data(ADDR, 0x00, [0] * 33)
        # Absent device: the same errno either way.
        with pytest.raises(OSError) as exc:
            bus.read_byte_data(0x27, 0x00)
        assert exc.value.errno == errno.EREMOTEIO
