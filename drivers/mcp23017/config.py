"""What an expander should look like after initialisation, and pin naming."""

from drivers.mcp23017.registers import OUTPUT_ONLY_PINS
from drivers.named_tuple import NamedTuple

PIN_NAMES = tuple(f"GP{port}{bit}" for port in "AB" for bit in range(8))


def pin_number(pin: int | str) -> int:
    """0..15, or a datasheet name 'GPA0'..'GPB7' (also 'A0'/'B7'), as a pin number."""
    if isinstance(pin, int) and not isinstance(pin, bool):
        if 0 <= pin <= 15:
            return pin
        raise ValueError(f"MCP23017 pin must be 0..15, not {pin}")
    name = str(pin).strip().upper()
    if name in PIN_NAMES:
        return PIN_NAMES.index(name)
    if "GP" + name in PIN_NAMES:
        return PIN_NAMES.index("GP" + name)
    if name.isdigit():
        return pin_number(int(name))
    raise ValueError(f"unknown MCP23017 pin {pin!r}: use 0..15 or GPA0..GPB7")


class GP7InputError(ValueError):
    """GPA7/GPB7 asked to be an input (refused: datasheet rev D erratum)."""


def check_inputs(input_mask: int, allow_gp7_input: bool) -> None:
    bad = [p for p in sorted(OUTPUT_ONLY_PINS) if input_mask >> p & 1]
    if bad and not allow_gp7_input:
        names = " and ".join(f"{PIN_NAMES[p]} (pin {p})" for p in bad)
        raise GP7InputError(
            f"{names} cannot be an input on the MCP23017: an input changing during a read can "
            "corrupt SDA on every silicon revision (datasheet rev D). Wire that signal to another "
            "pin, or pass allow_gp7_input=True if you accept the risk."
        )


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class ExpanderConfig(NamedTuple):
    """16-bit masks, bit n = pin n (A = low byte). The default is the safest state: every pin
    an input except GPA7/GPB7, which are outputs driven low."""

    outputs: int = 0x8080
    output_levels: int = 0x0000
    pullups: int = 0x0000
    polarity: int = 0x0000  # IPOL: inputs read inverted
    interrupt_enable: int = 0x0000  # GPINTEN
    interrupt_compare: int = 0x0000  # INTCON: 1 = compare with DEFVAL, 0 = any change
    interrupt_defval: int = 0x0000
    mirror: bool = False  # INTA and INTB each report both ports
    open_drain: bool = True  # share one Pi GPIO between chips; the Pi pin pulls up
    active_high: bool = False  # INTPOL, only meaningful when not open-drain

    @property
    def inputs(self) -> int:
        return ~self.outputs & 0xFFFF

    def iocon(self) -> int:
        from drivers.mcp23017.registers import IOCON

        value = 0
        if self.mirror:
            value |= IOCON.MIRROR
        if self.open_drain:
            value |= IOCON.ODR
        if self.active_high:
            value |= IOCON.INTPOL
        return value
