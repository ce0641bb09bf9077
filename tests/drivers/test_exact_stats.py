"""drivers/timing/exact_stats.py gives exactly what the statistics module gives (issue 14: the
555's summary no longer imports statistics, fractions and decimal at every run)."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from drivers.timing import exact_stats


def samples():
    rng = random.Random(14)
    yield [1.0, 2.0]
    yield [0.0, 0.0, 0.0]
    yield [5, 7, 11]  # ints
    yield [3, 0.5, 2]  # mixed
    yield [1e-300, 3e-300, 2e-300]
    yield [1e300, -1e300, 5e299]
    yield [0.1] * 7 + [0.1 + 2**-56]  # cancellation: a plain float formula would lose it
    yield [1.0 + k * 2**-52 for k in range(5)]
    for _ in range(3000):
        n = rng.choice((2, 3, 5, 10, 50, 400))
        kind = rng.random()
        if kind < 0.4:  # pulse widths and periods of the 555 (seconds), with jitter
            base = rng.choice((0.075, 0.25, 9.5, 30.0))
            values = [base * (1 + rng.gauss(0, 1e-3)) for _ in range(n)]
        elif kind < 0.7:
            scale = 10 ** rng.uniform(-12, 12)
            values = [rng.uniform(-scale, scale) for _ in range(n)]
        elif kind < 0.85:
            values = [rng.randrange(-10**6, 10**6) for _ in range(n)]
        else:
            values = [float.fromhex(f"0x1.{rng.getrandbits(52):013x}p{rng.randrange(-60, 60)}")
                      for _ in range(n)]
        yield values


def test_the_same_mean_and_sample_deviation_as_statistics_bit_for_bit():
    for values in samples():
        assert exact_stats.fmean(values) == statistics.fmean(values), values
        ours, theirs = exact_stats.stdev(values), statistics.stdev(values)
        assert ours == theirs and type(ours) is type(theirs), (values, ours, theirs)


def outcome(fn, values):
    try:
        return fn(values)
    except Exception as exc:  # what statistics does with these, whatever it is, ours does too
        return type(exc)


@pytest.mark.parametrize("values", [[1.0, math.nan], [1.0, math.inf], [-math.inf, 2.0], [1.0],
                                    []])
def test_non_finite_values_and_too_few_are_left_to_statistics(values):
    ours, theirs = outcome(exact_stats.stdev, values), outcome(statistics.stdev, values)
    assert ours == theirs or (isinstance(ours, float) and math.isnan(ours) and math.isnan(theirs))
