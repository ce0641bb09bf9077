"""I2C errors: each keeps the OS errno (they are OSError subclasses, so ``except OSError`` still
works) and adds what a technician or developer needs: which bus, which address, which register,
and what to do about it. Mapping follows the Pi 4 (i2c-bcm2835) and Pi 5 (i2c-designware)
kernel drivers (docs/hardware-notes.md, "Errors").

Where Python itself raises a subclass for the errno (110 → TimeoutError, 11 →
BlockingIOError, 2 → FileNotFoundError, 13 → PermissionError), ours derives from that
subclass too, so an ``except TimeoutError`` written against raw smbus2 keeps working once
the call goes through :class:`~drivers.i2c.bus.I2CBus`."""

from __future__ import annotations

import errno as E


class I2CError(OSError):
    """Base class. ``errno`` is the kernel's; ``bus``, ``address``, ``register`` say where."""

    hint = ""

    def __init__(
        self,
        err: int | None,
        message: str,
        *,
        bus: str,
        address: int | None = None,
        register: str | None = None,
        operation: str = "",
    ) -> None:
        super().__init__(err, message)
        self.bus = bus
        self.address = address
        self.register = register
        self.operation = operation
        self.message = message

    def __str__(self) -> str:
        name = _ERRNO_NAMES.get(self.errno) or E.errorcode.get(self.errno, "?")
        code = f" [errno {self.errno} {name}]" if self.errno else ""
        hint = f" {self.hint}" if self.hint else ""
        return f"{self.message}{code}{hint}"

    def __reduce__(self):  # picklable across processes, keyword context included
        return (
            _rebuild,
            (type(self), self.errno, self.message, self.bus, self.address, self.register,
             self.operation),
        )


# Python's errorcode picks ENOTSUP for 95; the kernel calls it EOPNOTSUPP.
_ERRNO_NAMES = {E.EOPNOTSUPP: "EOPNOTSUPP"}


def _rebuild(cls, err, message, bus, address, register, operation):
    return cls(err, message, bus=bus, address=address, register=register, operation=operation)


class I2CNackError(I2CError):
    """No acknowledge: no device at the address, or it refused a byte (errno 121 or 6)."""

    hint = "Check the fixture cable, the address jumpers and that the board is powered."


class I2CTimeoutError(I2CError, TimeoutError):
    """The controller timed out (errno 110): the bus is stuck, e.g. SDA held low."""

    hint = "The bus may be stuck; power-cycle the fixture."


class I2CIOError(I2CError):
    """Any other transfer error reported as EIO (errno 5), e.g. a clock-stretch timeout."""


class I2CArbitrationLostError(I2CError, BlockingIOError):
    """Arbitration lost (errno 11 on the Pi 5): another master or a glitching bus."""


class I2CNotSupportedError(I2CError):
    """The adapter refused the transfer shape (errno 95), e.g. a read not last on a Pi 4."""


class I2CBusBusyError(I2CError):
    """A kernel driver owns the address (errno 16), e.g. dtoverlay=mcp23017 is loaded."""

    hint = "Remove the mcp23017 dtoverlay from config.txt: pibench drives the chip itself."


class I2CNotEnabledError(I2CError, FileNotFoundError):
    """The /dev/i2c-N node does not exist (ENOENT)."""

    hint = (
        "Enable I2C: `sudo raspi-config nonint do_i2c 0` (or add `dtparam=i2c_arm=on` to "
        "/boot/firmware/config.txt), then reboot."
    )


class I2CPermissionError(I2CError, PermissionError):
    """The user may not open /dev/i2c-N (EACCES/EPERM)."""

    hint = "Add the station user to the i2c group: `sudo usermod -aG i2c $USER`, then log in again."


_BY_ERRNO: dict[int, tuple[type[I2CError], str]] = {
    E.EREMOTEIO: (I2CNackError, "no device at {addr} on {bus}{reg}"),
    E.ENXIO: (I2CNackError, "no device at {addr} on {bus}{reg}"),
    E.ETIMEDOUT: (I2CTimeoutError, "timeout talking to {addr} on {bus}{reg}"),
    E.EIO: (I2CIOError, "I/O error talking to {addr} on {bus}{reg}"),
    E.EAGAIN: (I2CArbitrationLostError, "arbitration lost talking to {addr} on {bus}{reg}"),
    E.EOPNOTSUPP: (I2CNotSupportedError, "{bus} refused the transfer to {addr}{reg}"),
    E.EBUSY: (I2CBusBusyError, "{addr} on {bus} is claimed by a kernel driver{reg}"),
    E.EACCES: (I2CPermissionError, "permission denied opening {bus}"),
    E.EPERM: (I2CPermissionError, "permission denied opening {bus}"),
    E.ENOENT: (I2CNotEnabledError, "{bus} does not exist: I2C is not enabled"),
}


def from_oserror(
    exc: OSError,
    *,
    bus: str,
    address: int | None = None,
    register: str | None = None,
    operation: str = "",
) -> I2CError:
    """Wrap an OSError from smbus2/ioctl into the specific I2CError, errno preserved."""
    if isinstance(exc, I2CError):
        return exc
    fallback = (I2CError, "I2C error talking to {addr} on {bus}{reg}" if address is not None
                else "I2C error on {bus}{reg}")  # e.g. opening a node that isn't an adapter
    cls, template = _BY_ERRNO.get(exc.errno or 0, fallback)
    text = template.format(
        addr=f"0x{address:02x}" if address is not None else "?",
        bus=bus,
        reg=f" ({operation} {register})" if register else (f" ({operation})" if operation else ""),
    )
    if cls is I2CError and exc.strerror:
        text = f"{text}: {exc.strerror}"
    return cls(exc.errno, text, bus=bus, address=address, register=register, operation=operation)
