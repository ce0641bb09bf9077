"""The simulated station's Pi GPIO inputs, without gpiozero: lines driven by the simulated world.

A fixture reads Pi GPIOs through one small interface, the one its resources use
(``edge/fixtures/resources.py``): an *input* with ``value``/``is_active``, edge listeners that
hear ``(ticks, level)``, its ``pin`` (``info.name``, ``factory``), ``close()``; and a *factory*
with ``ticks()``/``ticks_diff()``. On real hardware that is gpiozero on lgpio
(:class:`~drivers.timing.pulses.TimestampedInput`, a ``DigitalInputDevice``); the tests also run
it on gpiozero's ``MockFactory`` (:class:`~drivers.gpio.pi.SimPiFactory`). A simulated station
runs every board through this module instead, so it never loads gpiozero, whose import alone
costs about a fifth of the CPU time of a ``pibench run`` (it loads every gpiozero device and, for
its entry points, ``importlib.metadata`` with ``email``).

What the simulation needs of a pin is what :class:`~drivers.gpio.pi.SimPin` offers it
(``drive(level, report=)``, ``state``, ``function``, ``info.name``, level listeners), so
``drivers/sim/wiring.py`` and :class:`~drivers.timing.sim_ne555.SimNE555` drive either.
Differences from gpiozero's mock pins, both what a real Pi does: a pull only sets the level of a
line nothing drives, and every line is an input (a fixture's Pi GPIOs are all inputs).
"""

from collections.abc import Callable

from drivers.clock import SimClock
from drivers.named_tuple import NamedTuple

LevelListener = Callable[[bool, float], None]  # (level, ticks): every change, as SimPin's
EdgeListener = Callable[[float, bool], None]  # (ticks, level): reported edges, as a device's


class LineInfo(NamedTuple):
    name: str


class SimLine:
    """One Pi GPIO input of the simulated station."""

    function = "input"

    def __init__(self, factory: "SimLines", gpio: int) -> None:
        self.factory = factory
        self.info = LineInfo(f"GPIO{gpio}")
        self.state = False
        self.pull = "floating"
        self._driven = False
        self._listeners: list[LevelListener] = []
        self._edge_listeners: list[EdgeListener] = []

    def __repr__(self) -> str:
        return f"<SimLine {self.info.name} {'high' if self.state else 'low'}>"

    def add_listener(self, fn: LevelListener) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: LevelListener) -> None:
        self._listeners.remove(fn)

    def drive(self, level: bool, *, report: bool = True) -> None:
        """Drive the line from the simulation. ``report=False`` changes the level without an
        edge event, as when a Pi loses a kernel line event."""
        self._driven = True
        self._set(bool(level), report)

    def set_pull(self, pull: str) -> None:
        self.pull = pull
        if not self._driven and pull in ("up", "down"):
            self._set(pull == "up", True)

    def _set(self, level: bool, report: bool) -> None:
        if level == self.state:
            return
        self.state = level
        ticks = self.factory.ticks()
        for listener in list(self._listeners):
            listener(level, ticks)
        if report:
            for edge_listener in list(self._edge_listeners):
                edge_listener(ticks, level)


class SimInput:
    """A fixture's input on a :class:`SimLine`, as gpiozero's ``DigitalInputDevice`` reads it:
    ``pull_up`` True means a pull-up and active low, else ``active_state`` says which level is
    active."""

    def __init__(self, pin: SimLine, *, pull_up: bool | None, active_state: bool | None) -> None:
        if pin.factory.reserved(pin):
            raise ValueError(f"{pin.info.name} is already used by another input")
        self.pin = pin
        self.pin_factory = pin.factory
        self._active_high = (not pull_up) if active_state is None else bool(active_state)
        pin.set_pull("floating" if pull_up is None else ("up" if pull_up else "down"))
        pin.factory.reserve(pin, self)
        self._closed = False

    @property
    def value(self) -> int:
        return int(self.pin.state == self._active_high)

    @property
    def is_active(self) -> bool:
        return bool(self.value)

    def add_edge_listener(self, fn: EdgeListener) -> None:
        self.pin._edge_listeners.append(fn)

    def remove_edge_listener(self, fn: EdgeListener) -> None:
        self.pin._edge_listeners.remove(fn)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.pin._edge_listeners.clear()
            self.pin_factory.release(self.pin)


class SimLines:
    """The simulated Pi header: its GPIO lines, on simulated time (``ticks()`` is
    ``clock.now()``), and the inputs a fixture opens on them."""

    def __init__(self, clock: SimClock | None = None) -> None:
        self.clock = clock if clock is not None else SimClock()
        self._lines: dict[int, SimLine] = {}
        self._owners: dict[int, SimInput] = {}

    def pin(self, gpio: int) -> SimLine:
        line = self._lines.get(gpio)
        if line is None:
            line = self._lines[gpio] = SimLine(self, gpio)
        return line

    def open_input(self, gpio: int, *, pull_up: bool | None, active_state: bool | None) -> SimInput:
        return SimInput(self.pin(gpio), pull_up=pull_up, active_state=active_state)

    def reserved(self, line: SimLine) -> bool:
        return id(line) in self._owners

    def reserve(self, line: SimLine, owner: SimInput) -> None:
        self._owners[id(line)] = owner

    def release(self, line: SimLine) -> None:
        self._owners.pop(id(line), None)

    def ticks(self) -> float:
        return self.clock.now()

    @staticmethod
    def ticks_diff(later: float, earlier: float) -> float:
        return later - earlier

    def close(self) -> None:
        for owner in list(self._owners.values()):
            owner.close()
