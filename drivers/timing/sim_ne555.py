"""A simulated NE555 astable driving a simulated Pi input pin on a :class:`SimClock`.

The oscillator schedules its own edges on the clock while powered, so a measurement that waits on
the clock sees a free-running 555. Imperfections are injected from a seeded RNG: component values
within tolerance (or given explicitly, e.g. a wrong timing resistor), cycle-to-cycle jitter,
sub-millisecond glitches, and edges whose kernel event is lost.
"""

import math
import random
from typing import Any

from drivers.clock import SimClock
from drivers.named_tuple import NamedTuple
from drivers.timing.ne555 import AstableDesign, AstableTiming

# From power-up the capacitor charges from 0 V (not 1/3 VCC) to 2/3 VCC, so the first high phase
# lasts RC·ln 3 instead of RC·ln 2.
COLD_START_FACTOR = math.log(3) / math.log(2)
# Jitter is Gaussian; clipping keeps a wild draw from producing a zero or negative phase.
_MIN_PHASE_FACTOR = 0.05


# NamedTuples, not frozen dataclasses: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class ComponentValues(NamedTuple):
    """The actual parts fitted to one board."""

    r1_ohm: float
    r2_ohm: float
    c_farad: float

    @classmethod
    def nominal(cls, design: AstableDesign) -> "ComponentValues":
        return cls(design.r1_ohm, design.r2_ohm, design.c_farad)

    @classmethod
    def draw(cls, design: AstableDesign, rng: random.Random) -> "ComponentValues":
        """Each part uniformly within its tolerance: every value a good board may carry."""

        def within(nominal: float, tolerance: float) -> float:
            return nominal * (1 + rng.uniform(-tolerance, tolerance))

        return cls(
            within(design.r1_ohm, design.r_tolerance),
            within(design.r2_ohm, design.r_tolerance),
            within(design.c_farad, design.c_tolerance),
        )


class ProducedPhase(NamedTuple):
    """One output phase as the simulation scheduled it (the first after power-on is partial)."""

    level: bool
    start: float
    duration: float


class SimNE555:
    """A free-running astable on ``pin``; edges are scheduled on ``clock`` while powered.

    ``components`` defaults to a draw within tolerance from ``seed``. ``jitter`` is the fractional
    standard deviation of every phase. ``glitch_rate_hz`` spikes of ``glitch_width_s`` (min, max)
    are spread over the output at random. Each oscillator edge is lost (level changes, no event)
    with ``missing_edge_probability``. ``start_phase`` (fraction of a period after a rising edge)
    sets where the first power-on starts; None means a realistic cold start.
    """

    def __init__(
        self,
        design: AstableDesign,
        pin: Any,  # a Pi line the simulation drives: a SimLine (sim_lines.py) or a SimPin
        clock: SimClock,
        *,
        components: ComponentValues | None = None,
        seed: int = 0,
        jitter: float = 0.0,
        glitch_rate_hz: float = 0.0,
        glitch_width_s: tuple[float, float] = (50e-6, 500e-6),
        missing_edge_probability: float = 0.0,
        start_phase: float | None = None,
    ) -> None:
        _validate(jitter, glitch_rate_hz, glitch_width_s, missing_edge_probability, start_phase)
        self.design = design
        self.pin = pin
        self._clock = clock
        self._rng = random.Random(seed)
        self.components = components or ComponentValues.draw(design, self._rng)
        self.jitter = jitter
        self.glitch_rate_hz = glitch_rate_hz
        self.glitch_width_s = glitch_width_s
        self.missing_edge_probability = missing_edge_probability
        self.start_phase = start_phase
        self.phases: list[ProducedPhase] = []
        self.glitches_injected = 0
        self.edges_hidden = 0
        self._powered = False
        # Events already on the clock can't be cancelled; each carries the generation it was
        # scheduled in and is ignored once a power cycle has moved on.
        self._generation = 0

    @property
    def truth(self) -> AstableTiming:
        """The timing the fitted components give (before jitter)."""
        c = self.components
        return self.design.timing(c.r1_ohm, c.r2_ohm, c.c_farad)

    @property
    def powered(self) -> bool:
        return self._powered

    def power_on(self) -> None:
        if self._powered:
            return
        self._powered = True
        self._generation += 1
        level, duration = self._first_phase()
        self._enter_phase(level, self._clock.now(), duration)

    def power_off(self) -> None:
        """Unpowered, the output is held low and produces no edges."""
        if not self._powered:
            return
        self._powered = False
        self._generation += 1
        self.pin.drive(False)

    def _first_phase(self) -> tuple[bool, float]:
        truth = self.truth
        if self.start_phase is None:
            return True, truth.t_high * COLD_START_FACTOR
        position = self.start_phase * truth.period
        if position < truth.t_high:
            return True, truth.t_high - position
        return False, truth.period - position

    def _enter_phase(self, level: bool, start: float, duration: float) -> None:
        self._drive_edge(level)
        self.phases.append(ProducedPhase(level, start, duration))
        self._schedule_glitches(level, start, start + duration)
        end = start + duration
        generation = self._generation
        self._clock.schedule(end, lambda: self._next_phase(generation, not level, end))

    def _next_phase(self, generation: int, level: bool, start: float) -> None:
        if generation != self._generation:
            return
        truth = self.truth
        nominal = truth.t_high if level else truth.t_low
        factor = max(1 + self._rng.gauss(0.0, self.jitter), _MIN_PHASE_FACTOR) if self.jitter else 1
        self._enter_phase(level, start, nominal * factor)

    def _drive_edge(self, level: bool) -> None:
        reported = self._rng.random() >= self.missing_edge_probability
        if not reported and self.pin.state != level:
            self.edges_hidden += 1
        self.pin.drive(level, report=reported)

    def _schedule_glitches(self, level: bool, start: float, end: float) -> None:
        if not self.glitch_rate_hz:
            return
        generation = self._generation
        t = start + self._rng.expovariate(self.glitch_rate_hz)
        while True:
            width = self._rng.uniform(*self.glitch_width_s)
            if t + width >= end:
                return
            # The spike leaves the phase's level and comes back: two reported edges.
            self._clock.schedule(t, lambda: self._glitch_edge(generation, not level))
            self._clock.schedule(t + width, lambda: self._glitch_edge(generation, level))
            self.glitches_injected += 1
            t += width + self._rng.expovariate(self.glitch_rate_hz)

    def _glitch_edge(self, generation: int, level: bool) -> None:
        if generation == self._generation:
            self.pin.drive(level)


def _validate(
    jitter: float,
    glitch_rate_hz: float,
    glitch_width_s: tuple[float, float],
    missing_edge_probability: float,
    start_phase: float | None,
) -> None:
    if not 0 <= jitter < 0.5:
        raise ValueError(f"jitter is a fractional std in [0, 0.5), got {jitter!r}")
    if glitch_rate_hz < 0:
        raise ValueError(f"glitch_rate_hz must be >= 0, got {glitch_rate_hz!r}")
    low, high = glitch_width_s
    if not 0 < low <= high:
        raise ValueError(
            f"glitch_width_s must be (min, max) with 0 < min <= max, got {glitch_width_s!r}"
        )
    if not 0 <= missing_edge_probability < 1:
        raise ValueError(
            f"missing_edge_probability must be in [0, 1), got {missing_edge_probability!r}"
        )
    if start_phase is not None and not 0 <= start_phase < 1:
        raise ValueError(f"start_phase is a fraction of a period in [0, 1), got {start_phase!r}")
