"""One MCP23017 pin as a gpiozero ``Pin``: direction, level, pull-up, edges, bounce and a
weakly held ``when_changed``. Register writes and interrupt servicing belong to the factory
(:mod:`drivers.gpio.expander`); a pin only keeps its own state and asks the factory."""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable
from types import MethodType
from typing import TYPE_CHECKING, Any

from gpiozero.exc import (
    PinFixedPull,
    PinInvalidBounce,
    PinInvalidEdges,
    PinInvalidFunction,
    PinInvalidPin,
    PinInvalidPull,
    PinInvalidState,
    PinSetInput,
    PinWarning,
)
from gpiozero.pins import Pin, PinInfo

from drivers.mcp23017.config import PIN_NAMES, GP7InputError
from drivers.mcp23017.registers import OUTPUT_ONLY_PINS

if TYPE_CHECKING:
    from drivers.gpio.expander import ExpanderFactory

EDGES = ("both", "rising", "falling", "none")


class ExpanderGP7InputError(PinInvalidFunction, GP7InputError):
    """GPA7/GPB7 asked to be an input. A gpiozero ``PinInvalidFunction`` (so device
    constructors clean up as for any refused pin) that is also the driver's ``GP7InputError``."""


class ExpanderPinWarning(PinWarning):
    """Something went wrong on the I2C bus where raising would do more harm than good
    (closing a pin, servicing an interrupt from a callback thread)."""


