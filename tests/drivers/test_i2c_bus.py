"""drivers.i2c.bus: retries (the policy of docs/hardware-notes.md, "Errors"), probe, block
routing, wire accounting, the lock, and open_bus."""

from __future__ import annotations

import errno as E
import threading

import pytest
from sim_fixtures import (
    ADDR,
    ScriptedSMBus,
    _rig_fixture,  # noqa: F401  (fixture "rig")
)

from drivers.clock import SimClock
from drivers.i2c import Accounting, I2CBus, I2CNackError, I2CTimeoutError, open_bus
from drivers.i2c.bus import SMBUS_BLOCK_MAX
from drivers.sim.smbus import SimSMBus


def scripted_bus(*errors: int, retries: int = 2, result=0x5A) -> tuple[I2CBus, ScriptedSMBus]:
    smbus = ScriptedSMBus(*errors, result=result)
    return I2CBus(smbus, name="i2c-1", retries=retries,
                  accounting=Accounting(keep_log=True)), smbus


# --------------------------------------------------------------------------- retries
@pytest.mark.parametrize("err", [E.EREMOTEIO, E.ENXIO, E.EIO, E.ETIMEDOUT, E.EAGAIN])
def test_transient_error_is_retried_and_counted(err):
    bus, smbus = scripted_bus(err)
    assert bus.read_byte_data(ADDR, 0x12) == 0x5A
    assert len(smbus.calls) == 2
    assert bus.retried == 1
    # Both attempts were clocked on the wire.
    assert bus.accounting.totals().transactions == 2


def test_retried_counts_transactions_not_attempts():
    bus, smbus = scripted_bus(E.EREMOTEIO, E.EREMOTEIO)
    bus.write_byte_data(ADDR, 0x14, 1)
    assert (len(smbus.calls), bus.retried) == (3, 1)
    bus.write_byte_data(ADDR, 0x14, 1)  # clean: not counted
    assert bus.retried == 1


def test_persistent_nack_is_raised_after_the_retries():
    bus, smbus = scripted_bus(*[E.EREMOTEIO] * 3, retries=2)
    with pytest.raises(I2CNackError) as info:
        bus.read_word_data(ADDR, 0x12)
    assert info.value.errno == E.EREMOTEIO
    assert len(smbus.calls) == 3
    assert bus.retried == 0


@pytest.mark.parametrize(("err", "pause"), [
    (E.EIO, 0.002 + 0.004), (E.ETIMEDOUT, 0.002 + 0.004), (E.EAGAIN, 0.002 + 0.004),
    (E.EREMOTEIO, 0.0),  # a NACK is retried at once: nothing on the bus needs to settle
])
def test_bus_faults_back_off_before_each_retry_on_the_injected_clock(err, pause):
    clock = SimClock()
    start = clock.now()
    bus = I2CBus(ScriptedSMBus(err, err, result=0x5A), name="i2c-1", clock=clock)
    assert bus.read_byte_data(ADDR, 0x12) == 0x5A
    assert clock.now() - start == pytest.approx(pause)


def test_retries_zero_means_one_attempt():
    bus, smbus = scripted_bus(E.EIO, retries=0)
    with pytest.raises(OSError):
        bus.read_byte_data(ADDR, 0x12)
    assert len(smbus.calls) == 1


@pytest.mark.parametrize("err", [E.EOPNOTSUPP, E.EBUSY])
def test_eopnotsupp_and_ebusy_are_never_retried_and_cost_no_wire_time(err):
    bus, smbus = scripted_bus(err, retries=5)
    with pytest.raises(OSError) as info:
        bus.read_byte_data(ADDR, 0x12)
    assert info.value.errno == err
    assert len(smbus.calls) == 1
    # Refused before anything was clocked (I2C_SLAVE ioctl / adapter message check).
    assert bus.accounting.totals().transactions == 0
    assert bus.accounting.log == []


def test_non_oserror_passes_through_unwrapped_and_uncounted():
    class Strict(ScriptedSMBus):
        def read_i2c_block_data(self, addr, reg, length, force=None):
            raise ValueError("Desired block length over 32 bytes")

    bus = I2CBus(Strict(), name="i2c-1", accounting=Accounting(keep_log=True))
    with pytest.raises(ValueError):
        bus._smbus_call("read_i2c_block_data", "reading", ADDR, 0x00, 33)
    assert bus.accounting.totals().transactions == 0


