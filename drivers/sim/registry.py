"""Named simulated buses, so configuration can say ``bus = "sim:fixture"`` the way pySerial
accepts ``loop://``: the simulator is selected by name, not patched in."""

from __future__ import annotations

import threading

from drivers.sim.smbus import SimSMBus

_buses: dict[str, SimSMBus] = {}
_lock = threading.Lock()


def register(bus: SimSMBus) -> SimSMBus:
    with _lock:
        _buses[bus.name] = bus
    return bus


def lookup(name: str) -> SimSMBus:
    with _lock:
        try:
            return _buses[name]
        except KeyError:
            known = ", ".join(sorted(_buses)) or "none"
            message = f"no simulated I2C bus named {name!r} (registered: {known})"
            raise LookupError(message) from None


def unregister(name: str) -> None:
    with _lock:
        _buses.pop(name, None)
