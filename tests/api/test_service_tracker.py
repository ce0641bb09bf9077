"""The run snapshot, event by event: what a client reads from /runs/current."""

from __future__ import annotations

from edge.engine import Gap, MeasurementTaken, RunFinished, RunStarted, StepFinished, StepStarted
from edge.records import Limits, Measurement, Outcome, RunMeta, RunRecord, StepResult
from edge.service.tracker import RunTracker

META = RunMeta(run_id="r1", serial="PBF-000001", product="PowerBank-Foolish", revision="B",
               plan_name="p", plan_version="1", plan_hash="h", station_id="s", fixture_id="f",
               software_version="0", started_utc="2026-12-05T10:00:00.000+00:00",
               clock_synced=True)
M = Measurement("v", 5.0, Limits(4.5, 5.5, "V"), Outcome.PASS)


def _step(index, name, outcome=Outcome.PASS):
    from edge.records import Attempt

    return StepResult(index, name, outcome, "t0", "t1", 0.5, (Attempt(1, outcome, 0.5, (M,)),))


def test_a_run_goes_from_live_to_last_run_and_never_both():
    tracker = RunTracker(lambda run_id: None)
    tracker.apply(RunStarted(1, "r1", META, ("check", "measure", "off"), ("off",)))
    snap = tracker.snapshot()
    assert snap["state"] == "running" and snap["last_run"] is None
    assert [s["teardown"] for s in snap["run"]["steps"]] == [False, False, True]
    tracker.apply(StepStarted(2, "r1", 1, "measure", 1, 5.0, False, False))
    tracker.apply(MeasurementTaken(3, "r1", 1, "measure", M))
    snap = tracker.snapshot()
    assert snap["run"]["current_step"] == 1
    assert snap["run"]["steps"][1]["state"] == "running"
    assert snap["run"]["steps"][1]["measurements"][0]["value"] == 5.0
    tracker.apply(StepFinished(4, "r1", _step(1, "measure")))
    assert tracker.snapshot()["run"]["steps"][1]["outcome"] == "PASS"
    record = RunRecord(META, Outcome.PASS, "t2", 1.0, (_step(1, "measure"),))
    tracker.apply(RunFinished(5, "r1", record))
    snap = tracker.snapshot()
    assert snap["state"] == "idle" and snap["run"] is None
    assert snap["last_run"]["outcome"] == "PASS" and snap["seq"] == 5


def test_the_live_run_says_its_elapsed_time_on_the_stations_clock():
    now = [100.0]
    tracker = RunTracker(lambda run_id: None, clock=lambda: now[0])
    tracker.apply(RunStarted(1, "r1", META, ("a",), ()))
    now[0] = 112.5
    assert tracker.snapshot()["run"]["elapsed_s"] == 12.5
    record = RunRecord(META, Outcome.PASS, "t2", 1.0, ())
    tracker.apply(RunFinished(2, "r1", record))
    assert tracker.snapshot()["run"] is None


def test_a_snapshot_is_a_copy():
    tracker = RunTracker(lambda run_id: None)
    tracker.apply(RunStarted(1, "r1", META, ("a",), ()))
    snap = tracker.snapshot()
    snap["run"]["steps"][0]["measurements"].append("x")
    assert tracker.snapshot()["run"]["steps"][0]["measurements"] == []


def test_after_a_gap_the_run_is_rebuilt_from_the_store():
    stored = RunRecord(META, Outcome.RUNNING, None, None, (_step(0, "check"),))
    tracker = RunTracker(lambda run_id: stored)
    tracker.apply(RunStarted(1, "r1", META, ("check", "measure"), ()))
    tracker.apply(Gap(9, "", 2))
    assert tracker.snapshot()["run"]["steps"][0]["outcome"] == "PASS"
    finished = RunRecord(META, Outcome.FAIL, "t", 1.0, (_step(0, "check", Outcome.FAIL),))
    tracker._load_run = lambda run_id: finished
    tracker.apply(Gap(20, "", 10))  # the RunFinished was among the lost events
    snap = tracker.snapshot()
    assert snap["run"] is None and snap["last_run"]["outcome"] == "FAIL"


def test_a_run_without_a_stored_verdict_is_no_longer_shown_live():
    tracker = RunTracker(lambda run_id: None)
    tracker.apply(RunStarted(1, "r1", META, ("a",), ()))
    tracker.abandon("r1")
    assert tracker.snapshot()["state"] == "idle" and tracker.snapshot()["last_run"] is None
