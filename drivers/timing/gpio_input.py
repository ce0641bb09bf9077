"""The pulse timing's input on a gpiozero pin factory (lgpio on the Pi, ``MockFactory`` in tests).

A simulated station uses :class:`~drivers.gpio.sim_lines.SimInput` instead, with the same edge
listeners, so it never loads gpiozero.
"""

from __future__ import annotations

from gpiozero import DigitalInputDevice

from drivers.timing.pulses import EdgeListener


class TimestampedInput(DigitalInputDevice):
    """A ``DigitalInputDevice`` that also passes every edge's ``(ticks, level)`` to listeners.

    The device keeps its own ``when_changed`` on the pin (so ``when_activated`` and friends keep
    working); listeners are held strongly, unlike gpiozero's weakly held handlers. Defaults suit
    a push-pull output such as a 555: no pull, active high, no debounce (debounce would delay
    timestamps and swallow short pulses).
    """

    def __init__(
        self,
        pin=None,
        *,
        pull_up: bool | None = None,
        active_state: bool | None = True,
        bounce_time: float | None = None,
        pin_factory=None,
    ) -> None:
        self._edge_listeners: list[EdgeListener] = []
        super().__init__(
            pin,
            pull_up=pull_up,
            active_state=active_state,
            bounce_time=bounce_time,
            pin_factory=pin_factory,
        )

    def add_edge_listener(self, fn: EdgeListener) -> None:
        self._edge_listeners.append(fn)

    def remove_edge_listener(self, fn: EdgeListener) -> None:
        self._edge_listeners.remove(fn)

    def _pin_changed(self, ticks, state) -> None:
        super()._pin_changed(ticks, state)
        for listener in list(self._edge_listeners):
            listener(ticks, bool(state))