def test_retry_against_the_simulator(rig):
    rig.smbus.inject("nack", count=2)
    rig.bus.write_byte_data(ADDR, 0x14, 0x42)
    assert rig.chip.word("OLAT") == 0x0042
    assert rig.bus.retried == 1
    rig.smbus.inject("nack", count=3)
    with pytest.raises(I2CNackError):
        rig.bus.write_byte_data(ADDR, 0x14, 0x43)
    assert rig.chip.word("OLAT") == 0x0042


# --------------------------------------------------------------------------- probe
def test_probe_true_when_acknowledged(rig):
    assert rig.bus.probe(ADDR) is True
    (t,) = rig.bus.accounting.log
    assert (t.kind, t.wire_bytes, t.bits) == ("quick", 1, 11)


@pytest.mark.parametrize("err", [E.EREMOTEIO, E.ENXIO])
def test_probe_false_on_nack_without_retrying(err):
    bus, smbus = scripted_bus(err, err, err, retries=2)
    assert bus.probe(0x21) is False
    assert smbus.calls == [("write_quick", (0x21,))]
    assert bus.retries == 2  # restored after the probe


def test_probe_raises_on_timeout():
    bus, smbus = scripted_bus(E.ETIMEDOUT, retries=2)
    with pytest.raises(I2CTimeoutError) as info:
        bus.probe(0x21)
    assert info.value.address == 0x21
    assert len(smbus.calls) == 1  # a stuck bus during a scan surfaces at once
    assert bus.retries == 2


def test_probe_of_an_empty_address_on_the_simulator(rig):
    assert rig.bus.probe(0x27) is False
    assert rig.bus.retried == 0


# --------------------------------------------------------------------------- routing
def test_small_blocks_use_smbus_block_calls():
    bus, smbus = scripted_bus(result=[1, 2, 3, 4])
    assert bus.read_block(ADDR, 0x0E, 4) == [1, 2, 3, 4]
    bus.write_block(ADDR, 0x00, [0] * SMBUS_BLOCK_MAX)
    assert [c[0] for c in smbus.calls] == ["read_i2c_block_data", "write_i2c_block_data"]


def test_large_blocks_use_one_i2c_rdwr(rig):
    rig.chip.warm_start(OLAT=0xBBAA)
    data = rig.bus.read_block(ADDR, 0x00, 0x16 + 4)  # 26 > 22 registers: wraps to 0x00
    assert len(data) == 26 and data[0x14:0x18] == [0xAA, 0xBB, 0xFF, 0xFF]
    assert rig.bus.read_block(ADDR, 0x00, 40)[0x16:0x18] == [0xFF, 0xFF]  # IODIR again
    rig.bus.write_block(ADDR, 0x16, [0] * 40)  # unimplemented addresses, then wraps
    kinds = [(t.kind, t.wire_bytes) for t in rig.bus.accounting.log]
    assert kinds == [("combined", 3 + 26), ("combined", 3 + 40), ("write", 2 + 40)]


def test_write_then_read_is_one_combined_transaction(rig):
    rig.chip.warm_start(OLAT=0x2211)
    assert rig.bus.write_then_read(ADDR, [0x14], 2) == [0x11, 0x22]
    (t,) = rig.bus.accounting.log
    assert (t.kind, t.register, t.wire_bytes, t.bits) == ("combined", 0x14, 5, 48)


