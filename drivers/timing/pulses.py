"""Pulse timing on a GPIO input: pure edge-list statistics, and the gpiozero capture around them.

Every time comes from the pin factory's edge timestamps (``ticks``: kernel IRQ time with lgpio,
simulated time with :class:`~drivers.gpio.pi.SimPiFactory`), never from when a callback ran, and
every difference goes through ``factory.ticks_diff``. Waiting goes through a
:class:`~drivers.clock.Clock`, so the same code measures a real 555 or a simulated one in
milliseconds.

One cycle is pulse start → pulse end → next pulse start; ``polarity`` says which level is the
pulse. Edges before the first pulse start (a partial pulse) are ignored.
"""

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from drivers.clock import Clock
from drivers.named_tuple import NamedTuple
from drivers.timing import exact_stats
from drivers.timing.ne555 import POLARITIES, Polarity

TicksDiff = Callable[[float, float], float]

# A healthy astable is never silent for longer than its longer phase (< one period). Waiting
# 1.5 periods absorbs drift beyond the expected maximum and callback lag, and still fails fast.
SILENCE_PERIODS = 1.5
# Worst case from an arbitrary start: up to one period until the first pulse start, then N cycles.
# The extra half period is the same margin as above.
DEADLINE_EXTRA_PERIODS = 1.5
# Ticks are float seconds with 1 ns resolution at best; closer than that counts as equal, which
# also keeps settle-time arithmetic from stalling on float rounding.
_TICK_EPSILON = 1e-9


def _subtract(later: float, earlier: float) -> float:
    return later - earlier


# NamedTuples, not frozen dataclasses: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class Edge(NamedTuple):
    """One reported level change: the factory's ``ticks`` and the level the line went to."""

    ticks: float
    level: bool


class Cycle(NamedTuple):
    """One complete cycle, as edge ticks plus the durations derived from them (seconds)."""

    start: float
    pulse_end: float
    end: float
    pulse_width: float
    gap: float

    @property
    def period(self) -> float:
        return self.pulse_width + self.gap

    @property
    def duty(self) -> float:
        return self.pulse_width / self.period


class EdgeAnalysis(NamedTuple):
    """The cycles found in an edge list, and what was dropped or lost on the way."""

    cycles: tuple[Cycle, ...]
    glitches_dropped: int
    lost_edges: int
    # Newest edges held back because a later edge could still make them a glitch.
    unsettled: tuple[Edge, ...] = ()


class Summary(NamedTuple):
    """Statistics of one quantity; ``std`` is the *sample* standard deviation (n − 1)."""

    min: float
    mean: float
    max: float
    std: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Summary":
        if not values:
            raise ValueError("no values to summarise")
        # (statistics' own results, without importing fractions and decimal: exact_stats.py)
        std = exact_stats.stdev(values) if len(values) > 1 else 0.0
        return cls(min(values), exact_stats.fmean(values), max(values), std)


class PulseStats(NamedTuple):
    """The result of one measurement over ``n`` cycles."""

    n: int
    pulse_width: Summary
    gap: Summary
    period: Summary
    duty: Summary
    cycles: tuple[Cycle, ...]
    edges: tuple[Edge, ...]  # raw, as reported, before glitch filtering
    glitches_dropped: int
    lost_edges: int
    time_to_verdict: float  # clock seconds from measure() to the verdict
    first_edge_to_verdict: float  # ticks seconds from the first reported edge to the verdict

    @classmethod
    def from_cycles(
        cls,
        cycles: Sequence[Cycle],
        *,
        edges: Sequence[Edge] = (),
        glitches_dropped: int = 0,
        lost_edges: int = 0,
        time_to_verdict: float = 0.0,
        first_edge_to_verdict: float = 0.0,
    ) -> "PulseStats":
        return cls(
            n=len(cycles),
            pulse_width=Summary.of([c.pulse_width for c in cycles]),
            gap=Summary.of([c.gap for c in cycles]),
            period=Summary.of([c.period for c in cycles]),
            duty=Summary.of([c.duty for c in cycles]),
            cycles=tuple(cycles),
            edges=tuple(edges),
            glitches_dropped=glitches_dropped,
            lost_edges=lost_edges,
            time_to_verdict=time_to_verdict,
            first_edge_to_verdict=first_edge_to_verdict,
        )


