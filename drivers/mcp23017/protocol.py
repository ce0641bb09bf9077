"""What the station needs from an MCP23017 backend, as a structural type.

The station (and its tests) program against :class:`Expander`, not against a class, so the
backend is a configuration choice: our shadow-register driver
(:class:`drivers.mcp23017.driver.MCP23017`) or Adafruit's CircuitPython driver behind an adapter
(:class:`drivers.mcp23017.adafruit.AdafruitExpander`). Both are checked against the same
simulator in ``tests/drivers/test_adafruit_backend.py``, which is what makes the Adafruit one an
independent cross-check of ours.

Pins are 0..15 (A = 0..7, B = 8..15) or datasheet names ('GPA0'..'GPB7'); 16-bit masks are
bit n = pin n, i.e. A | B << 8, the SMBus word layout of a BANK=0 register pair.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # typing only: a protocol must not drag a backend's imports in
    from drivers.i2c.bus import I2CBus
    from drivers.mcp23017.config import ExpanderConfig
    from drivers.mcp23017.driver import InterruptSnapshot


@runtime_checkable
class Expander(Protocol):
    """One MCP23017. ``init`` must be called before anything else: a Pi reboot does not
    power-cycle the chip, so no backend may assume the power-on state."""

    address: int
    bus: I2CBus

    # -- bring-up -------------------------------------------------------------------------
    def init(self, config: ExpanderConfig | None = None) -> None:
        """Bring the chip to ``config`` (default: ``ExpanderConfig()``) from any leftover state."""
        ...

    # -- outputs --------------------------------------------------------------------------
    def write_pin(self, pin: int | str, level: bool) -> None:
        """Set one output's latch."""
        ...

    def write_port(self, value: int, mask: int = 0xFFFF) -> None:
        """Set the output latch bits selected by ``mask`` to ``value``'s bits."""
        ...

    # -- inputs ---------------------------------------------------------------------------
    def read_pin(self, pin: int | str) -> bool:
        """One pin's level as the GPIO register reports it (IPOL applied to inputs)."""
        ...

    def read_port(self, mask: int = 0xFFFF) -> int:
        """The pins in ``mask``, A | B << 8 (other bits 0). Reading GPIO clears pending
        interrupts (of the ports read)."""
        ...

    # -- direction, pulls, polarity -------------------------------------------------------
    def set_outputs(self, outputs: int, levels: int | None = None) -> None:
        """``outputs`` become outputs, every other pin an input; ``levels`` (if given) is
        the latch the new outputs come up with."""
        ...

    def configure_output(self, pin: int | str, level: bool = False) -> None:
        """One pin to output at ``level``."""
        ...

    def configure_input(self, pin: int | str, pull_up: bool = False) -> None:
        """One pin to input, pull-up on or off."""
        ...

    def set_inputs(self, inputs: int, pullups: int | None = None) -> None:
        """``inputs`` become inputs (other pins keep their direction); ``pullups`` (if given)
        replaces the whole pull-up mask."""
        ...

    def set_pullups(self, mask: int) -> None:
        """GPPU: the weak pull-ups of the pins in ``mask`` on, all others off."""
        ...

    def set_polarity(self, mask: int) -> None:
        """IPOL: inputs in ``mask`` read inverted."""
        ...

    # -- interrupts -----------------------------------------------------------------------
    def configure_interrupts(
        self,
        enable: int,
        *,
        compare: int = 0,
        defval: int = 0,
        mirror: bool | None = None,
        open_drain: bool | None = None,
        active_high: bool | None = None,
    ) -> None:
        """Interrupt-on-change for ``enable``; pins in ``compare`` fire while they differ from
        ``defval``. The IOCON options left at None are not changed."""
        ...

    def service_interrupt(self, *, include_gpio: bool = False) -> InterruptSnapshot:
        """Which pins interrupted and the ports as captured; clears both ports' interrupts."""
        ...
