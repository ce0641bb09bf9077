"""The Raspberry Pi's own GPIO header through gpiozero: lgpio on hardware, clocked mock pins in sim.

gpiozero's ``MockFactory``/``MockPin`` read ``time.monotonic()`` for ``ticks`` and for the pin's
``states`` history, so a simulated 10 s NE555 period would take 10 s of wall time. The classes here
take every timestamp from an injected :class:`~drivers.clock.SimClock` instead; a simulation then
schedules edges on that clock and a whole measurement runs in milliseconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from gpiozero.exc import GPIOZeroError
from gpiozero.pins.mock import MockFactory, MockPin, PinState

from drivers.clock import SimClock
from drivers.gpio.errors import PiGPIOUnavailableError

# Pi 5 Model B: the station's main target (and the only model that needs the lgpio backend).
DEFAULT_SIM_REVISION = "d04170"

LevelListener = Callable[[bool, float], None]
STATE_HISTORY = 2048  # most level changes a SimPin remembers in ``states``


class SimPin(MockPin):
    """A gpiozero mock pin whose timestamps come from the factory's :class:`SimClock`.

    Listeners (``fn(level, ticks)``, held strongly: they are simulation wiring, not gpiozero
    event handlers) hear every level change, whether a gpiozero output device set it or the
    simulation drove an input. ``when_changed`` fires synchronously in the clock's thread.
    """

    def __init__(self, factory: SimPiFactory, info) -> None:
        # Before super().__init__: MockPin's constructor may already change the level.
        self._listeners: list[LevelListener] = []
        super().__init__(factory, info)

    def add_listener(self, fn: LevelListener) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: LevelListener) -> None:
        self._listeners.remove(fn)

    def drive(self, level: bool, *, report: bool = True) -> None:
        """Drive an input from the simulation.

        ``report=False`` changes the level without an edge event, which is what a Pi sees when a
        kernel line event is lost: the next event then repeats the previous level.
        """
        if report:
            (self.drive_high if level else self.drive_low)()
            return
        assert self._function == "input", "only inputs are driven by the simulation"
        self._change_state(bool(level))

    def clear_states(self) -> None:
        self._last_change = self.factory.ticks()
        self.states = [PinState(0.0, self._state)]

    def _change_state(self, value) -> bool:
        # Same bookkeeping as MockPin._change_state (``states`` keeps its delta-since-previous
        # convention), but stamped by the simulated clock, and listeners are told.
        if self._state == value:
            return False
        ticks = self.factory.ticks()
        self._state = value
        self.states.append(PinState(ticks - self._last_change, value))
        if len(self.states) > STATE_HISTORY:
            # MockPin keeps every change forever: a simulated station running for days would
            # grow without bound (10 edges per board). The recent half is what tests look at.
            del self.states[: len(self.states) - STATE_HISTORY // 2]
        self._last_change = ticks
        for listener in list(self._listeners):
            listener(bool(value), ticks)
        return True


class SimPiFactory(MockFactory):
    """A gpiozero ``MockFactory`` on simulated time: ``ticks()`` is ``clock.now()``."""

    def __init__(
        self,
        clock: SimClock | None = None,
        *,
        revision: str = DEFAULT_SIM_REVISION,
        pin_class: type[SimPin] = SimPin,
    ) -> None:
        # The clock must exist before any pin is built: pins stamp their history on creation.
        self.clock = clock if clock is not None else SimClock()
        super().__init__(revision=revision, pin_class=pin_class)

    def pin(self, name, pin_class=None, **kwargs):
        # Any other mock pin class would quietly go back to wall-clock timestamps.
        if pin_class is not None and not issubclass(pin_class, SimPin):
            raise ValueError(f"SimPiFactory pins must be SimPin subclasses, not {pin_class!r}")
        return super().pin(name, pin_class=pin_class, **kwargs)

    def ticks(self) -> float:
        return self.clock.now()

    @staticmethod
    def ticks_diff(later: float, earlier: float) -> float:
        return later - earlier


def pi_pin_factory(simulated: bool, clock: SimClock | None = None, *, chip: int | None = None,
                   workdir: str | os.PathLike[str] | None = None):
    """The pin factory for the Pi header: lgpio on a real Pi, :class:`SimPiFactory` in sim.

    ``chip`` is passed to ``LGPIOFactory`` (None lets gpiozero pick the header's gpiochip).
    ``workdir`` is where lgpio may create its notification FIFO (see :func:`lgpio_workdir`).
    """
    if simulated:
        return SimPiFactory(clock)
    if clock is not None:
        raise ValueError("a clock is only injected in simulation; real GPIO ticks are monotonic")
    return _open_lgpio_factory(chip, workdir)


def lgpio_workdir(workdir: str | os.PathLike[str] | None = None) -> str:
    """Point lgpio's ``LG_WD`` at a directory this process owns, before lgpio is imported.

    Importing lgpio creates a notification FIFO (``.lgd-nfy…``) in its working directory, which
    is the process's current directory unless ``LG_WD`` says otherwise. A service started in
    ``/`` as an unprivileged user cannot create it there, and the import fails with
    ``FileNotFoundError``. Order: an ``LG_WD`` already set (the administrator's choice), then
    ``workdir``, then systemd's ``$RUNTIME_DIRECTORY``, then a fresh private directory under
    the system's temporary directory. Returns the directory used.
    """
    chosen = os.environ.get("LG_WD")
    if not chosen:
        runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
        import tempfile  # (only here: a simulated station never needs it)

        chosen = str(workdir) if workdir else runtime or tempfile.mkdtemp(prefix="pibench-lgpio-")
        os.environ["LG_WD"] = chosen
    return chosen


_GPIO_HINT = "(is this a Raspberry Pi, and is the user in the 'gpio' group?)"


def _open_lgpio_factory(chip: int | None, workdir: str | os.PathLike[str] | None = None):
    # Imported lazily: lgpio is only installed on a Pi, and sim/CI must never need it.
    directory = lgpio_workdir(workdir)
    try:
        import lgpio
        from gpiozero.pins.lgpio import LGPIOFactory
    except ImportError as exc:
        raise PiGPIOUnavailableError(
            f"GPIO unavailable: real GPIO needs the lgpio package ({exc}); install it on the "
            "Raspberry Pi (pip install lgpio, or apt install python3-lgpio) or run in simulation"
        ) from exc
    except OSError as exc:  # its notification FIFO could not be made in LG_WD
        raise PiGPIOUnavailableError(
            f"GPIO unavailable: lgpio could not start ({type(exc).__name__}: {exc}); it "
            f"needs a directory it can write to for its notification pipe (LG_WD={directory})"
        ) from exc
    # Off a Pi gpiozero raises PinUnknownPi; lgpio raises its own ``lgpio.error`` ("can not open
    # gpiochip") when the chip device is missing or not accessible.
    open_errors = (GPIOZeroError, OSError, getattr(lgpio, "error", OSError))
    try:
        return LGPIOFactory(chip=chip)
    except open_errors as exc:
        raise PiGPIOUnavailableError(
            f"GPIO unavailable: cannot open the Pi GPIO header through lgpio: {exc} {_GPIO_HINT}"
        ) from exc
