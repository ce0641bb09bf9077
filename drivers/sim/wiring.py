"""The fixture's wires in simulation: loopbacks between expander pins, expander ↔ Pi GPIO, INT
lines to the Pi, and the HMI kit's push buttons.

Every connection copies a *source* level onto a *target* input, in one direction, and is
recorded in a :class:`Wiring` so a fixture description can be written from it later
(:meth:`Wiring.describe`). The initial level is propagated at once, so the target is right
before the first change.

Two modelling rules, both because the simulated chips only report *level* changes:

* A source's level is copied whatever its direction. With the source configured as an output
  (the normal case) that is exactly the wire; with it an input, the target reads the source's
  pull-up or floating level, which is what a meter would see on an undriven wire.
* A net has one driver. A second driver on the same input, or a connection that closes a
  loop (through a wire, or through a chip: any input change can move that chip's INT line),
  is refused when it is made: such a loop has no meaning in a one-direction model and in the
  worst case keeps a level latched after its driver let go. Open-drain INT lines are the
  exception: several may share one Pi pin, which then reads their wired-AND.

A propagation that still recurses too deep (a loop made across two ``Wiring`` objects) raises
:class:`WiringError` instead of overflowing the stack.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from drivers.mcp23017.config import PIN_NAMES, pin_number
from drivers.mcp23017.registers import Port
from drivers.sim.mcp23017 import SimMCP23017

MAX_PROPAGATION_DEPTH = 64


class WiringError(ValueError):
    """A connection that cannot exist on a real fixture (two drivers, a feedback loop)."""


_depth = threading.local()


def _guarded(fn: Callable[[], None]) -> None:
    """Run one propagation step, counting nesting per thread: a feedback loop shows up as
    unbounded nesting, because every step happens inside the previous one's notification."""
    level = getattr(_depth, "n", 0)
    if level >= MAX_PROPAGATION_DEPTH:
        raise WiringError(
            f"signal propagation nested {level} deep: the wiring has a feedback loop")
    _depth.n = level + 1
    try:
        fn()
    finally:
        _depth.n = level


def _port(port: Port | int | str) -> Port:
    if isinstance(port, str):
        name = port.strip().upper().removeprefix("INT")
        try:
            return Port[name]
        except KeyError:
            raise ValueError(f"unknown INT port {port!r}: use 'A' or 'B'") from None
    return Port(port)


# Node keys for the connection graph. Objects are keyed by identity: two chips at 0x20 on two
# buses are different chips.
def _chip_pin(chip: SimMCP23017, pin: int) -> tuple[str, int, int]:
    return ("pin", id(chip), pin)


def _chip_int(chip: SimMCP23017, port: Port) -> tuple[str, int, int]:
    return ("int", id(chip), int(port))


def _pi(pi_pin: Any) -> tuple[str, int]:
    return ("pi", id(pi_pin))


class Connection:
    """One wire. ``source``/``target`` are labels ('mcp23017@0x20:GPB0', 'pi:GPIO17',
    'mcp23017@0x20:INTA', 'button'). ``disconnect()`` unplugs it: the target is released (an
    expander input goes back to its pull-up or floating level; a Pi pin keeps its last level,
    as gpiozero's mock pins have no notion of "undriven"). Equal to another wire with the same
    kind and labels. (A plain class, not a dataclass: no dataclasses at start, issue 14.)"""

    def __init__(self, kind: str, source: str, target: str, _wiring: Wiring,
                 _release: Callable[[], None] = lambda: None,
                 _pi_driver: _PiDriver | None = None, active: bool = True) -> None:
        self.kind = kind
        self.source = source
        self.target = target
        self._wiring = _wiring
        self._release = _release
        self._pi_driver = _pi_driver
        self.active = active

    def __repr__(self) -> str:
        return (f"Connection(kind={self.kind!r}, source={self.source!r}, "
                f"target={self.target!r}, active={self.active!r})")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (self.kind, self.source, self.target) == (other.kind, other.source, other.target)

    __hash__ = None  # type: ignore[assignment]  # mutable: unhashable, as the dataclass was

    def disconnect(self) -> None:
        if not self.active:
            return
        self.active = False
        self._wiring._forget(self)
        self._release()

    def lose_edges(self, count: int = 1) -> None:
        """Fault injection for a Pi-pin target: the next ``count`` level changes reach the pin
        without an edge event, as when the kernel drops a line event. The Pi sees the new
        level only if it reads the pin."""
        if self._pi_driver is None:
            raise WiringError(f"{self.target} is not a Pi pin: it has no edge events to lose")
        self._pi_driver.lose_edges += count

    def describe(self) -> dict[str, str]:
        return {"kind": self.kind, "from": self.source, "to": self.target}


