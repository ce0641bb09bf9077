"""NE555 keep-alive measurement on the simulator: accuracy, time to verdict and cost vs. N cycles.

Run:  .venv/bin/python bench/bench_ne555.py

Each run is a different board (components drawn within tolerance from the seed), measured from
a random point after power-up through the whole stack: SimNE555 → SimPin → TimestampedInput →
PulseCapture on a SimClock. Figures printed per design, signal condition and N:

* error of the N-cycle mean vs. the board's true timing (its components, before jitter), mean
  and max over seeds, in % — what the station learns about the board;
* instrument error: each measured pulse width vs. the phase the simulation actually produced,
  max in ns (timestamps are exact, so only float rounding or a glitch merged into an edge shows);
* time to verdict from the first edge, in the signal's own (measured mean) periods, vs. the goal
  of N + 1 for a clean signal. Every lost edge costs one or two cycles, so lossy signals take
  longer and some miss the (N + 1.5)·T_max deadline ("fail");
* wall time per measurement.
"""

from __future__ import annotations

import bisect
import random
import statistics
import time
from dataclasses import dataclass

from drivers.clock import SimClock
from drivers.gpio import SimPiFactory
from drivers.timing import (
    AstableDesign,
    PulseCapture,
    PulseStats,
    SimNE555,
    TimestampedInput,
    TooFewCyclesError,
)

DESIGNS = {
    # Basic astables: the short pulse is the LOW phase. 10 µF electrolytic (±20 %), 1 % resistors.
    "2.1s/104ms low": AstableDesign(270e3, 15e3, 10e-6, 0.01, 0.2, pulse="low"),
    "5.1s/187ms low": AstableDesign(680e3, 27e3, 10e-6, 0.01, 0.2, pulse="low"),
    # Steering diode across R2: the pulse is the HIGH phase. 4.7 µF film (±10 %).
    "4.2s/326ms high": AstableDesign(
        100e3, 1.2e6, 4.7e-6, 0.01, 0.1, pulse="high", steering_diode=True
    ),
    "9.5s/229ms low": AstableDesign(1.3e6, 33e3, 10e-6, 0.01, 0.2, pulse="low"),
}


@dataclass(frozen=True)
class Condition:
    jitter: float = 0.0
    glitch_rate_hz: float = 0.0
    missing_edge_probability: float = 0.0


CONDITIONS = {
    "clean": Condition(),
    "jitter 0.5%": Condition(jitter=0.005),
    "jitter 2%": Condition(jitter=0.02),
    "2%+glitch+lost": Condition(jitter=0.02, glitch_rate_hz=0.5, missing_edge_probability=0.02),
}
CYCLE_COUNTS = (5, 10, 20)
SEEDS = range(20)
GLITCH_FILTER_S = 0.001


@dataclass(frozen=True)
class Run:
    stats: PulseStats
    sim: SimNE555
    wall_s: float


def measure_once(design: AstableDesign, condition: Condition, cycles: int, seed: int) -> Run:
    clock = SimClock()
    factory = SimPiFactory(clock)
    sim = SimNE555(
        design,
        factory.pin(17),
        clock,
        seed=seed,
        jitter=condition.jitter,
        glitch_rate_hz=condition.glitch_rate_hz,
        missing_edge_probability=condition.missing_edge_probability,
    )
    device = TimestampedInput(17, pin_factory=factory)
    capture = PulseCapture(
        device,
        polarity=design.pulse,
        cycles=cycles,
        expected_period=design.limits().period.high,
        clock=clock,
        glitch_filter=GLITCH_FILTER_S,
    )
    sim.power_on()
    # Start somewhere past the cold-start pulse, at a random phase.
    clock.advance(sim.truth.period * random.Random(seed).uniform(2.0, 3.0))
    started = time.perf_counter()
    stats = capture.measure()
    wall = time.perf_counter() - started
    device.close()
    factory.close()
    return Run(stats, sim, wall)


def percent_error(measured: float, true: float) -> float:
    return abs(measured - true) / true * 100


def instrument_error_ns(run: Run) -> float:
    """Largest |measured width − produced width| over the run's cycles, in ns."""
    pulse_level = run.sim.design.pulse == "high"
    produced = [p for p in run.sim.phases if p.level == pulse_level]
    starts = [p.start for p in produced]
    worst = 0.0
    for cycle in run.stats.cycles:
        # A glitch right at an edge can move it by up to the filter, so match the nearest start.
        i = bisect.bisect_left(starts, cycle.start)
        nearest = min(
            produced[max(i - 1, 0) : i + 1], key=lambda phase: abs(phase.start - cycle.start)
        )
        worst = max(worst, abs(cycle.pulse_width - nearest.duration))
    return worst * 1e9


def row(name: str, condition_name: str, cycles: int) -> tuple[str, ...]:
    design, condition = DESIGNS[name], CONDITIONS[condition_name]
    runs, failures = [], 0
    for seed in SEEDS:
        try:
            runs.append(measure_once(design, condition, cycles, seed))
        except TooFewCyclesError:
            failures += 1
    width = [percent_error(r.stats.pulse_width.mean, r.sim.truth.pulse_width) for r in runs]
    period = [percent_error(r.stats.period.mean, r.sim.truth.period) for r in runs]
    duty = [percent_error(r.stats.duty.mean, r.sim.truth.duty) for r in runs]
    verdict = [r.stats.first_edge_to_verdict / r.stats.period.mean for r in runs]
    wall_ms = [r.wall_s * 1e3 for r in runs]
    return (
        name,
        condition_name,
        str(cycles),
        f"{statistics.fmean(width):.3f}/{max(width):.3f}",
        f"{statistics.fmean(period):.3f}/{max(period):.3f}",
        f"{statistics.fmean(duty):.3f}/{max(duty):.3f}",
        f"{max(instrument_error_ns(r) for r in runs):.1g}",
        f"{statistics.fmean(verdict):.2f}/{max(verdict):.2f}",
        f"{max(verdict) / (cycles + 1):.3f}",
        f"{statistics.fmean(wall_ms):.2f}",
        f"{failures}/{len(SEEDS)}",
    )


HEADER = (
    "design",
    "signal",
    "N",
    "width err %",
    "period err %",
    "duty err %",
    "instr ns",
    "verdict T",
    "max/(N+1)",
    "wall ms",
    "fail",
)


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    for line in [HEADER, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))


def main() -> None:
    print(f"NE555 keep-alive measurement, {len(SEEDS)} boards per row, glitch filter 1 ms")
    print("errors: mean/max over boards; verdict T: first edge → verdict in measured periods")
    print()
    rows = [
        row(name, condition, cycles)
        for name in DESIGNS
        for condition in CONDITIONS
        for cycles in CYCLE_COUNTS
    ]
    print_table(rows)
    lossy = {name for name, c in CONDITIONS.items() if c.missing_edge_probability}
    clean = max(float(r[8]) for r in rows if r[1] not in lossy)
    lost = max(float(r[8]) for r in rows if r[1] in lossy)
    print()
    print(f"worst verdict periods / (N+1), no lost edges:   {clean:.3f} (goal <= 1)")
    print(f"worst verdict periods / (N+1), with lost edges: {lost:.3f} (each costs 1-2 cycles)")


if __name__ == "__main__":
    main()