class ExpanderPin(Pin):
    """One MCP23017 pin. Direction, pull-up and latch are the factory's record of what it
    wrote (it owns the chip), so reading ``function``/``pull`` or an output's ``state`` costs no
    bus traffic; an input's ``state`` is one 8-bit GPIO read."""

    def __init__(self, factory: ExpanderFactory, info: PinInfo) -> None:
        super().__init__()
        if "gpio" not in info.interfaces:
            raise PinInvalidPin(f"{info.name} is not a GPIO pin")
        self._factory = factory
        self._info = info
        self._number = PIN_NAMES.index(info.name)
        self._bit = 1 << self._number
        self._when_changed: weakref.ref | None = None
        self._edges = "both"
        self._bounce: float | None = None
        self._forget_edges()

    # Edge bookkeeping, guarded by the factory's lock. ``_level`` is the last level observed
    # (None: not watched yet, the next service takes a baseline), ``_reported`` the last level
    # handed to gpiozero, ``_last_change`` the ticks of that report (bounce windows start
    # there), ``_unsettled`` the ticks of a change swallowed by the bounce window.
    def _forget_edges(self) -> None:
        self._level: bool | None = None
        self._reported: bool | None = None
        self._last_change: float | None = None
        self._unsettled: float | None = None
        self._settle_pending = False

    def __repr__(self) -> str:
        return f"{self._info.name}@0x{self._factory.expander.address:02x}"

    @property
    def factory(self) -> ExpanderFactory:
        return self._factory

    @property
    def number(self) -> int:
        """0..15 (GPA0 = 0, GPB7 = 15)."""
        return self._number

    def _get_info(self) -> PinInfo:
        return self._info

    # ---------------------------------------------------------------- function / state
    def _is_input(self) -> bool:
        return not self._factory._outputs & self._bit

    def _get_function(self) -> str:
        return "input" if self._is_input() else "output"

    def _set_function(self, value: str) -> None:
        if value not in ("input", "output"):
            raise PinInvalidFunction(
                f"{self!r}: function must be 'input' or 'output', not {value!r}")
        if value == self._get_function():
            return  # nothing to write; the chip already has this direction
        if value == "output":
            # Keep the latch as it is: the pin comes up at the level it last had as an output.
            self.output_with_state(bool(self._factory._latch & self._bit))
        else:
            self._make_input(self._get_pull() == "up")

    def _get_state(self) -> bool:
        if self._is_input():
            return self._factory.expander.read_pin(self._number)
        return bool(self._factory._latch & self._bit)

    def _set_state(self, value: Any) -> None:
        if self._is_input():
            raise PinSetInput(f"cannot set the state of input pin {self!r}")
        if value not in (0, 1):  # also True/False; PWM duty cycles are not supported
            raise PinInvalidState(f"{self!r}: state must be 0 or 1, not {value!r}")
        level = bool(value)
        # One 8-bit write to OLATA/OLATB (3 wire bytes) and nothing else. Under the config
        # lock: the driver computes the new latch from its shadow (read-modify-write), so two
        # threads writing two pins (LED.blink's thread and the main one) could lose a bit.
        with self._factory._config_lock:
            self._factory.expander.write_pin(self._number, level)
            self._factory._set_latch(self._bit, level)

    def output_with_state(self, state: Any) -> None:
        """Output at ``state`` without a glitch: the driver writes OLAT before IODIR."""
        with self._factory._config_lock:
            if not self._is_input():
                self._set_state(state)
                return
            level = bool(state)
            self._factory.expander.configure_output(self._number, level)
            self._factory._set_latch(self._bit, level)
            self._factory._set_output(self._bit, True)
            self._factory._watch_changed()

    def input_with_pull(self, pull: str) -> None:
        """Input with ``pull`` without a float: the driver writes GPPU before IODIR."""
        self._make_input(_pull_up(self, pull))

    def _make_input(self, pull_up: bool) -> None:
        with self._factory._config_lock:
            try:
                self._factory.expander.configure_input(self._number, pull_up=pull_up)
            except GP7InputError as exc:
                raise ExpanderGP7InputError(
                    f"{self!r} cannot be an input: {exc} For an input device use another pin; "
                    f"{self._info.name} is fine as an output (LED, DigitalOutputDevice)."
                ) from exc
            self._factory._set_pullup(self._bit, pull_up)
            self._factory._set_output(self._bit, False)
            self._factory._watch_changed()

    # ---------------------------------------------------------------- pull
    def _get_pull(self) -> str:
        return "up" if self._factory._pullups & self._bit else "floating"

    def _set_pull(self, value: str) -> None:
        pull_up = _pull_up(self, value)
        if not self._is_input():
            # As gpiozero's own pins: a pull only means something on an input.
            raise PinFixedPull(f"cannot set the pull of output pin {self!r}")
        with self._factory._config_lock:
            pullups = self._factory._pullups
            mask = pullups | self._bit if pull_up else pullups & ~self._bit
            self._factory.expander.set_pullups(mask)
            self._factory._set_pullup(self._bit, pull_up)

    # ---------------------------------------------------------------- edges, bounce
    def _get_bounce(self) -> float | None:
        return self._bounce

    def _set_bounce(self, value: Any) -> None:
        if value is not None:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise PinInvalidBounce(f"{self!r}: bounce must be None or seconds") from None
            if value < 0:
                raise PinInvalidBounce(f"{self!r}: bounce must be 0 or more seconds")
        self._bounce = value or None

    def _get_edges(self) -> str:
        return self._edges

    def _set_edges(self, value: str) -> None:
        if value not in EDGES:
            raise PinInvalidEdges(f"{self!r}: edges must be one of {', '.join(EDGES)}")
        self._edges = value
        self._factory._watch_changed()

    def _get_when_changed(self) -> Callable[[float, bool], Any] | None:
        return None if self._when_changed is None else self._when_changed()

    def _set_when_changed(self, value: Callable[[float, bool], Any] | None) -> None:
        # Weak references, as gpiozero's PiPin does: a device's bound method must not keep the
        # device alive (its __del__ closes it). The price, as with PiPin, is that a lambda or
        # closure nobody else holds is collected at once and never fires.
        if value is None:
            self._when_changed = None
        elif isinstance(value, MethodType):
            self._when_changed = weakref.WeakMethod(value)
        else:
            self._when_changed = weakref.ref(value)
        self._factory._watch_changed()

    def _watching(self) -> bool:
        return self._when_changed is not None and self._edges != "none" and self._is_input()

    def _call_when_changed(self, ticks: float, state: bool) -> None:
        ref = self._when_changed
        method = None if ref is None else ref()
        if method is None:
            if ref is not None:
                self.when_changed = None  # its owner is gone: stop the chip interrupting for it
            return
        method(ticks, state)

    # ---------------------------------------------------------------- close
    def close(self) -> None:
        """Back to the safe state: a floating input with its interrupt disabled. GPA7/GPB7
        cannot be inputs (rev D erratum), so they go back to what ``ExpanderConfig`` gives them
        by default instead: an output driven low."""
        try:
            self.when_changed = None
            self._edges, self._bounce = "both", None
            if self._number in OUTPUT_ONLY_PINS and not _gp7_inputs_allowed(self._factory):
                self.output_with_state(False)
            else:
                self._make_input(False)
        except OSError as exc:
            # Closing runs from __del__ and at interpreter exit; an unplugged fixture must not
            # turn cleanup into a traceback. The chip is re-initialised on the next start anyway.
            warnings.warn(ExpanderPinWarning(f"could not return {self!r} to input: {exc}"),
                          stacklevel=2)


def _pull_up(pin: ExpanderPin, pull: str) -> bool:
    if pull == "down":
        raise PinInvalidPull(
            f"{pin!r}: the MCP23017 has no pull-down resistors, only pull-ups. With an external "
            "pull-down use pull_up=None, active_state=True (e.g. "
            f"Button('{pin.info.name}', pull_up=None, active_state=True))."
        )
    if pull not in ("up", "floating"):
        raise PinInvalidPull(f"{pin!r}: pull must be 'up' or 'floating', not {pull!r}")
    return pull == "up"


def _gp7_inputs_allowed(factory: ExpanderFactory) -> bool:
    return bool(getattr(factory.expander, "allow_gp7_input", False))
