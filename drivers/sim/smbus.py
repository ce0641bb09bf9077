"""``SimSMBus``: a drop-in for ``smbus2.SMBus`` whose devices are simulators.

Each smbus2 call is broken into what the wire carries (START, address, bytes, repeated START,
STOP), so the simulated chip sees exactly what a real one would, and the wire accounting is
the same model the real bus wrapper uses. Faults are injected per transaction and raised as
the kernel raises them: ``OSError(121)`` for a NACK, ``TimeoutError`` (110), ``OSError(5)``,
``BlockingIOError`` (11), and ``OSError(95)`` for an ``i2c_rdwr`` a Pi 4 refuses.
"""

from __future__ import annotations

import errno as E
import os
import threading
from collections.abc import Iterable
from typing import Any, Protocol

from drivers.i2c.accounting import Accounting, Transaction, cost_of, cost_of_messages


class I2CDevice(Protocol):
    address: int

    def begin(self) -> None: ...
    def end(self) -> None: ...
    def write_byte(self, value: int) -> None: ...
    def read_byte(self) -> int: ...


_FAULTS = {
    "nack": (OSError, E.EREMOTEIO),
    "timeout": (TimeoutError, E.ETIMEDOUT),
    "io": (OSError, E.EIO),
    "arbitration": (BlockingIOError, E.EAGAIN),
}


def _os_error(cls: type[OSError], err: int) -> OSError:
    return cls(err, os.strerror(err))


class _Fault:
    """A bus fault injected into the simulated bus."""

    __slots__ = ("address", "kind", "remaining")  # (a plain class: no dataclasses at start)

    def __init__(self, kind: str, address: int | None, remaining: int) -> None:
        self.kind = kind
        self.address = address
        self.remaining = remaining  # transactions still to fail; -1 = until cleared


