"""The pibench.run/1 payload and the CSV / JSON exports parse back to what was stored."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.records import Attempt, Limits, Measurement, Outcome, RunRecord
from edge.store import (
    SCHEMA,
    export_csv,
    export_json,
    load_run,
    record_from_json,
    record_to_json,
)
from edge.store.codec import decode_value, encode_value
from edge.store.export import CSV_COLUMNS
from edge.store.payload import payload_text

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False),
    st.text(),
)


@given(values)
def test_every_measured_value_round_trips_through_the_column_codec(value):
    decoded = decode_value(*encode_value(value)[:2])
    assert type(decoded) is type(value) and decoded == value
    if isinstance(value, float):
        assert math.copysign(1, decoded) == math.copysign(1, value)


class _Int(int):
    def __repr__(self) -> str:
        return f"_Int({int(self)})"


class _Float(float):
    def __repr__(self) -> str:  # as numpy's float64 says itself: never what is stored
        return f"_Float({float(self)})"


@pytest.mark.parametrize(("value", "expected"), [
    (_Int(7), ("int", "7", 7.0)),
    (_Float(0.25), ("float", "0.25", 0.25)),
    (_Float(float("-inf")), ("float", "-inf", float("-inf"))),
    (__import__("fractions").Fraction(1, 4), ("float", "0.25", 0.25)),  # a numbers.Real
    (2**1100, ("int", str(2**1100), None)),  # beyond a float: the exact text keeps it
])
def test_other_numbers_are_stored_as_the_plain_number_they_are(value, expected):
    assert encode_value(value) == expected


@pytest.fixture
def stored(recorder, make_meta, make_step) -> list[RunRecord]:
    """Three finished runs: a pass, a fail with a retried step and odd values, one with no steps."""
    records = []
    passing = make_meta(serial="PB-1", operator="Zoé", started_utc="2026-03-14T09:00:00Z")
    recorder.begin_run(passing)
    recorder.record_step(passing.run_id, make_step(0))
    records.append(recorder.finish_run(passing.run_id, Outcome.PASS, "2026-03-14T09:00:05Z", 5.0))

    failing = make_meta(serial="PB-2", started_utc="2026-03-14T10:00:00Z", extra={"k": [1]})
    recorder.begin_run(failing)
    retried = make_step(0, Outcome.FAIL, attempts=(
        Attempt(1, Outcome.FAIL, 0.1, (Measurement("v", float("nan"), Limits(1, 2, "V"),
                                                   Outcome.FAIL),), error="open, circuit"),
        Attempt(2, Outcome.FAIL, 0.1, (
            Measurement("v", 0.5, Limits(1, 2, "V"), Outcome.FAIL),
            Measurement("label", 'say "hi",\nok', Limits(expected="x"), Outcome.FAIL),
            Measurement("big", 2**70, Limits(high=float("inf")), Outcome.PASS),
        )),
    ))
    recorder.record_step(failing.run_id, retried)
    recorder.record_step(failing.run_id, make_step(1, Outcome.SKIPPED, attempts=()))
    records.append(recorder.finish_run(failing.run_id, Outcome.FAIL, "2026-03-14T10:00:01Z", 1.0,
                                       error="critical step failed"))

    aborted = make_meta(serial="PB-3", product="relay-board", started_utc="2026-03-15T08:00:00Z")
    recorder.begin_run(aborted)
    records.append(recorder.finish_run(aborted.run_id, Outcome.ABORTED, "2026-03-15T08:00:01Z",
                                       0.5, error="operator pressed Abort"))
    return records


def test_payload_has_the_documented_shape(stored):
    doc = record_to_json(stored[1])
    assert doc["schema"] == SCHEMA == "pibench.run/1"
    assert set(doc) == {
        "schema", "run_id", "serial", "product", "revision", "batch", "operator", "station_id",
        "fixture_id", "plan_name", "plan_version", "plan_hash", "software_version",
        "started_utc", "ended_utc", "duration_s", "clock_synced", "retest", "outcome", "error",
        "extra", "steps",
    }
    step = doc["steps"][0]
    assert set(step) == {"index", "name", "outcome", "critical", "started_utc", "ended_utc",
                         "duration_s", "attempts"}
    first, second = step["attempts"]
    assert set(first) == {"number", "outcome", "duration_s", "error", "measurements"}
    assert first["measurements"][0]["value"] == "nan"  # strict JSON has no NaN
    big = second["measurements"][2]
    assert (big["value"], big["value_type"], big["high"]) == (2**70, "int", "inf")


def test_payload_text_is_canonical_ascii_and_parses_back(stored):
    for record in stored:
        text = payload_text(record)
        assert text.isascii()
        # payload_text writes its dicts in sorted key order instead of sorting them: the same
        # text as sorting would give, key for key.
        assert text == json.dumps(record_to_json(record), sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=True, allow_nan=False)
        assert payload_text(record_from_json(json.loads(text))) == text
        assert record_from_json(json.loads(text)).meta == record.meta


def test_payload_sorts_the_keys_of_extra_at_every_depth(stored):
    extra = {"z": 1, "a": {"y": [{"b": 1, "a": 2}], "x": (3, {"d": 4, "c": 5})}}
    record = stored[0]._replace(meta=stored[0].meta._replace(extra=extra))
    assert payload_text(record) == json.dumps(record_to_json(record), sort_keys=True,
                                              separators=(",", ":"), ensure_ascii=True)
    assert '"extra":{"a":{"x":[3,{"c":5,"d":4}],"y":[{"a":2,"b":1}]},"z":1}' in payload_text(record)


def test_json_export_parses_back_to_the_stored_records(store, stored):
    out = io.StringIO()
    assert export_json(store, out) == 3
    docs = json.loads(out.getvalue())
    assert [d["serial"] for d in docs] == ["PB-1", "PB-2", "PB-3"]  # oldest first
    back = [record_from_json(d) for d in docs]
    # NaN never compares equal; compare everything through the canonical payload instead.
    assert [payload_text(r) for r in back] == [payload_text(r) for r in stored]
    nan = back[1].steps[0].attempts[0].measurements[0].value
    assert isinstance(nan, float) and math.isnan(nan)


def test_json_export_to_a_path_with_a_filter(store, stored, tmp_path):
    path = tmp_path / "relay.json"
    assert export_json(store, path, product="relay-board") == 1
    docs = json.loads(path.read_text(encoding="utf-8"))
    assert [d["serial"] for d in docs] == ["PB-3"]
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed into place


def test_empty_json_export_is_an_empty_list(store, stored):
    out = io.StringIO()
    assert export_json(store, out, serial="nobody") == 0
    assert json.loads(out.getvalue()) == []


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_csv_has_one_row_per_measurement_and_keeps_stepless_runs(store, stored, tmp_path):
    path = tmp_path / "all.csv"
    assert export_csv(store, path) == 3
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for spreadsheets
    rows = read_csv(path)
    assert list(rows[0]) == list(CSV_COLUMNS)
    # PB-1: 2 measurements; PB-2: 1 + 3 over two attempts, plus the step without attempts;
    # PB-3: no steps at all, one row.
    assert [r["serial"] for r in rows] == ["PB-1"] * 2 + ["PB-2"] * 5 + ["PB-3"]
    assert rows[0]["operator"] == "Zoé"
    assert rows[7]["run_outcome"] == "ABORTED" and rows[7]["step_index"] == ""
    assert rows[6]["step_outcome"] == "SKIPPED" and rows[6]["measurement"] == ""


def test_csv_values_parse_back_exactly_and_without_locale(store, stored, tmp_path):
    path = tmp_path / "fail.csv"
    export_csv(store, path, serial="PB-2")
    rows = read_csv(path)
    record = load_run(store, stored[1].meta.run_id)
    measured = [
        (a, m) for s in record.steps for a in s.attempts for m in a.measurements
    ]
    assert len(measured) == 4
    for row, (attempt, m) in zip(rows, measured, strict=False):
        assert row["measurement"] == m.name
        assert row["attempt_number"] == str(attempt.number)
        back = decode_value(row["value_type"], row["value"])
        assert back == m.value or (math.isnan(back) and math.isnan(m.value))
    assert [r["final_attempt"] for r in rows[:4]] == ["0", "1", "1", "1"]
    assert rows[0]["attempt_error"] == "open, circuit"
    assert rows[2]["value"] == 'say "hi",\nok'  # quoted correctly, newline kept
    assert rows[1]["value"] == "0.5" and rows[1]["low"] == "1.0" and rows[1]["units"] == "V"
    assert rows[3]["high"] == "inf"
    assert rows[0]["run_duration_s"] == "1.0" and rows[0]["retest"] == "0"


def test_csv_to_a_stream_filtered_by_day(store, stored):
    out = io.StringIO()
    assert export_csv(store, out, day="2026-03-15") == 1
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["serial"] for r in rows] == ["PB-3"]
