"""A step's row in ``step_results`` reads back exactly what was written, bit for bit."""

from __future__ import annotations

import json
import math

import pytest

from edge.api.server import dumps
from edge.records import Attempt, Limits, Measurement, Outcome, StepResult
from edge.store.codec import compact_json_encoder
from edge.store.step_codec import step_from_row, step_row


def _step(*measurements: Measurement) -> StepResult:
    attempt = Attempt(1, Outcome.PASS, 0.25, measurements, None)
    return StepResult(3, "rail", Outcome.PASS, "2026-03-14T09:00:00.000+00:00",
                      "2026-03-14T09:00:00.250+00:00", 0.25, (attempt,), True)


def _read_back(step: StepResult) -> StepResult:
    return step_from_row(step_row(7, step)[2:])


def _signs(limits: Limits) -> list[float | None]:
    return [None if x is None else math.copysign(1.0, x)
            for x in (limits.low, limits.high, limits.marginal_low, limits.marginal_high)]


def test_limits_read_back_keep_the_sign_of_zero_however_often_they_are_read():
    # Decoded limits are shared between reads (step_codec._LIMITS): 0.0 and -0.0 compare equal,
    # so a shared object must never hand one's sign to the other.
    negative = Limits(low=-0.0, high=1.0, units="V", marginal_high=-0.0)
    positive = Limits(low=0.0, high=1.0, units="V", marginal_high=0.0)
    for _ in range(3):
        for limits in (negative, positive, negative):
            step = _step(Measurement("v", 0.5, limits, Outcome.PASS))
            back = _read_back(step).measurements[0].limits
            assert back == limits
            assert _signs(back) == _signs(limits)


def test_repeated_limits_read_back_equal_and_expected_values_keep_their_type():
    cases = [
        Limits(low=4.5, high=5.5, units="V"),
        Limits(expected=True), Limits(expected=1), Limits(expected=1.0), Limits(expected="1"),
        Limits(expected=False), Limits(expected=0), Limits(low=float("-inf"), high=float("nan")),
    ]
    for _ in range(2):
        for limits in cases:
            back = _read_back(_step(Measurement("m", 5.0, limits, Outcome.PASS)))
            got = back.measurements[0].limits
            assert type(got.expected) is type(limits.expected)
            assert repr(got) == repr(limits)


def test_a_step_reads_back_equal():
    step = _step(Measurement("v", 5.0, Limits(low=4.5, high=5.5, units="V"), Outcome.PASS),
                 Measurement("n", 2**70, Limits(high=float("inf")), Outcome.PASS))
    assert _read_back(step) == step


def test_the_compact_encoder_writes_what_json_dumps_writes_and_refuses_what_it_refuses():
    """The step codec's and the API's encoder (built once, issue 14) against json.dumps."""
    encode = compact_json_encoder()
    docs = [
        {"name": "Supply ramp Ω", "value": 0.1 + 0.2, "big": 2**70, "neg": -0.0, "none": None,
         "flags": [True, False], "nested": {"é": ["µA ✓", "\n\t\"\\", "\x00\x7f"]}},
        [1e-300, 1.7976931348623157e308, "", {}, []],
        "plain",
    ]
    for doc in docs:
        expected = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        assert encode(doc) == expected
        assert dumps(doc) == expected.encode("utf-8")
    for bad in ({"v": math.nan}, [math.inf], {"k": object()}):
        with pytest.raises((ValueError, TypeError)) as expected_error:
            json.dumps(bad, ensure_ascii=False, allow_nan=False)
        with pytest.raises(expected_error.type):
            encode(bad)
