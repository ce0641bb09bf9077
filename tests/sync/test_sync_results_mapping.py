"""What a run becomes in InvenTree (issue 10 §3, §4): one result per measurement with its own
key, value with unit, pass/fail, limits and context in the notes; ERROR and ABORTED never mark a
board failed; every missing template named at once; templates derived from a real plan."""

from __future__ import annotations

import pytest

from edge.config import BUILTIN_PLANS
from edge.products.catalog import find_plan
from edge.sync.backends.inventree_mapping import (
    MappingError,
    build_results,
    marker,
    plan_hidden_steps,
    planned_results,
    template_specs,
)
from edge.sync.settings import ProductResults, from_options

RUN_ID = "6f1c0c57-8b5e-4b55-9a59-0d5f4f3c2a10"


def meas(name, value, outcome="PASS", units="s", low=0.2, high=0.3, mlow=None, mhigh=None,
         expected=None):
    return {"name": name, "value": value, "units": units, "outcome": outcome, "low": low,
            "high": high, "marginal_low": mlow, "marginal_high": mhigh, "expected": expected}


def step(name, outcome, *measurements, error=None, started="2026-01-01T10:00:01+00:00",
         ended="2026-01-01T10:00:02+00:00"):
    return {"name": name, "outcome": outcome, "started_utc": started, "ended_utc": ended,
            "attempts": [{"error": error, "measurements": list(measurements)}]}


def record(outcome="PASS", steps=None):
    return {
        "run_id": RUN_ID, "station_id": "bench 1", "operator": "amelie", "batch": "B-12",
        "plan_name": "PowerBank-Foolish keep-alive", "plan_version": "1.0",
        "software_version": "0.1.0", "outcome": outcome, "product": "PowerBank-Foolish",
        "started_utc": "2026-01-01T10:00:00+00:00", "ended_utc": "2026-01-01T10:00:05+00:00",
        "steps": steps if steps is not None else [
            step("fixture check", "PASS"),
            step("power on", "PASS"),
            step("pulse timing", "FAIL",
                 meas("pulse_width", 0.2446, "PASS-MARGINAL", mlow=0.21, mhigh=0.29),
                 meas("duty", 0.5, "FAIL", units="", low=0.01, high=0.1),
                 started="2026-01-01T10:00:03+00:00", ended="2026-01-01T10:00:02+00:00"),
            step("power off", "PASS"),
        ],
    }


HIDDEN = {"fixture check", "power off"}


def test_one_result_per_measurement_with_value_unit_limits_and_context():
    planned = planned_results(record("FAIL"), ProductResults(), HIDDEN, "pibenchrun")
    assert [p.source for p in planned] == ["pulse timing/pulse_width", "pulse timing/duty", "run"]
    assert [p.key for p in planned] == ["pulsetimingpulse_width", "pulsetimingduty",
                                        "pibenchrun"]
    width, duty, run = (p.body for p in planned)
    assert width["result"] is True and width["value"] == "0.2446 s"
    assert duty["result"] is False and duty["value"] == "0.5"
    assert run["result"] is False and run["value"] == "FAIL"
    notes = width["notes"]
    assert notes.startswith(marker(record()) + " | PASS-MARGINAL")
    assert "limits 0.2 .. 0.3 s; marginal below 0.21 or above 0.29" in notes
    for fact in ("plan PowerBank-Foolish keep-alive v1.0", "operator amelie", "batch B-12",
                 "pibench 0.1.0", f"run {RUN_ID}"):
        assert fact in notes and fact in run["notes"]
    assert all(p.body["test_station"] == "bench 1" for p in planned)
    # The wall clock stepped back mid-step: InvenTree would refuse finished < started.
    assert width["finished_datetime"] == width["started_datetime"]
    assert all(len(p.body["notes"]) <= 500 for p in planned)


@pytest.mark.parametrize("outcome", ["ERROR", "ABORTED"])
def test_error_and_aborted_never_mark_the_board_failed(outcome):
    steps = [step("pulse timing", "PASS", meas("pulse_width", 0.25)),
             step("first pulse", outcome, meas("first_pulse", None, "FAIL"),
                  error="fixture absent")]
    planned = planned_results(record(outcome, steps), ProductResults(), HIDDEN, "pibenchrun")
    # What was judged before the stop is a true result about the board; the step that hit the
    # station's fault and the run's overall result are not posted.
    assert [p.source for p in planned] == ["pulse timing/pulse_width"]
    assert all(p.body["result"] is True for p in planned)


def test_per_product_overrides_post_skip_and_rename():
    product = ProductResults(post_steps=frozenset({"fixture check"}),
                             skip=frozenset({"pulse timing/duty"}),
                             keys={"pulse timing/pulse_width": "pulsewidth"})
    planned = planned_results(record(), product, HIDDEN, None)
    assert [(p.source, p.key) for p in planned] == [
        ("fixture check", "fixturecheck"), ("pulse timing/pulse_width", "pulsewidth")]


def test_every_missing_key_is_named_at_once():
    planned = planned_results(record("FAIL"), ProductResults(), HIDDEN, "pibenchrun")
    with pytest.raises(MappingError) as caught:
        build_results(planned, {"pulsetimingduty": 5}, 42)
    assert caught.value.missing == ("pulsetimingpulse_width", "pibenchrun")
    text = str(caught.value)
    assert "'pulsetimingpulse_width' (pulse timing/pulse_width)" in text
    assert "'pibenchrun' (run)" in text and "pibench sync setup" in text
    body = build_results(planned, {"pulsetimingduty": 5, "pulsetimingpulse_width": 6,
                                   "pibenchrun": 7}, 42)
    assert [r["template"] for r in body] == [6, 5, 7]


def test_old_step_mapping_still_applies():
    s = from_options("inventree", "https://inv.example", None, None, {
        "templates": {"pulse timing/duty": "duty"},
        "products": {"PowerBank-Foolish": {"part": 7, "optional": ["pulse timing/gap"]}}})
    product = s.inventree.product("PowerBank-Foolish")
    assert product.part == 7 and product.keys == {"pulse timing/duty": "duty"}


def test_templates_from_the_shipped_plan_skip_teardown_and_fixture_check():
    plan = find_plan("PowerBank-Foolish", (BUILTIN_PLANS,))
    assert plan_hidden_steps(plan) == {"fixture check", "power off"}
    product = ProductResults(optional=frozenset({"pulse timing/gap"}))
    specs = template_specs(plan, product, "pibenchrun")
    assert [s.key for s in specs] == [
        "firstpulsefirst_pulse", "pulsetimingpulse_width", "pulsetiminggap", "pulsetimingperiod",
        "pulsetimingduty", "pibenchrun"]
    by_key = {s.key: s for s in specs}
    assert by_key["pulsetiminggap"].required is False
    assert by_key["pulsetimingduty"].required is True
    assert by_key["pulsetimingduty"].test_name == "pulse timing: duty"
    assert "pulse timing" in by_key["pulsetimingduty"].description
