"""One I2C bus: a lock, errno-preserving errors with context, retries, and wire accounting.

The object underneath is anything with smbus2's method names: a real ``smbus2.SMBus`` on a Pi,
or :class:`drivers.sim.smbus.SimSMBus`, which is a first-class backend (like pySerial's
``loop://``), so the same driver code runs on both. smbus2 has no lock of its own and gpiozero
callbacks arrive on other threads, hence one lock per bus here.
"""

from __future__ import annotations

import errno as E
import threading
from collections.abc import Callable, Sequence
from typing import Any

from drivers.clock import Clock, MonotonicClock
from drivers.i2c.accounting import Accounting, Transaction, cost_of, cost_of_messages
from drivers.i2c.errors import I2CError, from_oserror

# Transient by nature: a NACK can be a glitch, EIO/ETIMEDOUT/EAGAIN are bus faults. Never retry
# EOPNOTSUPP (the request itself is wrong) or EBUSY (a kernel driver owns the address).
_RETRYABLE = frozenset({E.EREMOTEIO, E.ENXIO, E.EIO, E.ETIMEDOUT, E.EAGAIN})
# Refused before anything is clocked: the I2C_SLAVE ioctl (EBUSY) or the adapter's check of
# the message shapes (EOPNOTSUPP). They cost no bus time, as in the simulator's ledger.
_NOT_ON_WIRE = frozenset({E.EOPNOTSUPP, E.EBUSY})

# Bus faults (not NACKs) get a short pause before the retry: a glitch or a stretched clock
# needs time to clear, and retrying at once would hit the same condition.
_BUS_FAULTS = frozenset({E.EIO, E.ETIMEDOUT, E.EAGAIN})
RETRY_BACKOFF_S = 0.002

# smbus2's SMBus block calls are limited to 32 data bytes.
SMBUS_BLOCK_MAX = 32


