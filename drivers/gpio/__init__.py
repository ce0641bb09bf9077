"""GPIO on the Pi header: gpiozero pin factories for real hardware (lgpio) and simulation
(:mod:`~drivers.gpio.pi`), and the simulated station's own lines (:mod:`~drivers.gpio.sim_lines`).

The names of :mod:`drivers.gpio.pi` are loaded on first use: importing this package (for its
error, or the simulated lines) must not load gpiozero.
"""

from drivers.gpio.errors import PiGPIOUnavailableError

_FROM_PI = ("DEFAULT_SIM_REVISION", "SimPiFactory", "SimPin", "pi_pin_factory")


def __getattr__(name: str):
    if name in _FROM_PI:
        from drivers.gpio import pi

        return getattr(pi, name)
    raise AttributeError(f"module 'drivers.gpio' has no attribute {name!r}")


__all__ = [
    "DEFAULT_SIM_REVISION",
    "PiGPIOUnavailableError",
    "SimPiFactory",
    "SimPin",
    "pi_pin_factory",
]
