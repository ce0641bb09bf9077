"""Per-transaction wire accounting, shared by the bus wrapper and the simulator.

A *transaction* is what happens between a START and a STOP: one smbus2 call, or one
``i2c_rdwr`` ioctl. Its cost is counted on the wire, address bytes included, with the bus-time
model of docs/hardware-notes.md ("Bus-time model"): ``bits = 9 × wire bytes + 1 per START,
repeated START and STOP``.
That ignores bus-free time and host overhead on purpose: it is the floor any driver can reach,
so comparisons between drivers measure the driver, not the machine.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from drivers.named_tuple import NamedTuple


class Kind(StrEnum):
    QUICK = "quick"  # S addr P (presence probe)
    WRITE = "write"  # S addr+W data… P
    READ = "read"  # S addr+R data… P (continues from the chip's address pointer)
    COMBINED = "combined"  # S addr+W reg Sr addr+R data… P


# NamedTuples, not frozen dataclasses: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class Transaction(NamedTuple):
    """One I2C transaction as counted: kind, address, register and bytes."""

    kind: Kind
    address: int
    register: int | None
    wire_bytes: int  # every byte clocked on SDA, address bytes included
    conditions: int  # START + repeated STARTs + STOP

    @property
    def bits(self) -> int:
        return 9 * self.wire_bytes + self.conditions

    def seconds_at(self, scl_hz: float) -> float:
        return self.bits / scl_hz


# The kernel's SMBus emulation of each smbus2 call (docs/hardware-notes.md, "What each call
# puts on the wire"): kind, wire bytes before any
# block data, START/Sr/STOP count, and whether the call's first argument is a register. Block
# calls add their data length (the list for writes, the count for reads).
_SMBUS_WIRE: dict[str, tuple[Kind, int, int, bool]] = {
    "write_quick": (Kind.QUICK, 1, 2, False),
    "read_byte": (Kind.READ, 2, 2, False),
    "write_byte": (Kind.WRITE, 2, 2, True),
    "write_byte_data": (Kind.WRITE, 3, 2, True),
    "read_byte_data": (Kind.COMBINED, 4, 3, True),
    "write_word_data": (Kind.WRITE, 4, 2, True),
    "read_word_data": (Kind.COMBINED, 5, 3, True),
    "write_i2c_block_data": (Kind.WRITE, 2, 2, True),
    "read_i2c_block_data": (Kind.COMBINED, 3, 3, True),
}


def cost_of(method: str, address: int, args: tuple) -> Transaction:
    """The wire cost of one smbus2-style call."""
    try:
        kind, wire, conditions, has_register = _SMBUS_WIRE[method]
    except KeyError:
        raise ValueError(f"no wire model for smbus call {method!r}") from None
    if method == "write_i2c_block_data":
        wire += len(args[1])
    elif method == "read_i2c_block_data":
        wire += int(args[1])
    register = args[0] if has_register and args else None
    return Transaction(kind, address, register, wire, conditions)


def cost_of_messages(messages: list[tuple[int, bool, int, int | None]]) -> Transaction:
    """Cost of one ``i2c_rdwr``: messages as (address, is_read, length, first data byte)."""
    wire = sum(1 + length for _, _, length, _ in messages)
    reads = [m for m in messages if m[1]]
    kind = (
        Kind.COMBINED
        if reads and len(reads) < len(messages)
        else (Kind.READ if reads else Kind.WRITE)
    )
    first = messages[0]
    register = first[3] if not first[1] and first[2] else None
    return Transaction(kind, first[0], register, wire, len(messages) + 1)


class Totals(NamedTuple):
    """Transactions, bytes and bus time added up."""

    transactions: int
    wire_bytes: int
    bits: int

    def seconds_at(self, scl_hz: float) -> float:
        return self.bits / scl_hz

    def __sub__(self, other: "Totals") -> "Totals":
        return Totals(
            self.transactions - other.transactions,
            self.wire_bytes - other.wire_bytes,
            self.bits - other.bits,
        )


class Accounting:
    """A thread-safe ledger of transactions. Keeps running totals always, and the individual
    transactions only while ``keep_log`` is set (a station runs for months)."""

    def __init__(self, keep_log: bool = False) -> None:
        self._lock = threading.Lock()
        self.keep_log = keep_log
        self.log: list[Transaction] = []
        self._count = self._bytes = self._bits = 0

    def add(self, t: Transaction) -> None:
        with self._lock:
            self._count += 1
            self._bytes += t.wire_bytes
            self._bits += t.bits
            if self.keep_log:
                self.log.append(t)

    def retract(self, t: Transaction) -> None:
        """Take back ``t``, most recent first: for an attempt that never reached the wire (the
        adapter refused it, or smbus2 rejected the arguments)."""
        with self._lock:
            self._count -= 1
            self._bytes -= t.wire_bytes
            self._bits -= t.bits
            if self.keep_log:
                for i in range(len(self.log) - 1, -1, -1):
                    if self.log[i] is t:
                        del self.log[i]
                        break

    def totals(self) -> Totals:
        with self._lock:
            return Totals(self._count, self._bytes, self._bits)

    def reset(self) -> None:
        with self._lock:
            self.log.clear()
            self._count = self._bytes = self._bits = 0

    @contextmanager
    def measure(self) -> "Iterator[_Span]":
        """``with acct.measure() as span: ...`` then ``span.totals`` is what the block cost."""
        span = _Span(self.totals())
        try:
            yield span
        finally:
            span.totals = self.totals() - span.start


class _Span:
    """The totals at the start of a measured span, and at its end once closed."""

    __slots__ = ("start", "totals")  # (a plain class: no dataclasses at start, issue 14)

    def __init__(self, start: Totals, totals: Totals | None = None) -> None:
        self.start = start
        self.totals = totals