class ButtonHandle:
    """A push button from an expander input to GND, as on the HMI kit: pressing pulls the pin
    low; releasing lets go, so the level is the chip's pull-up (or floating without it)."""

    def __init__(self, chip: SimMCP23017, pin: int, connection: Connection) -> None:
        self.chip = chip
        self.pin = pin
        self.connection = connection
        self._pressed = False

    @property
    def pressed(self) -> bool:
        return self._pressed

    def press(self) -> None:
        self._pressed = True
        if self.connection.active:
            _guarded(lambda: self.chip.drive(self.pin, False))

    def release(self) -> None:
        self._pressed = False
        if self.connection.active:
            _guarded(lambda: self.chip.drive(self.pin, None))


class Wiring:
    """The connections of one simulated fixture, with the checks a real one would impose."""

    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self._names: dict[int, str] = {}
        self._links: list[tuple[Connection, Hashable, Hashable]] = []  # (wire, source, target)
        self._pi_drivers: dict[int, _PiDriver] = {}  # one per driven Pi pin
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- labels
    def name(self, chip: SimMCP23017, label: str) -> None:
        """Call a chip ``label`` in :meth:`describe` (default: 'mcp23017@0x20')."""
        self._names[id(chip)] = label

    def _chip_label(self, chip: SimMCP23017) -> str:
        return self._names.get(id(chip), f"mcp23017@0x{chip.address:02x}")

    def _pin_label(self, chip: SimMCP23017, pin: int) -> str:
        return f"{self._chip_label(chip)}:{PIN_NAMES[pin]}"

    @staticmethod
    def _pi_label(pi_pin: Any) -> str:
        return f"pi:{pi_pin.info.name}"

    def describe(self) -> list[dict[str, str]]:
        """The connections as plain data, in the order they were made."""
        return [c.describe() for c in self.connections]

    # ---------------------------------------------------------------- graph checks
    def _successors(self, node: Hashable) -> set[Hashable]:
        out = {target for _, source, target in self._links if source == node}
        if node[0] == "pin":
            # Inside a chip, any input can move either INT line (MIRROR may OR the ports).
            out |= {("int", node[1], 0), ("int", node[1], 1)}
        return out

    def _reaches(self, start: Hashable, goal: Hashable) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(self._successors(node))
        return False

    def _add(self, connection: Connection, source: Hashable, target: Hashable) -> None:
        with self._lock:
            drivers = [c for c, _, t in self._links if t == target]
            both_int = connection.kind == "int" and all(c.kind == "int" for c in drivers)
            if drivers and not both_int:
                raise WiringError(
                    f"{connection.target} is already driven by {drivers[0].source}; two "
                    "drivers on one net would fight (only open-drain INT lines may share)")
            if self._reaches(target, source):
                raise WiringError(
                    f"{connection.source} → {connection.target} closes a feedback loop: "
                    f"{connection.target} already drives {connection.source}")
            self._links.append((connection, source, target))
            self.connections.append(connection)

    def _forget(self, connection: Connection) -> None:
        with self._lock:
            self._links = [link for link in self._links if link[0] is not connection]
            self.connections.remove(connection)

    def disconnect_all(self) -> None:
        for connection in list(self.connections):
            connection.disconnect()

    def _pi_driver(self, pi_pin: Any) -> _PiDriver:
        with self._lock:
            driver = self._pi_drivers.get(id(pi_pin))
            if driver is None:
                driver = self._pi_drivers[id(pi_pin)] = _PiDriver(pi_pin)
            return driver

    # ---------------------------------------------------------------- connections
    def loopback(self, chip_a: SimMCP23017, pin_a: int | str, chip_b: SimMCP23017,
                 pin_b: int | str) -> Connection:
        """A wire from ``chip_a``'s ``pin_a`` (an output) to ``chip_b``'s ``pin_b`` (an input);
        the chips may be the same one."""
        a, b = pin_number(pin_a), pin_number(pin_b)
        connection = Connection("loopback", self._pin_label(chip_a, a),
                                self._pin_label(chip_b, b), self,
                                _release=lambda: chip_b.drive(b, None))
        self._add(connection, _chip_pin(chip_a, a), _chip_pin(chip_b, b))

        def on_change(pin: int, level: bool) -> None:
            # The notified level, not chip_a.level(a) now: the chip delivers changes in order,
            # and a pulse that is already over by delivery time must still reach chip_b.
            if pin == a and connection.active:
                _guarded(lambda: chip_b.drive(b, level))

        chip_a.on_pin_change(on_change)
        _guarded(lambda: chip_b.drive(b, chip_a.level(a)))
        return connection

    def to_pi(self, chip: SimMCP23017, pin: int | str, pi_pin: Any) -> Connection:
        """An expander pin drives a Pi GPIO input (a ``SimPin``)."""
        n = pin_number(pin)
        connection = Connection("to_pi", self._pin_label(chip, n), self._pi_label(pi_pin), self)
        self._add(connection, _chip_pin(chip, n), _pi(pi_pin))
        driver = self._pi_driver(pi_pin)
        driver.add_source(connection, chip.level(n))

        def on_change(changed: int, level: bool) -> None:
            if changed == n and connection.active:
                driver.set_level(connection, level)

        chip.on_pin_change(on_change)
        return connection

    def from_pi(self, pi_pin: Any, chip: SimMCP23017, pin: int | str) -> Connection:
        """A Pi GPIO (normally a gpiozero output) drives an expander input."""
        n = pin_number(pin)
        connection = Connection("from_pi", self._pi_label(pi_pin), self._pin_label(chip, n),
                                self)
        self._add(connection, _pi(pi_pin), _chip_pin(chip, n))

        def copy() -> None:
            chip.drive(n, bool(pi_pin.state))

        def on_change(_level: bool, _ticks: float) -> None:
            if connection.active:
                _guarded(copy)

        def release() -> None:
            pi_pin.remove_listener(on_change)
            chip.drive(n, None)

        connection._release = release
        pi_pin.add_listener(on_change)
        _guarded(copy)
        return connection

    def int_to_pi(self, chip: SimMCP23017, port: Port | int | str, pi_pin: Any) -> Connection:
        """INTA or INTB drives a Pi GPIO input: the Pi pin sees the line's *electrical* level
        (an open-drain output that is released reads high through the pull-up). Several
        chips' INT lines on one Pi pin form a wired-AND, as open-drain outputs do."""
        p = _port(port)
        connection = Connection("int", f"{self._chip_label(chip)}:INT{p.name}",
                                self._pi_label(pi_pin), self)
        self._add(connection, _chip_int(chip, p), _pi(pi_pin))
        driver = self._pi_driver(pi_pin)
        driver.add_source(connection, chip.int_level(p))

        def on_int(changed: Port, level: bool) -> None:
            # The notified level: a release by a service read followed by a new interrupt is
            # a real pulse on the line, and the Pi must see both of its edges.
            if changed == p and connection.active:
                driver.set_level(connection, level)

        chip.on_int_change(on_int)
        return connection

    def button(self, chip: SimMCP23017, pin: int | str) -> ButtonHandle:
        """A push button from ``pin`` to GND (active-low; the chip's pull-up gives the idle
        high, so configure the pin with its pull-up, e.g. ``Button(pin, pull_up=True)``)."""
        n = pin_number(pin)
        connection = Connection("button", "button", self._pin_label(chip, n), self,
                                _release=lambda: chip.drive(n, None))
        self._add(connection, ("button", id(connection)), _chip_pin(chip, n))
        _guarded(lambda: chip.drive(n, None))  # released: nothing drives the pin
        return ButtonHandle(chip, n, connection)


