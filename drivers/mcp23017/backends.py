"""The expander backend named by configuration, without loading the one not chosen.

``"pibench"`` is our driver (:class:`~drivers.mcp23017.driver.MCP23017`, the default);
``"adafruit"`` is Adafruit's behind :class:`~drivers.mcp23017.adafruit.AdafruitExpander`, whose
wrapper module (~30 KiB of bytecode) is imported only when a fixture is configured for it: a
station on our driver starts without it (issue 14).
"""

from typing import Any

from drivers.i2c.bus import I2CBus
from drivers.mcp23017.driver import MCP23017
from drivers.mcp23017.protocol import Expander

BACKENDS = ("pibench", "adafruit")


def make_expander(bus: I2CBus, address: int = 0x20, backend: str = "pibench",
                  **kwargs: Any) -> Expander:
    """The expander ``backend`` names. ``kwargs`` go to the backend's constructor
    (``allow_gp7_input`` for both, ``recover_bank1`` for Adafruit)."""
    if backend == "pibench":
        return MCP23017(bus, address, **kwargs)
    if backend == "adafruit":
        from drivers.mcp23017.adafruit import AdafruitExpander

        return AdafruitExpander(bus, address, **kwargs)
    raise ValueError(f"unknown expander backend {backend!r}; choose one of {', '.join(BACKENDS)}")