# --- Pure edge-list analysis ----------------------------------------------------------------


def filter_glitches(
    edges: Sequence[Edge], glitch_filter: float, ticks_diff: TicksDiff = _subtract
) -> tuple[list[Edge], int]:
    """Drop both edges of every pulse or gap shorter than ``glitch_filter`` seconds.

    Returns the surviving edges and the number of glitches (edge pairs) dropped.
    """
    kept: list[Edge] = []
    dropped = 0
    for edge in edges:
        if (
            kept
            and edge.level != kept[-1].level
            and ticks_diff(edge.ticks, kept[-1].ticks) < glitch_filter
        ):
            kept.pop()
            dropped += 1
        else:
            kept.append(edge)
    return kept, dropped


def extract_cycles(
    edges: Sequence[Edge], polarity: Polarity, ticks_diff: TicksDiff = _subtract
) -> tuple[list[Cycle], int]:
    """Complete cycles in ``edges``, and how many lost edges were detected.

    Two reports of the same level in a row mean an edge was lost in between: the cycle it
    belongs to can't be measured, so resynchronise on the next pulse start.
    """
    pulse_level = polarity == "high"
    cycles: list[Cycle] = []
    lost_edges = 0
    pulse_start: float | None = None
    pulse_end: float | None = None
    previous_level: bool | None = None
    for edge in edges:
        if edge.level == previous_level:
            lost_edges += 1
            pulse_start = pulse_end = None
        previous_level = edge.level
        if edge.level == pulse_level:
            if pulse_start is not None and pulse_end is not None:
                cycles.append(
                    Cycle(
                        start=pulse_start,
                        pulse_end=pulse_end,
                        end=edge.ticks,
                        pulse_width=ticks_diff(pulse_end, pulse_start),
                        gap=ticks_diff(edge.ticks, pulse_end),
                    )
                )
            pulse_start, pulse_end = edge.ticks, None
        elif pulse_start is not None:
            pulse_end = edge.ticks
    return cycles, lost_edges


def analyse_edges(
    edges: Sequence[Edge],
    polarity: Polarity,
    *,
    glitch_filter: float = 0.0,
    ticks_diff: TicksDiff = _subtract,
    now: float | None = None,
) -> EdgeAnalysis:
    """Glitch-filter then cut ``edges`` into cycles.

    With ``now`` (in ticks), edges younger than ``glitch_filter`` are left out: a later edge could
    still turn them into a glitch. Only the newest edges can be that young, and an older edge can
    no longer be cancelled, so the result never changes retroactively.
    """
    kept, glitches = filter_glitches(edges, glitch_filter, ticks_diff)
    settled = len(kept)
    if now is not None:
        while settled and ticks_diff(now, kept[settled - 1].ticks) < glitch_filter - _TICK_EPSILON:
            settled -= 1
    cycles, lost_edges = extract_cycles(kept[:settled], polarity, ticks_diff)
    return EdgeAnalysis(tuple(cycles), glitches, lost_edges, tuple(kept[settled:]))


# --- Errors ------------------------------------------------------------------------------


class PulseMeasurementError(Exception):
    """A pulse measurement could not produce a result."""


class NoPulsesError(PulseMeasurementError):
    """Not a single edge arrived: the keep-alive is dead (or not wired to this input)."""

    def __init__(self, pin_name: str, timeout: float, expected_period: float) -> None:
        super().__init__(
            f"no pulses on {pin_name} within {timeout:.1f} s "
            f"(expected period {expected_period:.1f} s)"
        )
        self.pin_name = pin_name
        self.timeout = timeout
        self.expected_period = expected_period