@pytest.mark.parametrize(
    "call,kind,wire,bits",
    [
        (lambda b: b.write_byte_data(ADDR, 0x14, 1), "write", 3, 29),
        (lambda b: b.read_byte_data(ADDR, 0x12), "combined", 4, 39),
        (lambda b: b.write_word_data(ADDR, 0x14, 1), "write", 4, 38),
        (lambda b: b.read_word_data(ADDR, 0x12), "combined", 5, 48),
        (lambda b: b.read_block(ADDR, 0x0E, 4), "combined", 7, 66),
        (lambda b: b.write_block(ADDR, 0x00, [0xFF] * 12), "write", 14, 128),
    ],
    ids=["W8", "RD8", "W16", "RD16", "IRQ-service", "burst12"],
)
def test_wrapper_accounting_per_call(rig, call, kind, wire, bits):
    call(rig.bus)
    (t,) = rig.bus.accounting.log
    assert (t.kind, t.address, t.wire_bytes, t.bits) == (kind, ADDR, wire, bits)
    assert rig.bus.accounting.log == rig.smbus.accounting.log


def test_measure_span_reports_what_a_block_cost(rig):
    rig.bus.write_byte_data(ADDR, 0x14, 1)
    with rig.bus.accounting.measure() as span:
        rig.bus.read_word_data(ADDR, 0x12)
        rig.bus.write_word_data(ADDR, 0x14, 0)
    assert (span.totals.transactions, span.totals.wire_bytes, span.totals.bits) == (2, 9, 86)


def test_accounting_without_log_keeps_totals_only():
    bus = I2CBus(ScriptedSMBus(), name="i2c-1")
    bus.write_byte_data(ADDR, 0x14, 1)
    assert bus.accounting.log == []
    assert bus.accounting.totals().bits == 29


# --------------------------------------------------------------------------- lock
class LockProbe(ScriptedSMBus):
    """While inside each adapter call, asks another thread to take the bus lock without
    waiting. smbus2 has no lock of its own, so that must fail every time. Deterministic: no
    reliance on the scheduler happening to interleave two callers."""

    def __init__(self) -> None:
        super().__init__(result=[0] * 4)
        self.bus: I2CBus | None = None
        self.other_thread_got_the_lock: list[bool] = []

    def _call(self, method, *args):
        got = []

        def intruder():
            ok = self.bus.lock.acquire(blocking=False)
            got.append(ok)
            if ok:
                self.bus.lock.release()

        t = threading.Thread(target=intruder)
        t.start()
        t.join()
        self.other_thread_got_the_lock.append(got[0])
        return super()._call(method, *args)


def test_every_adapter_call_holds_the_bus_lock():
    smbus = LockProbe()
    bus = smbus.bus = I2CBus(smbus, name="i2c-1")
    bus.probe(ADDR)
    bus.read_byte_data(ADDR, 0x12)
    bus.write_byte_data(ADDR, 0x14, 0)
    bus.read_word_data(ADDR, 0x12)
    bus.write_word_data(ADDR, 0x14, 0)
    bus.read_block(ADDR, 0x0E, 4)
    bus.write_block(ADDR, 0x00, [0] * 4)
    bus.write_then_read(ADDR, [0x12], 2)
    assert smbus.other_thread_got_the_lock == [False] * 8


def test_threads_sharing_one_bus_get_consistent_results(rig):
    # Each thread owns one register and checks it reads back what it wrote, many times over.
    errors: list[str] = []

    def worker(reg: int, seed: int):
        def run():
            for i in range(200):
                value = (seed * 31 + i) & 0xFF
                rig.bus.write_byte_data(ADDR, reg, value)
                got = rig.bus.read_byte_data(ADDR, reg)
                if got != value:
                    errors.append(f"0x{reg:02x}: wrote {value:#04x}, read {got:#04x}")
        return run

    regs = (0x02, 0x03, 0x06, 0x07)  # IPOLA/B, DEFVALA/B: no side effects on each other
    threads = [threading.Thread(target=worker(r, n)) for n, r in enumerate(regs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)  # guard against a hang only
    assert errors == []
    assert rig.bus.accounting.totals().transactions == 4 * 200 * 2
    assert rig.bus.accounting.log == rig.smbus.accounting.log


# --------------------------------------------------------------------------- open_bus, close
def test_open_bus_with_an_smbus_like_object():
    sim = SimSMBus(name="sim:rack")
    bus = open_bus(sim, retries=0)
    assert (bus.name, bus.retries) == ("sim:rack", 0)


def test_close_closes_the_underlying_smbus():
    bus, smbus = scripted_bus()
    bus.close()
    assert smbus.calls[-1] == ("close", ())
