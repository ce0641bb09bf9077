"""History queries and yield on a hand-built dataset of two products over two UTC days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from edge.records import Outcome
from edge.store import (
    last_runs,
    runs_between,
    runs_for_serial,
    runs_on_day,
    yield_by_product,
)

BLINKER, RELAY = "ne555-blinker", "relay-board"

# (serial, product, started_utc, outcome), in the order the station ran them.
DATASET = [
    ("S1", BLINKER, "2026-03-14T09:00:00Z", Outcome.FAIL),
    ("S1", BLINKER, "2026-03-14T10:00:00Z", Outcome.PASS),  # retest after repair
    ("S2", BLINKER, "2026-03-14T11:00:00Z", Outcome.PASS),
    ("S1", RELAY, "2026-03-14T12:00:00Z", Outcome.PASS),  # same serial text, other product
    ("R2", RELAY, "2026-03-14T13:00:00+00:00", Outcome.ABORTED),
    ("S7", BLINKER, "2026-03-15T01:30:00+02:00", Outcome.PASS),  # 23:30 UTC on the 14th
    ("S3", BLINKER, "2026-03-15T08:00:00Z", Outcome.MARGINAL),
    ("S4", BLINKER, "2026-03-15T09:00:00Z", Outcome.ERROR),
    ("S4", BLINKER, "2026-03-15T09:30:00.5Z", Outcome.PASS),
    ("S5", BLINKER, "2026-03-15T10:00:00Z", Outcome.RUNNING),  # still on the bench
]


@pytest.fixture
def dataset(recorder, make_meta, make_step) -> dict[tuple[str, str, str], str]:
    """Store DATASET through the recorder; map (serial, product, started) -> run_id."""
    ids = {}
    for serial, product, started, outcome in DATASET:
        meta = make_meta(serial=serial, product=product, started_utc=started)
        recorder.begin_run(meta)
        recorder.record_step(meta.run_id, make_step(0))
        if outcome is not Outcome.RUNNING:
            recorder.finish_run(meta.run_id, outcome, started, 1.0)
        ids[serial, product, started] = meta.run_id
    return ids


def keys(summaries) -> list[tuple[str, str, str]]:
    return [(s.meta.serial, s.meta.product, s.meta.started_utc) for s in summaries]


def test_runs_for_a_serial_newest_first(store, dataset):
    assert keys(runs_for_serial(store, "S1")) == [
        ("S1", RELAY, "2026-03-14T12:00:00Z"),
        ("S1", BLINKER, "2026-03-14T10:00:00Z"),
        ("S1", BLINKER, "2026-03-14T09:00:00Z"),
    ]
    only_blinker = runs_for_serial(store, "S1", product=BLINKER, limit=1)
    assert keys(only_blinker) == [("S1", BLINKER, "2026-03-14T10:00:00Z")]
    summary = only_blinker[0]
    assert (summary.outcome, summary.step_count, summary.duration_s) == (Outcome.PASS, 1, 1.0)
    assert summary.meta.run_id == dataset["S1", BLINKER, "2026-03-14T10:00:00Z"]


def test_runs_on_a_utc_day_respect_offsets(store, dataset):
    day1 = runs_on_day(store, "2026-03-14")
    assert [s.meta.serial for s in day1] == ["S7", "R2", "S1", "S2", "S1", "S1"]
    day2 = runs_on_day(store, date(2026, 3, 15), product=BLINKER)
    assert [(s.meta.serial, s.outcome) for s in day2] == [
        ("S5", Outcome.RUNNING), ("S4", Outcome.PASS), ("S4", Outcome.ERROR),
        ("S3", Outcome.MARGINAL),
    ]
    assert runs_on_day(store, "2026-03-16") == []


def test_runs_between_is_half_open(store, dataset):
    found = runs_between(store, "2026-03-14T10:00:00Z", datetime(2026, 3, 14, 12, tzinfo=UTC))
    assert [s.meta.serial for s in found] == ["S2", "S1"]


def test_last_runs(store, dataset):
    assert [s.meta.serial for s in last_runs(store, 3)] == ["S5", "S4", "S4"]
    assert [s.meta.serial for s in last_runs(store, 2, product=RELAY)] == ["R2", "S1"]


def test_filters_are_parameters_not_sql(store, dataset):
    assert runs_for_serial(store, "S1' OR '1'='1") == []
    assert last_runs(store, 100, product="x' OR 1=1 --") == []


def test_yield_per_product(store, dataset):
    yields = yield_by_product(store)
    blinker = yields[BLINKER]
    assert blinker.runs == 8
    assert blinker.outcomes == {
        "ERROR": 1, "FAIL": 1, "PASS": 4, "PASS-MARGINAL": 1, "RUNNING": 1,
    }
    # Serials with a verdict: S1 (first FAIL), S2, S7, S3 (marginal passes), S4 (first ERROR).
    assert (blinker.serials, blinker.first_pass) == (5, 3)
    assert blinker.first_pass_yield == pytest.approx(0.6)
    relay = yields[RELAY]
    assert (relay.runs, relay.serials, relay.first_pass) == (2, 2, 1)
    assert relay.outcomes == {"ABORTED": 1, "PASS": 1}


def test_yield_for_a_period_counts_serials_first_seen_in_it(store, dataset):
    day2 = yield_by_product(store, day="2026-03-15")[BLINKER]
    assert day2.runs == 4
    assert (day2.serials, day2.first_pass) == (2, 1)  # S3 passed first time, S4 did not
    day1 = yield_by_product(store, product=BLINKER, day="2026-03-14")
    assert list(day1) == [BLINKER]
    assert (day1[BLINKER].serials, day1[BLINKER].first_pass) == (3, 2)  # S1 no; S2, S7 yes
    assert yield_by_product(store, day="2026-03-20") == {}


def test_first_run_is_the_one_the_station_ran_first_even_if_the_clock_was_wrong(
    recorder, store, make_meta, make_step
):
    # First run before NTP sync: the wall clock said the 15th; the retest, after sync, says the
    # 14th. The station really tested the unit first at the FAIL.
    for started, outcome in (("2026-03-15T12:00:00Z", Outcome.FAIL),
                             ("2026-03-14T07:00:00Z", Outcome.PASS)):
        meta = make_meta(serial="S6", started_utc=started, clock_synced=False)
        recorder.begin_run(meta)
        recorder.finish_run(meta.run_id, outcome, started, 1.0)
    only = yield_by_product(store)[BLINKER]
    assert (only.serials, only.first_pass) == (1, 0)


def test_no_serials_means_no_yield_figure(recorder, store, make_meta):
    recorder.begin_run(make_meta())  # running: no verdict yet
    result = yield_by_product(store)[make_meta().product]
    assert (result.runs, result.serials, result.first_pass_yield) == (1, 0, None)
