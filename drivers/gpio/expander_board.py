"""How an MCP23017 looks to gpiozero: a "board" with one two-column header of 16 pins, named
as in the datasheet (GPA0..GPB7), so gpiozero's reservation logic and pretty-printer work."""

from __future__ import annotations

from gpiozero.pins import BoardInfo, HeaderInfo, PinInfo

from drivers.mcp23017.config import PIN_NAMES


def expander_board_info(address: int) -> BoardInfo:
    """One 8-row, 2-column "header": GPAn at physical number 2n+1, GPBn at 2n+2, so gpiozero's
    ``board_info`` pretty-printer shows the two ports side by side.

    Each pin answers to its datasheet name, its number 0..15 (int and str, as gpiozero passes
    whatever the user typed) and the short form 'A0'..'B7' that the driver also accepts."""
    pins = {}
    for n, name in enumerate(PIN_NAMES):
        port, bit = divmod(n, 8)
        number = 2 * bit + port + 1
        pins[number] = PinInfo(
            number=number,
            name=name,
            names=frozenset({name, n, str(n), name[2:]}),
            pull="",  # no fixed pull resistors: GPPU is software-controlled on every pin
            row=bit + 1,
            col=port + 1,
            interfaces=frozenset({"gpio"}),
        )
    header = HeaderInfo(name="GP", rows=8, columns=2, pins=pins)
    return BoardInfo(
        revision=f"mcp23017@0x{address:02x}",
        model="MCP23017",
        pcb_revision="",
        released="",
        soc="MCP23017",
        manufacturer="Microchip",
        memory=0,
        storage="",
        usb=0,
        usb3=0,
        ethernet=0,
        eth_speed=0,
        wifi=False,
        bluetooth=False,
        csi=0,
        dsi=0,
        headers={"GP": header},
        board="",
    )