class _PiDriver:
    """Drives one ``SimPin`` from its sources: one wire, or several open-drain INT lines
    (wired-AND: any active one pulls the line low; with none connected the pull-up wins).

    It also keeps the pin driven: gpiozero's mock pins jump to their pull's level when the pull
    is set, whereas a driven line on a real Pi does not move, so such a jump is undone at once.
    """

    def __init__(self, pi_pin: Any) -> None:
        self.pi_pin = pi_pin
        self.sources: dict[int, tuple[Connection, bool]] = {}  # id(connection) → its level
        self.lose_edges = 0
        self._listening = False

    def add_source(self, connection: Connection, level: bool) -> None:
        connection._pi_driver = self
        self.sources[id(connection)] = (connection, bool(level))

        def release() -> None:
            self.sources.pop(id(connection), None)
            self.update()

        connection._release = release
        if not self._listening:
            self._listening = True
            self.pi_pin.add_listener(self._on_pi_change)
        self.update()

    def set_level(self, connection: Connection, level: bool) -> None:
        self.sources[id(connection)] = (connection, bool(level))
        self.update()

    def level(self) -> bool | None:
        levels = [level for conn, level in self.sources.values() if conn.active]
        return all(levels) if levels else None

    def update(self) -> None:
        _guarded(self._apply)

    def _apply(self) -> None:
        pin = self.pi_pin
        if pin.function != "input":
            return  # the Pi drives this pin itself; its output wins
        level = self.level()
        if level is None or bool(pin.state) == level:
            return  # undriven: the pin keeps what it has
        report = True
        if self.lose_edges > 0:
            self.lose_edges -= 1
            report = False
        pin.drive(level, report=report)

    def _on_pi_change(self, _level: bool, _ticks: float) -> None:
        self.update()


