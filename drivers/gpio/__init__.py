"""GPIO on the Pi header: gpiozero pin factories for real hardware (lgpio) and simulation."""

from drivers.gpio.pi import (
    DEFAULT_SIM_REVISION,
    PiGPIOUnavailableError,
    SimPiFactory,
    SimPin,
    pi_pin_factory,
)

__all__ = [
    "DEFAULT_SIM_REVISION",
    "PiGPIOUnavailableError",
    "SimPiFactory",
    "SimPin",
    "pi_pin_factory",
]
