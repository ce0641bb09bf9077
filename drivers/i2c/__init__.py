"""I2C access: the bus wrapper over smbus2 (or the simulator), its errors and wire accounting."""

from drivers.i2c.accounting import Accounting, Transaction
from drivers.i2c.bus import I2CBus, open_bus
from drivers.i2c.errors import (
    I2CArbitrationLostError,
    I2CBusBusyError,
    I2CError,
    I2CIOError,
    I2CNackError,
    I2CNotEnabledError,
    I2CNotSupportedError,
    I2CPermissionError,
    I2CTimeoutError,
)

__all__ = [
    "Accounting",
    "I2CArbitrationLostError",
    "I2CBus",
    "I2CBusBusyError",
    "I2CError",
    "I2CIOError",
    "I2CNackError",
    "I2CNotEnabledError",
    "I2CNotSupportedError",
    "I2CPermissionError",
    "I2CTimeoutError",
    "Transaction",
    "open_bus",
]
