"""drivers.i2c.errors: every errno of docs/hardware-notes.md ("Errors") becomes its own
exception, keeps the errno, says where (bus, address, register, operation) and what to do, and
survives pickling (errors cross process boundaries in the station)."""

from __future__ import annotations

import errno as E
import os
import pickle

import pytest
import smbus2
from sim_fixtures import ScriptedSMBus

from drivers.i2c import (
    I2CArbitrationLostError,
    I2CBus,
    I2CBusBusyError,
    I2CError,
    I2CIOError,
    I2CNackError,
    I2CNotEnabledError,
    I2CNotSupportedError,
    I2CPermissionError,
    I2CTimeoutError,
    open_bus,
)
from drivers.i2c.errors import from_oserror
from drivers.mcp23017.driver import ExpanderIdentityError
from drivers.mcp23017.registers import register_name

# errno → (our class, the built-in class Python raises for it, message up to the errno tag)
TRANSFER_ERRORS = [
    (E.EREMOTEIO, I2CNackError, OSError, "no device at 0x20 on i2c-1 (reading GPIOA)"),
    (E.ENXIO, I2CNackError, OSError, "no device at 0x20 on i2c-1 (reading GPIOA)"),
    (E.EIO, I2CIOError, OSError, "I/O error talking to 0x20 on i2c-1 (reading GPIOA)"),
    (E.ETIMEDOUT, I2CTimeoutError, TimeoutError,
     "timeout talking to 0x20 on i2c-1 (reading GPIOA)"),
    (E.EAGAIN, I2CArbitrationLostError, BlockingIOError,
     "arbitration lost talking to 0x20 on i2c-1 (reading GPIOA)"),
    (E.EOPNOTSUPP, I2CNotSupportedError, OSError,
     "i2c-1 refused the transfer to 0x20 (reading GPIOA)"),
    (E.EBUSY, I2CBusBusyError, OSError,
     "0x20 on i2c-1 is claimed by a kernel driver (reading GPIOA)"),
]


def _fail_read(err: int) -> I2CError:
    """A GPIOA read on i2c-1 whose every attempt fails with ``err``."""
    bus = I2CBus(ScriptedSMBus(*[err] * 3), name="i2c-1", retries=2)
    bus.describe_registers(0x20, register_name)
    with pytest.raises(I2CError) as info:
        bus.read_byte_data(0x20, 0x12)
    return info.value


@pytest.mark.parametrize("err,cls,builtin,message", TRANSFER_ERRORS,
                         ids=[E.errorcode[t[0]] for t in TRANSFER_ERRORS])
def test_each_errno_maps_to_its_exception(err, cls, builtin, message):
    exc = _fail_read(err)
    assert type(exc) is cls
    # Code written against raw smbus2 (``except TimeoutError``) still catches it.
    assert isinstance(exc, builtin) and isinstance(exc, OSError)
    assert exc.errno == err
    assert (exc.bus, exc.address, exc.register, exc.operation) == ("i2c-1", 0x20, "GPIOA",
                                                                   "reading")
    assert str(exc).startswith(f"{message} [errno {err} ")
    assert isinstance(exc.__cause__, OSError) and exc.__cause__.errno == err


def test_nack_message_in_full():
    exc = _fail_read(E.EREMOTEIO)
    assert str(exc) == (
        "no device at 0x20 on i2c-1 (reading GPIOA) [errno 121 EREMOTEIO] Check the fixture "
        "cable, the address jumpers and that the board is powered."
    )


def test_eopnotsupp_is_named_as_the_kernel_names_it():
    assert "[errno 95 EOPNOTSUPP]" in str(_fail_read(E.EOPNOTSUPP))


def test_busy_hint_points_at_the_dtoverlay():
    assert "dtoverlay" in str(_fail_read(E.EBUSY))


def test_register_without_describer_is_shown_as_hex():
    bus = I2CBus(ScriptedSMBus(E.EREMOTEIO, E.EREMOTEIO, E.EREMOTEIO), name="i2c-1")
    with pytest.raises(I2CNackError) as info:
        bus.write_byte_data(0x27, 0x15, 0x00)
    assert str(info.value).startswith("no device at 0x27 on i2c-1 (writing register 0x15) ")
    assert info.value.register == "register 0x15"


def test_probe_error_names_the_operation_without_a_register():
    bus = I2CBus(ScriptedSMBus(E.ETIMEDOUT), name="i2c-1")
    with pytest.raises(I2CTimeoutError) as info:
        bus.probe(0x21)
    assert str(info.value).startswith("timeout talking to 0x21 on i2c-1 (probing) [errno 110")
    assert info.value.register is None