class I2CBus:
    """Thread-safe access to one bus. ``name`` appears in every error ("i2c-1", "sim:fixture")."""

    def __init__(
        self,
        smbus: Any,
        *,
        name: str,
        retries: int = 2,
        accounting: Accounting | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._smbus = smbus
        self.name = name
        self.retries = retries
        # Only used to pause between retries of a bus fault; a SimClock makes that instant.
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.accounting = accounting if accounting is not None else Accounting()
        self.lock = threading.RLock()
        self.retried = 0  # transactions that succeeded only after a retry: a health signal
        self._describers: dict[int, Callable[[int], str]] = {}

    # -- context for error messages -------------------------------------------------------
    def describe_registers(self, address: int, describer: Callable[[int], str]) -> None:
        """Let a chip driver name its registers in errors ("GPIOA" rather than 0x12)."""
        self._describers[address] = describer

    def _register_label(self, address: int, register: int | None) -> str | None:
        if register is None:
            return None
        describe = self._describers.get(address)
        return describe(register) if describe else f"register 0x{register:02x}"

    # -- the one path every transaction takes ----------------------------------------------
    def _do(self, operation: str, address: int, register: int | None, cost: Transaction,
            call: Callable[[], Any]) -> Any:
        with self.lock:
            attempt = 0
            while True:
                # Logged before the call: a listener the simulator runs at the end of this
                # transaction may do bus I/O of its own, which must come after ours.
                self.accounting.add(cost)
                try:
                    result = call()
                except OSError as exc:
                    if exc.errno in _NOT_ON_WIRE:
                        self.accounting.retract(cost)
                    if exc.errno in _RETRYABLE and attempt < self.retries:
                        attempt += 1
                        if exc.errno in _BUS_FAULTS:
                            self.clock.sleep(RETRY_BACKOFF_S * 2 ** (attempt - 1))
                        continue
                    raise from_oserror(
                        exc, bus=self.name, address=address,
                        register=self._register_label(address, register), operation=operation,
                    ) from exc
                except Exception:
                    # Not an I/O error (smbus2's ValueError for > 32 bytes, a TypeError): the
                    # call was rejected before reaching the kernel.
                    self.accounting.retract(cost)
                    raise
                if attempt:
                    self.retried += 1
                return result

    def _smbus_call(self, method: str, operation: str, address: int, *args: Any) -> Any:
        register = args[0] if args and method not in ("write_quick", "read_byte") else None
        fn = getattr(self._smbus, method)
        return self._do(operation, address, register, cost_of(method, address, args),
                        lambda: fn(address, *args))

    # -- SMBus-shaped operations -----------------------------------------------------------
    def probe(self, address: int) -> bool:
        """True if a device acknowledges its address (a zero-length write); False on NACK."""
        try:
            with self.lock:
                saved, self.retries = self.retries, 0
                try:
                    self._smbus_call("write_quick", "probing", address)
                finally:
                    self.retries = saved
        except I2CError as exc:
            if exc.errno in (E.EREMOTEIO, E.ENXIO):
                return False
            raise
        return True

    def read_byte_data(self, address: int, register: int) -> int:
        return self._smbus_call("read_byte_data", "reading", address, register)

    def write_byte_data(self, address: int, register: int, value: int) -> None:
        self._smbus_call("write_byte_data", "writing", address, register, value)

    def read_word_data(self, address: int, register: int) -> int:
        """Two consecutive registers, first one in the low byte (MCP23017: A | B << 8)."""
        return self._smbus_call("read_word_data", "reading", address, register)

    def write_word_data(self, address: int, register: int, value: int) -> None:
        self._smbus_call("write_word_data", "writing", address, register, value)

    def read_block(self, address: int, register: int, length: int) -> list[int]:
        """``length`` bytes from ``register`` on, in one combined transaction."""
        if length <= SMBUS_BLOCK_MAX:
            return list(self._smbus_call("read_i2c_block_data", "reading", address,
                                         register, length))
        return self.write_then_read(address, [register], length)

    def write_block(self, address: int, register: int, data: Sequence[int]) -> None:
        if len(data) <= SMBUS_BLOCK_MAX:
            self._smbus_call("write_i2c_block_data", "writing", address, register, list(data))
        else:
            self.write_read_messages(address, [register, *data], 0)

    def write_then_read(self, address: int, out: Sequence[int], length: int) -> list[int]:
        """One I2C_RDWR: write ``out`` then, after a repeated START, read ``length`` bytes."""
        return self.write_read_messages(address, list(out), length)

    def write_read_messages(self, address: int, out: list[int], length: int) -> list[int]:
        from smbus2 import i2c_msg  # pure Python; imported here to keep module import cheap

        messages = []
        shape: list[tuple[int, bool, int, int | None]] = []
        if out:
            messages.append(i2c_msg.write(address, out))
            shape.append((address, False, len(out), out[0]))
        read_msg = None
        if length:
            read_msg = i2c_msg.read(address, length)
            messages.append(read_msg)
            shape.append((address, True, length, None))
        register = out[0] if out else None

        def call() -> list[int]:
            self._smbus.i2c_rdwr(*messages)
            return list(read_msg) if read_msg is not None else []

        return self._do("reading" if length else "writing", address, register,
                        cost_of_messages(shape), call)

    def close(self) -> None:
        with self.lock:
            close = getattr(self._smbus, "close", None)
            if close:
                close()


def open_bus(target: int | str | Any, **kwargs: Any) -> I2CBus:
    """Open a bus by number (1 → /dev/i2c-1), device path, or an SMBus-like object.

    Errors opening the device node (I2C not enabled, permission) come back as the specific
    :class:`I2CError` subclass with a hint on how to fix it.
    """
    if not isinstance(target, int | str):
        return I2CBus(target, name=getattr(target, "name", "sim"), **kwargs)
    if isinstance(target, str) and target.startswith("sim:"):
        from drivers.sim.registry import lookup

        sim = lookup(target[4:])
        return I2CBus(sim, name=target, **kwargs)
    path = f"/dev/i2c-{target}" if isinstance(target, int) else target
    name = path.removeprefix("/dev/")
    try:
        from smbus2 import SMBus

        smbus = SMBus(path)
    except OSError as exc:
        raise from_oserror(exc, bus=name, operation=f"opening {path}") from exc
    return I2CBus(smbus, name=name, **kwargs)
