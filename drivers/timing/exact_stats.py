"""The mean and sample standard deviation of measured values, exactly as :mod:`statistics` gives
them, without importing it.

``statistics`` brings ``fractions`` and ``decimal`` (~2 ms of every ``pibench run`` and station
start, for one summary: issue 14). Its ``fmean`` is ``math.fsum(values) / len(values)``; its
``stdev`` is the square root, correctly rounded, of the *exact* sample variance (it sums the
values' exact ratios as fractions). Here the same exact variance is computed with integers: a
finite float is an integer over a power of two, so every value becomes an integer over one
common power of two, and the square root is rounded as ``statistics`` rounds it (round-to-odd
on an integer square root with enough spare bits, then one division). Non-finite values are
left to ``statistics`` itself. ``tests/drivers/test_exact_stats.py`` compares both.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

# Bits kept beyond a float's precision before the last rounding: statistics._sqrt_bit_width.
_SQRT_BITS = 2 * sys.float_info.mant_dig + 3


def fmean(values: Sequence[float]) -> float:
    """``statistics.fmean(values)`` for a non-empty sequence."""
    return math.fsum(values) / len(values)


def stdev(values: Sequence[float]) -> float:
    """``statistics.stdev(values)`` (the sample standard deviation) for two values or more."""
    if len(values) < 2 or not all(math.isfinite(v) for v in values):
        import statistics  # its own answer (and its own error) for these

        return statistics.stdev(values)
    ratios = [float(v).as_integer_ratio() for v in values]  # denominators: powers of two
    scale = max(d for _, d in ratios)
    ints = [n * (scale // d) for n, d in ratios]  # value * scale, exactly
    n = len(ints)
    sx, sxx = sum(ints), sum(i * i for i in ints)
    # variance = (n * sxx - sx**2) / (n * (n - 1) * scale**2), exactly
    return _sqrt_of_fraction(n * sxx - sx * sx, n * (n - 1) * scale * scale)


def _sqrt_of_fraction(num: int, den: int) -> float:
    """The square root of num/den (num >= 0, den > 0), correctly rounded to a float: the method
    of statistics._float_sqrt_of_frac (an integer square root rounded to odd, with spare bits,
    then the division by a power of two rounds once, to nearest)."""
    q = (num.bit_length() - den.bit_length() - _SQRT_BITS) // 2
    if q >= 0:
        return float(_isqrt_round_to_odd(num, den << 2 * q) << q)
    return _isqrt_round_to_odd(num << -2 * q, den) / (1 << -q)


def _isqrt_round_to_odd(num: int, den: int) -> int:
    root = math.isqrt(num // den)
    return root | (root * root * den != num)  # inexact: make it odd