def _chain(*fns: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        for fn in fns:
            fn()

    return run


# ---------------------------------------------------------------- module-level shortcuts
# For a quick one-off wire. Loop and double-driver checks only see connections made on the
# same Wiring, so a fixture with several wires should use one Wiring (pass ``wiring=``).
def loopback(chip_a: SimMCP23017, pin_a: int | str, chip_b: SimMCP23017, pin_b: int | str,
             *, wiring: Wiring | None = None) -> Connection:
    return (wiring or Wiring()).loopback(chip_a, pin_a, chip_b, pin_b)


def to_pi(chip: SimMCP23017, pin: int | str, sim_pi_pin: Any, *,
          wiring: Wiring | None = None) -> Connection:
    return (wiring or Wiring()).to_pi(chip, pin, sim_pi_pin)


def from_pi(sim_pi_pin: Any, chip: SimMCP23017, pin: int | str, *,
            wiring: Wiring | None = None) -> Connection:
    return (wiring or Wiring()).from_pi(sim_pi_pin, chip, pin)


def int_to_pi(chip: SimMCP23017, port: Port | int | str, sim_pi_pin: Any, *,
              wiring: Wiring | None = None) -> Connection:
    return (wiring or Wiring()).int_to_pi(chip, port, sim_pi_pin)


def button(chip: SimMCP23017, pin: int | str, *, wiring: Wiring | None = None) -> ButtonHandle:
    return (wiring or Wiring()).button(chip, pin)
