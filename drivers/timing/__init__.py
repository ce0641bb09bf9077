"""NE555 keep-alive timing: design limits, pulse capture and statistics, and a simulated 555."""

from drivers.timing.ne555 import (
    AstableDesign,
    AstableLimits,
    AstableTiming,
    Limit,
    Polarity,
    astable_phases,
)
from drivers.timing.pulses import (
    Cycle,
    Edge,
    EdgeAnalysis,
    NoPulsesError,
    PulseCapture,
    PulseMeasurementError,
    PulseStats,
    Summary,
    TooFewCyclesError,
    analyse_edges,
)
from drivers.timing.sim_ne555 import ComponentValues, ProducedPhase, SimNE555


def __getattr__(name: str):
    if name == "TimestampedInput":  # a gpiozero device: gpiozero only for who uses it
        from drivers.timing.gpio_input import TimestampedInput

        return TimestampedInput
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AstableDesign",
    "AstableLimits",
    "AstableTiming",
    "ComponentValues",
    "Cycle",
    "Edge",
    "EdgeAnalysis",
    "Limit",
    "NoPulsesError",
    "Polarity",
    "ProducedPhase",
    "PulseCapture",
    "PulseMeasurementError",
    "PulseStats",
    "SimNE555",
    "Summary",
    "TimestampedInput",
    "TooFewCyclesError",
    "analyse_edges",
    "astable_phases",
]
