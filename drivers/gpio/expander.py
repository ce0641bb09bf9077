"""A gpiozero pin factory for MCP23017 pins: ``LED('GPB0', pin_factory=ExpanderFactory(...))``.

Built on gpiozero's bare ``Factory``/``Pin`` classes, not on ``PiFactory``:
the pins are named after the datasheet (GPA0..GPB7, or 0..15) and nothing about a Pi revision or
its fixed pull-ups leaks in. gpiozero's default reservation logic then works unchanged, so a
second device on a pin raises ``GPIOPinInUse``.

Edge detection is done the way an I2C expander has to be: by **servicing its INT line**. The
chip runs with MIRROR (one line reports both ports), open-drain and active-low by default, so
several chips could share a Pi GPIO with its pull-up. On the Pi pin's active edge one sequential
read takes INTF, INTCAP and GPIO for both ports (it also clears both), the pins whose INTF bit is
set get ``when_changed`` with the **Pi-side edge timestamp** (with lgpio that is the kernel's
CLOCK_MONOTONIC stamp; the callback itself may run milliseconds later), and the line's
level is checked again so a change that arrived during the read is not lost. Without an
INT line the same read is made every ``poll_interval`` instead; INTF/INTCAP then still catch a
pulse shorter than the interval.

Time never comes from ``time.time()``: ``ticks`` are the Pi factory's, and anything that has to
happen later (polls, bounce settling, a retry after a failed read) is scheduled on an injectable
clock. With a :class:`~drivers.clock.SimClock` nothing runs in a thread, so tests advance time
instead of sleeping.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from gpiozero.exc import PinInvalidPin
from gpiozero.pins import BoardInfo, Factory, Pin, PinInfo

from drivers.gpio.expander_board import expander_board_info
from drivers.gpio.expander_pin import (
    EDGES,
    ExpanderGP7InputError,
    ExpanderPin,
    ExpanderPinWarning,
)
from drivers.mcp23017.config import ExpanderConfig
from drivers.mcp23017.protocol import Expander

DEFAULT_POLL_INTERVAL = 0.01  # 100 polls/s of 9 wire bytes: about 2 % of a 400 kHz bus
# A line still active after this many re-checks in a row is stuck (e.g. a pin left in
# compare-to-DEFVAL mode by other code): stop servicing it rather than hog the bus forever.
MAX_RECHECKS = 16
# Bounce windows are compared with this slack: ticks are floats (1000.05 - 1000.0 < 0.05), and
# a settle check scheduled for the window's end must find the window over.
_BOUNCE_SLACK = 1e-9


class Scheduler(Protocol):
    """What the factory needs from a clock to do things later: :class:`SimClock` has it."""

    def schedule_in(self, delay: float, callback: Callable[[], None]) -> None: ...


class _IntLineClaim:
    """Holds the Pi pin carrying INT in the Pi factory's reservations, so a ``Button`` on that
    GPIO raises ``GPIOPinInUse`` instead of silently stealing the line's ``when_changed``."""

    def __init__(self, owner: str) -> None:
        self._owner = owner

    def _conflicts_with(self, other: Any) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<INT line of {self._owner}>"