def test_unknown_errno_falls_back_to_the_base_class_with_strerror():
    exc = _fail_read(E.EPROTO)
    assert type(exc) is I2CError
    assert str(exc) == ("I2C error talking to 0x20 on i2c-1 (reading GPIOA): "
                        f"{os.strerror(E.EPROTO)} [errno {E.EPROTO} EPROTO]")


def test_an_i2c_error_is_not_wrapped_twice():
    exc = I2CNackError(121, "x", bus="i2c-1", address=0x20)
    assert from_oserror(exc, bus="other") is exc


# --------------------------------------------------------------------------- opening the bus
def test_open_bus_without_the_device_node_says_how_to_enable_i2c():
    assert not os.path.exists("/dev/i2c-99")
    with pytest.raises(I2CNotEnabledError) as info:
        open_bus(99)
    exc = info.value
    assert isinstance(exc, FileNotFoundError)
    assert (exc.errno, exc.bus, exc.address) == (E.ENOENT, "i2c-99", None)
    assert str(exc) == (
        "i2c-99 does not exist: I2C is not enabled [errno 2 ENOENT] "
        "Enable I2C: `sudo raspi-config nonint do_i2c 0` (or add `dtparam=i2c_arm=on` to "
        "/boot/firmware/config.txt), then reboot."
    )


def test_open_bus_permission_denied_says_to_join_the_i2c_group(tmp_path, monkeypatch):
    node = tmp_path / "i2c-7"
    node.touch()
    node.chmod(0o000)
    if os.access(node, os.R_OK | os.W_OK):
        # Running as root (CI containers do): mode bits don't stop root, so the open would
        # succeed and fail later for an unrelated reason (a plain file is no I2C adapter).
        # Simulate what the kernel gives a user outside the i2c group instead.
        def refuse(path, *args, **kwargs):
            raise PermissionError(E.EACCES, os.strerror(E.EACCES), str(path))

        monkeypatch.setattr(smbus2, "SMBus", refuse)
    with pytest.raises(I2CPermissionError) as info:
        open_bus(str(node))
    exc = info.value
    assert isinstance(exc, PermissionError)
    assert exc.errno == E.EACCES
    assert exc.bus == str(node)
    assert str(exc).startswith(f"permission denied opening {node} [errno 13 EACCES] ")
    assert "usermod -aG i2c" in str(exc)


def test_open_bus_on_something_that_is_not_an_adapter(monkeypatch):
    # smbus2 opens the node, then asks for I2C_FUNCS: a non-adapter answers ENOTTY.
    def not_an_adapter(path, *args, **kwargs):
        raise OSError(E.ENOTTY, os.strerror(E.ENOTTY))

    monkeypatch.setattr(smbus2, "SMBus", not_an_adapter)
    with pytest.raises(I2CError) as info:
        open_bus("/dev/ttyAMA0")
    assert str(info.value) == ("I2C error on ttyAMA0 (opening /dev/ttyAMA0): "
                               f"{os.strerror(E.ENOTTY)} [errno 25 ENOTTY]")


# --------------------------------------------------------------------------- pickling
PICKLE_CASES = [
    I2CNackError(121, "no device at 0x20 on i2c-1 (reading GPIOA)", bus="i2c-1", address=0x20,
                 register="GPIOA", operation="reading"),
    I2CTimeoutError(110, "timeout", bus="i2c-1", address=0x21, operation="probing"),
    I2CIOError(5, "io", bus="i2c-1", address=0x22, register="OLATB", operation="writing"),
    I2CArbitrationLostError(11, "lost", bus="i2c-1", address=0x23),
    I2CNotSupportedError(95, "refused", bus="i2c-1", address=0x24),
    I2CBusBusyError(16, "busy", bus="i2c-1", address=0x25),
    I2CNotEnabledError(2, "missing", bus="i2c-99", operation="opening /dev/i2c-99"),
    I2CPermissionError(13, "denied", bus="i2c-1", operation="opening /dev/i2c-1"),
    I2CError(71, "other", bus="sim:x", address=0x26),
    ExpanderIdentityError(None, "not an MCP23017", bus="i2c-1", address=0x27),
]


@pytest.mark.parametrize("exc", PICKLE_CASES, ids=[type(e).__name__ for e in PICKLE_CASES])
def test_errors_survive_pickling(exc):
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert (back.errno, back.bus, back.address, back.register, back.operation, back.message) == (
        exc.errno, exc.bus, exc.address, exc.register, exc.operation, exc.message)
    assert str(back) == str(exc)


def test_raised_error_survives_pickling_with_its_context():
    exc = _fail_read(E.ETIMEDOUT)
    back = pickle.loads(pickle.dumps(exc))
    assert isinstance(back, TimeoutError)
    assert str(back) == str(exc)
