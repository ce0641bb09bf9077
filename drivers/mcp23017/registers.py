"""The MCP23017 register map as data: the single source of truth for the driver and the simulator.

Every register exists once per port (A, B). In IOCON.BANK=0 (power-on) the A/B halves sit at
adjacent addresses, so one 16-bit transfer at the A address covers both ports (A = low byte);
in BANK=1 the ports form two separate blocks. IOCON is one physical register mapped at two
addresses in each bank. Datasheet DS20001952C, table 3-1 and 3-3.
"""

from enum import IntEnum

from drivers.named_tuple import NamedTuple


class Port(IntEnum):
    A = 0
    B = 1


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class Register(NamedTuple):
    """One MCP23017 register pair: its name and addresses in both banks."""

    name: str
    bank0: tuple[int, int]  # addresses of (A, B) when IOCON.BANK = 0
    bank1: tuple[int, int]  # addresses of (A, B) when IOCON.BANK = 1
    por: int  # value after power-on reset, per port
    writable: bool = True
    reads_pins: bool = False  # GPIO: a read returns pin levels, a write goes to OLAT

    def address(self, port: Port, bank: int) -> int:
        return (self.bank1 if bank else self.bank0)[port]


REGISTERS: tuple[Register, ...] = (
    Register("IODIR", (0x00, 0x01), (0x00, 0x10), por=0xFF),
    Register("IPOL", (0x02, 0x03), (0x01, 0x11), por=0x00),
    Register("GPINTEN", (0x04, 0x05), (0x02, 0x12), por=0x00),
    Register("DEFVAL", (0x06, 0x07), (0x03, 0x13), por=0x00),
    Register("INTCON", (0x08, 0x09), (0x04, 0x14), por=0x00),
    # One physical register at two addresses: "A" and "B" here are aliases, not two ports.
    Register("IOCON", (0x0A, 0x0B), (0x05, 0x15), por=0x00),
    Register("GPPU", (0x0C, 0x0D), (0x06, 0x16), por=0x00),
    Register("INTF", (0x0E, 0x0F), (0x07, 0x17), por=0x00, writable=False),
    Register("INTCAP", (0x10, 0x11), (0x08, 0x18), por=0x00, writable=False),
    Register("GPIO", (0x12, 0x13), (0x09, 0x19), por=0x00, reads_pins=True),
    Register("OLAT", (0x14, 0x15), (0x0A, 0x1A), por=0x00),
)

BY_NAME: dict[str, Register] = {r.name: r for r in REGISTERS}

# Highest implemented address in BANK=0; the sequential pointer rolls over from here to 0x00.
LAST_ADDRESS_BANK0 = 0x15


def _decode_table(bank: int) -> dict[int, tuple[Register, Port]]:
    return {r.address(port, bank): (r, port) for r in REGISTERS for port in Port}


_DECODE = (_decode_table(0), _decode_table(1))


def decode(address: int, bank: int) -> tuple[Register, Port] | None:
    """Which register (and port) lives at ``address`` in the given bank; None if unimplemented."""
    return _DECODE[1 if bank else 0].get(address)


def register_name(address: int, bank: int = 0) -> str:
    """'GPIOA', 'IOCON', or '0x1f (unimplemented)': for error messages and traces."""
    hit = decode(address, bank)
    if hit is None:
        return f"0x{address:02x} (unimplemented)"
    reg, port = hit
    return reg.name if reg.name == "IOCON" else f"{reg.name}{port.name}"


class IOCON(IntEnum):
    """IOCON bits (datasheet register 3-6). Note SEQOP: 1 *disables* sequential addressing."""

    BANK = 0x80
    MIRROR = 0x40
    SEQOP = 0x20
    DISSLW = 0x10
    HAEN = 0x08  # SPI part only; stored but meaningless on the MCP23017
    ODR = 0x04
    INTPOL = 0x02


IOCON_IMPLEMENTED_MASK = 0xFE  # bit 0 is unimplemented and reads 0

# Valid 7-bit addresses: 0b0100 A2 A1 A0.
ADDRESSES = range(0x20, 0x28)

# GPA7 (pin 7) and GPB7 (pin 15) must not be inputs (rev D datasheet, Microchip KB article): an
# input changing during a read can corrupt SDA on every silicon revision.
OUTPUT_ONLY_PINS = frozenset({7, 15})