class SimSMBus:
    """A simulated I2C adapter. ``pi4_rules`` enforces the bcm2835 limit that an ``i2c_rdwr``
    may carry one read message and it must be last (errno 95 otherwise)."""

    def __init__(
        self,
        devices: Iterable[I2CDevice] = (),
        *,
        name: str = "sim",
        pi4_rules: bool = True,
        accounting: Accounting | None = None,
    ) -> None:
        self.name = name
        self.pi4_rules = pi4_rules
        self.accounting = accounting if accounting is not None else Accounting()
        self.devices: dict[int, I2CDevice] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        for device in devices:
            self.attach(device)

    # -- the simulated world ----------------------------------------------------------------
    def attach(self, device: I2CDevice) -> None:
        if device.address in self.devices:
            raise ValueError(f"two devices at 0x{device.address:02x} on {self.name}")
        self.devices[device.address] = device

    def detach(self, address: int) -> None:
        """Unplug a device (the fixture cable came off)."""
        self.devices.pop(address, None)

    def inject(self, kind: str, *, address: int | None = None, count: int = 1) -> None:
        """Make the next ``count`` transactions (to ``address``, or any) fail with ``kind``:
        'nack', 'timeout', 'io' or 'arbitration'. ``count=-1`` until :meth:`clear_faults`."""
        if kind not in _FAULTS:
            raise ValueError(f"unknown fault {kind!r}; choose from {sorted(_FAULTS)}")
        with self._lock:
            self._faults.append(_Fault(kind, address, count))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, address: int) -> OSError | None:
        with self._lock:
            for fault in self._faults:
                if fault.address in (None, address) and fault.remaining != 0:
                    if fault.remaining > 0:
                        fault.remaining -= 1
                    cls, err = _FAULTS[fault.kind]
                    return _os_error(cls, err)
        return None

    def _device(self, address: int, cost: Transaction) -> I2CDevice:
        self.accounting.add(cost)
        fault = self._take_fault(address)
        if fault is not None:
            raise fault
        device = self.devices.get(address)
        if device is None:
            raise _os_error(OSError, E.EREMOTEIO)  # nobody acknowledges the address
        return device

    def _transfer(self, address: int, cost: Transaction, write: list[int], read: int) -> list[int]:
        with self._lock:
            device = self._device(address, cost)
            device.begin()
            try:
                for byte in write:
                    device.write_byte(byte)
                return [device.read_byte() for _ in range(read)]
            finally:
                device.end()

    # -- smbus2.SMBus API -------------------------------------------------------------------
    def write_quick(self, i2c_addr: int, force: Any = None) -> None:
        self._transfer(i2c_addr, cost_of("write_quick", i2c_addr, ()), [], 0)

    def read_byte(self, i2c_addr: int, force: Any = None) -> int:
        return self._transfer(i2c_addr, cost_of("read_byte", i2c_addr, ()), [], 1)[0]

    def write_byte(self, i2c_addr: int, value: int, force: Any = None) -> None:
        self._transfer(i2c_addr, cost_of("write_byte", i2c_addr, (value,)), [value], 0)

    def read_byte_data(self, i2c_addr: int, register: int, force: Any = None) -> int:
        cost = cost_of("read_byte_data", i2c_addr, (register,))
        return self._transfer(i2c_addr, cost, [register], 1)[0]

    def write_byte_data(self, i2c_addr: int, register: int, value: int, force: Any = None):
        cost = cost_of("write_byte_data", i2c_addr, (register, value))
        self._transfer(i2c_addr, cost, [register, value & 0xFF], 0)

    def read_word_data(self, i2c_addr: int, register: int, force: Any = None) -> int:
        cost = cost_of("read_word_data", i2c_addr, (register,))
        lo, hi = self._transfer(i2c_addr, cost, [register], 2)
        return lo | hi << 8

    def write_word_data(self, i2c_addr: int, register: int, value: int, force: Any = None):
        cost = cost_of("write_word_data", i2c_addr, (register, value))
        self._transfer(i2c_addr, cost, [register, value & 0xFF, (value >> 8) & 0xFF], 0)

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int, force: Any = None):
        if length > 32:
            raise ValueError("Desired block length over 32 bytes")  # as smbus2 does
        cost = cost_of("read_i2c_block_data", i2c_addr, (register, length))
        return self._transfer(i2c_addr, cost, [register], length)

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int],
                             force: Any = None) -> None:
        if len(data) > 32:
            raise ValueError("Data length cannot exceed 32 bytes")
        cost = cost_of("write_i2c_block_data", i2c_addr, (register, data))
        self._transfer(i2c_addr, cost, [register, *data], 0)

    def i2c_rdwr(self, *i2c_msgs: Any) -> None:
        """Each message is a transfer to its address; all of them form one transaction (one
        STOP at the end), as the kernel's I2C_RDWR does."""
        from smbus2.smbus2 import I2C_M_RD

        shape = [(m.addr, bool(m.flags & I2C_M_RD), m.len,
                  None if m.flags & I2C_M_RD or not m.len else ord(m.buf[0])) for m in i2c_msgs]
        reads = [i for i, s in enumerate(shape) if s[1]]
        if self.pi4_rules and (len(reads) > 1 or (reads and reads[-1] != len(shape) - 1)):
            raise _os_error(OSError, E.EOPNOTSUPP)
        cost = cost_of_messages(shape)
        with self._lock:
            self.accounting.add(cost)
            touched = []
            try:
                for msg, (addr, is_read, length, _) in zip(i2c_msgs, shape, strict=True):
                    fault = self._take_fault(addr)
                    if fault is not None:
                        raise fault
                    device = self.devices.get(addr)
                    if device is None:
                        raise _os_error(OSError, E.EREMOTEIO)
                    if device not in touched:
                        device.begin()
                        touched.append(device)
                    if is_read:
                        for i in range(length):
                            msg.buf[i] = bytes([device.read_byte()])
                    else:
                        # A repeated START to the same device starts a new message: the first
                        # byte of a write message sets the pointer again.
                        device.begin()
                        for byte in bytes(msg):
                            device.write_byte(byte)
            finally:
                for device in touched:
                    device.end()

    def close(self) -> None:
        """Nothing to release; present because smbus2.SMBus has it."""