class ExpanderFactory(Factory):
    """gpiozero pins on one MCP23017.

    ``expander``: any :class:`~drivers.mcp23017.protocol.Expander`. The factory owns the chip:
    it brings it to ``config`` (default ``ExpanderConfig()``: inputs, GPA7/GPB7 outputs low)
    and keeps its own record of directions, pull-ups and latch, so other code must not
    reconfigure the chip behind its back.

    ``ticks_from``: the Pi's gpiozero factory; ``ticks()`` are its ticks, so timestamps from
    expander pins and Pi pins can be subtracted.

    ``int_pin``: a gpiozero pin of ``ticks_from`` wired to INTA or INTB (MIRROR makes either
    serve both ports). Open-drain active-low by default (the Pi pin's pull-up is enabled); with
    ``int_open_drain=False`` the chip drives the line push-pull, active-low or
    ``int_active_high``. Without it, inputs with ``when_changed`` are polled every
    ``poll_interval`` seconds.

    ``clock``: where polls, bounce settling and retries are scheduled. Anything with
    ``schedule_in(delay, fn)`` (a :class:`~drivers.clock.SimClock`: nothing runs until the
    clock is advanced); None takes ``ticks_from.clock`` if it is one (``SimPiFactory``),
    otherwise a daemon thread and timers on real time.
    """

    def __init__(
        self,
        expander: Expander,
        *,
        ticks_from: Factory,
        int_pin: Pin | None = None,
        int_open_drain: bool = True,
        int_active_high: bool = False,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        config: ExpanderConfig | None = None,
        clock: Scheduler | None = None,
    ) -> None:
        super().__init__()
        if int_open_drain and int_active_high:
            raise ValueError("an open-drain INT line is always active-low (INTPOL is ignored)")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, not {poll_interval}")
        if int_pin is not None and getattr(int_pin, "factory", ticks_from) is not ticks_from:
            # The edge ticks come from the INT pin's factory; they must be ours too.
            raise ValueError("int_pin must be a pin of the ticks_from factory")
        self.expander = expander
        self._ticks_from = ticks_from
        self.poll_interval = float(poll_interval)
        if clock is None:
            candidate = getattr(ticks_from, "clock", None)
            clock = candidate if hasattr(candidate, "schedule_in") else None
        self._clock = clock
        self._board_info = expander_board_info(expander.address)
        self.pins: dict[PinInfo, ExpanderPin] = {}
        # _lock guards edge bookkeeping and is never held across bus I/O (in simulation a bus
        # transaction ends by delivering INT to the Pi pin, i.e. into this factory).
        # _config_lock serialises writes (latch, directions, pulls, GPINTEN), which do I/O;
        # the service path never takes it.
        self._lock = threading.RLock()
        self._config_lock = threading.RLock()
        self._servicing = False
        self._pending_edge: float | None = None
        self._recheck_scheduled = False
        self._rechecks = 0
        self._closed = False
        self._poller: _PollThread | None = None
        self._poll_generation = 0
        self._polling = False

        config = config or ExpanderConfig()
        # The factory owns GPINTEN/INTCON: compare-to-previous, nothing enabled until a pin
        # gets a when_changed. MIRROR: one Pi GPIO serves both ports.
        config = config._replace(
            interrupt_enable=0, interrupt_compare=0, interrupt_defval=0,
            **({"mirror": True, "open_drain": int_open_drain, "active_high": int_active_high}
               if int_pin is not None else {}),
        )
        expander.init(config)
        self._outputs = config.outputs
        self._pullups = config.pullups
        self._latch = config.output_levels
        self._gpinten = 0

        self._int_pin = int_pin
        self._int_active_level = bool(int_active_high)
        self._int_claim: _IntLineClaim | None = None
        if int_pin is not None:
            self._attach_int_pin(int_pin, int_open_drain)

    def __repr__(self) -> str:
        source = f"INT on {self._int_pin.info.name}" if self._int_pin is not None else (
            f"polled every {self.poll_interval * 1000:g} ms")
        return f"<ExpanderFactory {self.expander!r}, {source}>"

    # ---------------------------------------------------------------- gpiozero Factory API
    def _get_board_info(self) -> BoardInfo:
        return self._board_info

    def pin(self, name: Any) -> ExpanderPin:
        for _header, info in self._board_info.find_pin(name):
            with self._lock:
                pin = self.pins.get(info)
                if pin is None:
                    pin = self.pins[info] = ExpanderPin(self, info)
            return pin
        raise PinInvalidPin(f"{name!r} is not an MCP23017 pin: use GPA0..GPB7 or 0..15")

    def ticks(self) -> float:
        return self._ticks_from.ticks()

    def ticks_diff(self, later: float, earlier: float) -> float:
        return self._ticks_from.ticks_diff(later, earlier)

    def close(self) -> None:
        if self._closed:
            return
        for pin in list(self.pins.values()):
            pin.close()
        self._closed = True
        self._stop_polling()
        if self._int_pin is not None:
            self._int_pin.when_changed = None
            if self._int_claim is not None:
                self._int_pin.factory.release_pins(self._int_claim, self._int_pin.info.name)
                self._int_claim = None
        self.pins.clear()

    # ---------------------------------------------------------------- record of what we wrote
    def _set_output(self, bit: int, output: bool) -> None:
        self._outputs = self._outputs | bit if output else self._outputs & ~bit

    def _set_pullup(self, bit: int, on: bool) -> None:
        self._pullups = self._pullups | bit if on else self._pullups & ~bit

    def _set_latch(self, bit: int, level: bool) -> None:
        self._latch = self._latch | bit if level else self._latch & ~bit

    # ---------------------------------------------------------------- which pins are watched
    def _watch_changed(self) -> None:
        """A pin's when_changed/edges/direction changed: GPINTEN follows the set of watched
        inputs (only pins somebody listens to may pull INT), new watchers get a baseline, and
        the poller runs only while there is something to poll."""
        if self._closed:
            return
        with self._config_lock:
            with self._lock:
                mask = 0
                need_baseline = False
                for pin in self.pins.values():
                    if pin._watching():
                        mask |= pin._bit
                        need_baseline |= pin._level is None
                    else:
                        pin._forget_edges()
            if mask != self._gpinten:
                self.expander.configure_interrupts(mask)
                self._gpinten = mask
        if need_baseline:
            self._run_service(self.ticks())
        if self._int_pin is None:
            if mask:
                self._start_polling()
            else:
                self._stop_polling()

    # ---------------------------------------------------------------- INT line
    def _attach_int_pin(self, int_pin: Pin, open_drain: bool) -> None:
        claim = _IntLineClaim(repr(self.expander))
        int_pin.factory.reserve_pins(claim, int_pin.info.name)
        self._int_claim = claim
        int_pin.function = "input"
        # Open drain: nothing drives the line high but a pull-up; the Pi's is enough for one
        # chip. Push-pull: the chip drives both levels, a pull would only waste current.
        wanted_pull = "up" if open_drain else "floating"
        if int_pin.pull != wanted_pull:
            int_pin.pull = wanted_pull
        int_pin.bounce = None  # a debounce would delay the edge's timestamp
        int_pin.edges = "rising" if self._int_active_level else "falling"
        # A bound method, held weakly by the Pi pin: the factory's lifetime decides.
        int_pin.when_changed = self._int_edge
        if self._int_line_active():
            # Active already (a capture left from before init's clearing read, or another chip
            # on a shared line): service now, or no edge ever comes.
            self._int_edge(self.ticks())

    def _int_line_active(self) -> bool:
        return self._int_pin is not None and bool(self._int_pin.state) == self._int_active_level

    def _int_edge(self, ticks: float, state: Any = None) -> None:
        """The Pi pin's active edge: service with the edge's timestamp."""
        with self._lock:
            self._rechecks = 0  # the line was inactive in between: it is not stuck
        self._service_int(ticks)

    def _service_int(self, ticks: float) -> None:
        try:
            self._run_service(ticks)
        except OSError as exc:
            # INT stays active until a read succeeds, and an edge-triggered Pi pin will not
            # report it again: retry later with the original timestamp (the chip's INTCAP still
            # holds that edge's capture).
            warnings.warn(ExpanderPinWarning(
                f"{self!r}: servicing INT failed ({exc}); retrying in {self.poll_interval}s"),
                stacklevel=2)
            self._schedule(self.poll_interval, lambda: self._retry(ticks))
            return
        if self._int_line_active():
            self._schedule_recheck()

    def _retry(self, ticks: float) -> None:
        if not self._closed and self._int_line_active():
            self._service_int(ticks)

    def _schedule_recheck(self) -> None:
        # Still active after a service: a change came in during the read, and the line may
        # never have gone inactive, so no new edge will come. Look again once the
        # current callback has returned rather than in a loop here: the Pi pin may not show
        # the release yet (in simulation the chip delivers INT changes one at a time, so the
        # release caused by our own read arrives after this callback returns).
        with self._lock:
            if self._recheck_scheduled or self._closed:
                return
            self._recheck_scheduled = True
        self._schedule(0.0, self._recheck)

    def _recheck(self) -> None:
        with self._lock:
            self._recheck_scheduled = False
            if self._closed:
                return
            if not self._int_line_active():
                self._rechecks = 0
                return
            self._rechecks += 1
            stuck = self._rechecks > MAX_RECHECKS
        if stuck:
            # Give up rather than hog the bus: something holds INT (a pin left in
            # compare-to-DEFVAL mode by other code, a shorted line). The next edge resets this.
            warnings.warn(ExpanderPinWarning(
                f"{self!r}: INT still active after {MAX_RECHECKS} services"), stacklevel=2)
            return
        # The change's real time is unknown (no edge); now is the earliest we can vouch for.
        self._service_int(self.ticks())

    # ---------------------------------------------------------------- servicing
    def poll(self) -> None:
        """Service the chip now, as a poll would (ticks: now). Public so a caller with its own
        loop, or a test, can drive polling without the poller."""
        self._run_service(self.ticks())

    def _run_service(self, ticks: float) -> None:
        """Service once, and again for every edge that arrived meanwhile. Exactly one caller
        services at a time: whoever arrives during it (another thread, or this one re-entered
        from a when_changed callback) leaves its edge's ticks for the running loop."""
        with self._lock:
            if self._servicing:
                if self._pending_edge is None:
                    self._pending_edge = ticks
                return
            self._servicing = True
        try:
            while True:
                self._dispatch(self._service_once(ticks))
                with self._lock:
                    if self._pending_edge is None:
                        self._servicing = False
                        return
                    ticks, self._pending_edge = self._pending_edge, None
        except BaseException:
            with self._lock:
                self._servicing = False
            raise

    def _service_once(self, t_edge: float) -> list[tuple[ExpanderPin, float, bool]]:
        # One transaction: INTF A/B, INTCAP A/B, GPIO A/B. Reading INTCAP clears both ports
        # (needed with MIRROR: the line is the OR of the two).
        snapshot = self.expander.service_interrupt(include_gpio=True)
        t_read = self.ticks()
        events: list[tuple[ExpanderPin, float, bool]] = []
        with self._lock:
            watched = sorted((p for p in self.pins.values() if p._watching()),
                             key=lambda p: p._number)
            for pin in watched:
                now_level = bool(snapshot.gpio >> pin._number & 1)
                if pin._level is None:
                    pin._level = pin._reported = now_level  # baseline: nothing to report
                    continue
                if snapshot.flags & pin._bit:
                    captured = bool(snapshot.captured >> pin._number & 1)
                    if captured == pin._level:
                        # Flagged, yet captured at the level we already had: an earlier
                        # interrupt was cleared by a plain GPIO read (a state query) before
                        # we saw it. The pin went away and came back; report both halves.
                        self._observe(pin, not captured, t_edge, events)
                    self._observe(pin, captured, t_edge, events)
                # Changes after the capture, or on a port whose interrupt was already pending
                # (no new INTF/INTCAP then), only show in GPIO.
                self._observe(pin, now_level, t_read, events)
                self._settle(pin, t_read, events)
        return events

    def _observe(self, pin: ExpanderPin, level: bool, ticks: float,
                 events: list[tuple[ExpanderPin, float, bool]]) -> None:
        if level == pin._level:
            return
        pin._level = level
        bounce = pin._bounce
        if bounce and pin._last_change is not None and (
                self.ticks_diff(ticks, pin._last_change) < bounce - _BOUNCE_SLACK):
            # Software bounce (gpiozero's contract for edge-detecting pins): ignore changes for
            # ``bounce`` after a reported one. Remember this one: if the pin settles at a
            # level other than the reported one, it is reported once the window is over.
            pin._unsettled = ticks
            self._schedule_settle(pin)
            return
        self._report(pin, level, ticks, events)

    def _settle(self, pin: ExpanderPin, now: float,
                events: list[tuple[ExpanderPin, float, bool]]) -> None:
        if pin._unsettled is None or pin._last_change is None or pin._bounce is None:
            return
        if self.ticks_diff(now, pin._last_change) < pin._bounce - _BOUNCE_SLACK:
            return  # the scheduled settle check comes later
        if pin._level != pin._reported:
            self._report(pin, bool(pin._level), pin._unsettled, events)
        pin._unsettled = None

    @staticmethod
    def _report(pin: ExpanderPin, level: bool, ticks: float,
                events: list[tuple[ExpanderPin, float, bool]]) -> None:
        pin._unsettled = None
        if level == pin._reported:
            return
        pin._reported = level
        # Every reported change opens a bounce window, including ones ``edges`` filters out:
        # a release's bounce must not look like a new press to a 'falling' listener.
        pin._last_change = ticks
        if pin._edges == "both" or (pin._edges == "rising") == level:
            events.append((pin, ticks, level))

    @staticmethod
    def _dispatch(events: list[tuple[ExpanderPin, float, bool]]) -> None:
        # Outside the lock: a callback may well write to the expander.
        for pin, ticks, level in events:
            pin._call_when_changed(ticks, level)

    def _schedule_settle(self, pin: ExpanderPin) -> None:
        if pin._settle_pending or pin._last_change is None or pin._bounce is None:
            return
        pin._settle_pending = True
        delay = max(0.0, pin._bounce - self.ticks_diff(self.ticks(), pin._last_change))

        def settle() -> None:
            pin._settle_pending = False
            if not self._closed and pin._watching():
                self._run_service(self.ticks())
                with self._lock:
                    # A change reported meanwhile moved the window; a later swallowed change
                    # then needs a check at the new window's end.
                    if pin._unsettled is not None:
                        self._schedule_settle(pin)

        self._schedule(delay, settle)

    # ---------------------------------------------------------------- time
    def _schedule(self, delay: float, fn: Callable[[], None]) -> None:
        if self._clock is not None:
            self._clock.schedule_in(delay, fn)
        else:
            timer = threading.Timer(delay, fn)
            timer.daemon = True
            timer.start()

    def _start_polling(self) -> None:
        with self._lock:
            if self._polling or self._closed:
                return
            self._polling = True
            self._poll_generation += 1
            generation = self._poll_generation
        if self._clock is None:
            self._poller = _PollThread(self, self.poll_interval)
            self._poller.start()
            return
        # On a simulated clock: a self-rescheduling event, stopped by bumping the generation.
        factory_ref = weakref.ref(self)
        interval = self.poll_interval
        clock = self._clock

        def tick() -> None:
            factory = factory_ref()
            if factory is None or factory._poll_generation != generation or factory._closed:
                return
            factory.poll()
            clock.schedule_in(interval, tick)

        clock.schedule_in(interval, tick)

    def _stop_polling(self) -> None:
        with self._lock:
            if not self._polling:
                return
            self._polling = False
            self._poll_generation += 1
            poller, self._poller = self._poller, None
        if poller is not None:
            poller.stop()

    @property
    def polling(self) -> bool:
        return self._polling


class _PollThread(threading.Thread):
    """Real-time poller. Holds the factory weakly, so a factory nobody closed can still be
    collected (and the thread then ends)."""

    def __init__(self, factory: ExpanderFactory, interval: float) -> None:
        super().__init__(name=f"expander-poll-0x{factory.expander.address:02x}", daemon=True)
        self._factory = weakref.ref(factory)
        self._interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self._interval):
            factory = self._factory()
            if factory is None:
                return
            try:
                factory.poll()
            except OSError as exc:
                # A glitch on the bus must not kill edge detection for good: next poll retries.
                warnings.warn(ExpanderPinWarning(f"{factory!r}: poll failed: {exc}"),
                              stacklevel=1)
            del factory

    def stop(self) -> None:
        self._stopping.set()
        if threading.current_thread() is not self:
            self.join()


__all__ = ["EDGES", "ExpanderFactory", "ExpanderGP7InputError", "ExpanderPin",
           "ExpanderPinWarning", "expander_board_info"]