class TooFewCyclesError(PulseMeasurementError):
    """Edges arrived but fewer than the wanted complete cycles; carries what was measured."""

    def __init__(
        self,
        message: str,
        *,
        wanted: int,
        analysis: EdgeAnalysis,
        edges: Sequence[Edge],
    ) -> None:
        super().__init__(message)
        self.wanted = wanted
        self.got = len(analysis.cycles)
        self.analysis = analysis
        self.edges = tuple(edges)
        # Partial statistics are still useful evidence in a test report.
        self.stats: PulseStats | None = (
            PulseStats.from_cycles(
                analysis.cycles,
                edges=edges,
                glitches_dropped=analysis.glitches_dropped,
                lost_edges=analysis.lost_edges,
            )
            if analysis.cycles
            else None
        )


# --- the inputs it listens to ---------------------------------------------------------------


EdgeListener = Callable[[float, bool], None]


def __getattr__(name: str):
    # TimestampedInput is a gpiozero device: loaded with gpiozero, only by who uses it (a
    # simulated station listens to drivers.gpio.sim_lines inputs and never loads gpiozero).
    if name == "TimestampedInput":
        from drivers.timing.gpio_input import TimestampedInput

        return TimestampedInput
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PulseCapture:
    """Measure ``cycles`` complete cycles of a periodic signal on one input.

    ``source`` is an input with edge listeners (a :class:`TimestampedInput`, or a simulated
    station's :class:`~drivers.gpio.sim_lines.SimInput`), or a bare gpiozero ``Pin`` that no
    device owns (its ``when_changed`` is then this capture's, and lives as long as the capture
    does).
    ``expected_period`` is the longest period a good unit can have (e.g. the upper period limit):
    it sets the deadlines. ``glitch_filter`` merges away pulses and gaps shorter than it.
    """

    def __init__(
        self,
        source: Any,
        *,
        polarity: Polarity,
        cycles: int,
        expected_period: float,
        clock: Clock,
        glitch_filter: float = 0.0,
        name: str | None = None,
    ) -> None:
        _validate(polarity, cycles, expected_period, glitch_filter)
        self.polarity: Polarity = polarity
        self.cycles = cycles
        self.expected_period = float(expected_period)
        self.glitch_filter = float(glitch_filter)
        self._clock = clock
        self._source = source  # a strong reference keeps an inline device (and its handler) alive
        self._edges: list[Edge] = []
        self._lock = threading.Lock()
        self._recording = False
        pin = self._attach(source)
        self._factory = pin.factory
        self.name = name or getattr(getattr(pin, "info", None), "name", None) or repr(pin)

    @property
    def silence_timeout(self) -> float:
        """Longest wait for the first edge, and longest gap between edges, before giving up."""
        return SILENCE_PERIODS * self.expected_period

    @property
    def overall_timeout(self) -> float:
        # The last edge is only final once it has outlived the glitch filter.
        return (self.cycles + DEADLINE_EXTRA_PERIODS) * self.expected_period + self.glitch_filter

    def measure(self) -> PulseStats:
        """Block until ``cycles`` complete cycles are measured, or raise at the deadline."""
        with self._lock:
            self._edges.clear()
            self._recording = True
        start = self._clock.now()
        try:
            if not self._clock.wait_until(self._has_edges, start + self.silence_timeout):
                raise NoPulsesError(self.name, self.silence_timeout, self.expected_period)
            analysis = self._wait_for_cycles(start)
        finally:
            with self._lock:
                self._recording = False
        edges = self._snapshot()
        return PulseStats.from_cycles(
            analysis.cycles[: self.cycles],
            edges=edges,
            glitches_dropped=analysis.glitches_dropped,
            lost_edges=analysis.lost_edges,
            time_to_verdict=self._clock.now() - start,
            first_edge_to_verdict=self._factory.ticks_diff(self._factory.ticks(), edges[0].ticks),
        )

    def close(self) -> None:
        if hasattr(self._source, "remove_edge_listener"):
            with contextlib.suppress(ValueError):  # already closed
                self._source.remove_edge_listener(self._on_edge)
        elif self._source.when_changed == self._on_edge:
            self._source.when_changed = None

    def __enter__(self) -> "PulseCapture":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _attach(self, source: Any) -> Any:
        if hasattr(source, "add_edge_listener"):  # an input that tells its edges
            source.add_edge_listener(self._on_edge)
            return source.pin
        from gpiozero import DigitalInputDevice, Pin  # (a gpiozero object: gpiozero is loaded)

        if isinstance(source, DigitalInputDevice):
            raise TypeError(
                "a plain DigitalInputDevice owns its pin's when_changed; "
                "build the input as a TimestampedInput instead"
            )
        if isinstance(source, Pin):
            if source.when_changed is not None:
                raise ValueError(f"{source!r} already has a when_changed handler (a device?)")
            source.edges = "both"
            source.when_changed = self._on_edge
            return source
        raise TypeError(f"cannot capture pulses from {source!r}")

    def _on_edge(self, ticks: float, level) -> None:
        # Runs in the event thread (lgpio's, or the SimClock's): record and wake, nothing more.
        with self._lock:
            if not self._recording:
                return
            self._edges.append(Edge(ticks, bool(level)))
        self._clock.notify()

    def _has_edges(self) -> bool:
        with self._lock:
            return bool(self._edges)

    def _snapshot(self) -> list[Edge]:
        with self._lock:
            return list(self._edges)

    def _wait_for_cycles(self, start: float) -> EdgeAnalysis:
        deadline = start + self.overall_timeout
        ticks_diff = self._factory.ticks_diff
        while True:
            edges = self._snapshot()
            now_ticks = self._factory.ticks()
            analysis = analyse_edges(
                edges,
                self.polarity,
                glitch_filter=self.glitch_filter,
                ticks_diff=ticks_diff,
                now=now_ticks,
            )
            if len(analysis.cycles) >= self.cycles:
                return analysis
            now = self._clock.now()
            silence = ticks_diff(now_ticks, edges[-1].ticks)
            if silence >= self.silence_timeout - _TICK_EPSILON:
                self._fail(analysis, edges, f"signal stopped: no edge for {silence:.1f} s")
            if now >= deadline:
                self._fail(analysis, edges, f"deadline of {self.overall_timeout:.1f} s reached")
            # Sleep until the next thing that could change the answer: a new edge, the newest
            # edge outliving the glitch filter, the signal being declared stopped, the deadline.
            wake = min(deadline, now + self.silence_timeout - silence)
            if analysis.unsettled:
                age = ticks_diff(now_ticks, analysis.unsettled[0].ticks)
                wake = min(wake, now + self.glitch_filter - age)
            # Each of those is more than _TICK_EPSILON away; never let rounding wake us at `now`.
            wake = max(wake, now + _TICK_EPSILON)
            seen = len(edges)
            self._clock.wait_until(lambda seen=seen: self._edge_count() > seen, wake)

    def _edge_count(self) -> int:
        with self._lock:
            return len(self._edges)

    def _fail(self, analysis: EdgeAnalysis, edges: list[Edge], reason: str) -> None:
        raise TooFewCyclesError(
            f"only {len(analysis.cycles)} of {self.cycles} cycles on {self.name}: {reason} "
            f"({analysis.glitches_dropped} glitches dropped, {analysis.lost_edges} lost edges)",
            wanted=self.cycles,
            analysis=analysis,
            edges=edges,
        )


def _validate(polarity: str, cycles: int, expected_period: float, glitch_filter: float) -> None:
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be 'high' or 'low', got {polarity!r}")
    if not (isinstance(cycles, int) and cycles >= 1):
        raise ValueError(f"cycles must be a positive integer, got {cycles!r}")
    if not expected_period > 0:
        raise ValueError(f"expected_period must be positive, got {expected_period!r}")
    if not 0 <= glitch_filter < expected_period / 2:
        raise ValueError(
            f"glitch_filter must be in [0, expected_period/2), got {glitch_filter!r} "
            f"for an expected period of {expected_period!r} s"
        )
