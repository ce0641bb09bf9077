"""RunRecorder: what the engine writes is durable step by step, and reads back exactly."""

from __future__ import annotations

import json
import math
import threading

import pytest

from edge.records import Attempt, Limits, Measurement, Outcome, RunRecord, StepResult
from edge.store import (
    RunRecorder,
    RunStateError,
    StoreFullError,
    StoreWriteError,
    UnknownRunError,
    load_run,
    open_store,
    recover_interrupted,
)
from edge.store import recorder as recorder_module
from edge.store.payload import payload_text


def rich_step(index: int) -> StepResult:
    """Every field and every kind of measured value, including the ones SQLite mangles alone."""
    first = Attempt(
        number=1,
        outcome=Outcome.ERROR,
        duration_s=0.125,
        measurements=(Measurement("ack", False, Limits(expected=True), Outcome.FAIL),),
        error="I2C NACK at 0x20 — fixture not seated",
    )
    second = Attempt(
        number=2,
        outcome=Outcome.MARGINAL,
        duration_s=0.2501,
        measurements=(
            Measurement("vcc", 5.2, Limits(4.75, 5.25, "V", 4.8, 5.15), Outcome.MARGINAL),
            Measurement("period", 0.1 + 0.2, Limits(low=0.25, units="s"), Outcome.PASS),
            Measurement("leak", 1e-9, Limits(high=1e-6, units="µA"), Outcome.PASS),
            Measurement("offset", -0.0, Limits(-1, 1, "mV"), Outcome.PASS),
            Measurement("pattern", 0x55, Limits(expected=0x55), Outcome.PASS),
            Measurement("chip_uid", 2**64 + 7, Limits(expected=2**64 + 7), Outcome.PASS),
            Measurement("led_on", True, Limits(expected=True), Outcome.PASS),
            Measurement("fw", "v1.2 ✓", Limits(expected="v1.2 ✓"), Outcome.PASS),
            Measurement("note", None, Limits(), Outcome.PASS),
            Measurement("noise", float("inf"), Limits(), Outcome.PASS),
            Measurement("count", 3, Limits(1, 5, "pulses"), Outcome.PASS),
            Measurement("ratio", 1.5, Limits(expected=1.5), Outcome.PASS),
        ),
    )
    return StepResult(
        index=index,
        name=f"Supply ramp Ω {index}",
        outcome=Outcome.MARGINAL,
        started_utc="2026-03-14T09:00:01.000001Z",
        ended_utc="2026-03-14T10:00:02+01:00",
        duration_s=1.000_000_1,
        attempts=(first, second),
        critical=True,
    )


def full_meta(make_meta):
    return make_meta(
        operator="Zoé",
        batch="2026-W11",
        retest=True,
        clock_synced=False,
        extra={"fixture_cycles": 1234, "notes": ["reworked", "ü"], "nested": {"a": None}},
    )


def test_every_field_round_trips(recorder, make_meta, make_step):
    meta = full_meta(make_meta)
    steps = (rich_step(0), make_step(1, Outcome.FAIL), make_step(2, attempts=()))
    recorder.begin_run(meta)
    for step in steps:
        recorder.record_step(meta.run_id, step)
    returned = recorder.finish_run(
        meta.run_id, Outcome.FAIL, "2026-03-14T09:01:00Z", 60.25, error="step 1 failed"
    )

    expected = RunRecord(meta, Outcome.FAIL, "2026-03-14T09:01:00Z", 60.25, steps, "step 1 failed")
    assert returned == expected
    assert load_run(recorder.connection, meta.run_id) == expected
    # Values equality would let these slip: check types and signs too.
    loaded = load_run(recorder.connection, meta.run_id).steps[0].attempts[1].measurements
    by_name = {m.name: m.value for m in loaded}
    assert type(by_name["pattern"]) is int and type(by_name["led_on"]) is bool
    assert type(by_name["count"]) is int and type(by_name["vcc"]) is float
    assert math.copysign(1, by_name["offset"]) == -1
    assert by_name["chip_uid"] == 2**64 + 7


def test_nan_survives_even_though_sqlite_turns_it_into_null(recorder, make_meta, make_step):
    meta = make_meta()
    recorder.begin_run(meta)
    nan_step = make_step(
        0,
        Outcome.FAIL,
        attempts=(Attempt(1, Outcome.FAIL, 0.1, (
            Measurement("v", float("nan"), Limits(0, 1, "V"), Outcome.FAIL),)),),
    )
    recorder.record_step(meta.run_id, nan_step)
    value = recorder.load_run(meta.run_id).steps[0].attempts[0].measurements[0].value
    assert isinstance(value, float) and math.isnan(value)


def test_unexpected_value_type_is_kept_as_text_not_dropped(recorder, make_meta, make_step):
    meta = make_meta()
    recorder.begin_run(meta)
    odd = make_step(0, attempts=(Attempt(1, Outcome.PASS, 0.1, (
        Measurement("raw", b"\x01\x02", Limits(), Outcome.PASS),)),))  # type: ignore[arg-type]
    recorder.record_step(meta.run_id, odd)
    assert recorder.load_run(meta.run_id).steps[0].measurements[0].value == "b'\\x01\\x02'"


def test_run_reads_running_until_finished(recorder, reader, make_meta, make_step):
    meta = make_meta()
    recorder.begin_run(meta)
    assert load_run(reader, meta.run_id) == RunRecord(meta, Outcome.RUNNING, None, None)
    recorder.record_step(meta.run_id, make_step(0))
    assert load_run(reader, meta.run_id).outcome is Outcome.RUNNING
    recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:00:30Z", 30.0)
    assert load_run(reader, meta.run_id).outcome is Outcome.PASS


def test_each_step_is_visible_to_another_connection_before_the_next(
    recorder, reader, make_meta, make_step
):
    meta = make_meta()
    recorder.begin_run(meta)
    for index in range(5):
        step = make_step(index)
        recorder.record_step(meta.run_id, step)
        seen = load_run(reader, meta.run_id)
        assert seen.steps[-1] == step
        assert len(seen.steps) == index + 1


def test_every_write_is_committed_when_the_call_returns(recorder, make_meta, make_step):
    meta = make_meta()
    recorder.begin_run(meta)
    assert not recorder.connection.in_transaction
    recorder.record_step(meta.run_id, make_step(0))
    assert not recorder.connection.in_transaction


def test_a_step_is_refused_rather_than_left_uncommitted_in_an_open_transaction(
        recorder, reader, make_meta, make_step):
    # A step is one INSERT in autocommit mode, committed as it runs; inside a transaction left
    # open on the connection it would only be committed by someone else's COMMIT.
    meta = make_meta()
    recorder.begin_run(meta)
    recorder.connection.execute("BEGIN")
    try:
        with pytest.raises(StoreWriteError, match="transaction is open"):
            recorder.record_step(meta.run_id, make_step(0))
    finally:
        recorder.connection.execute("ROLLBACK")
    recorder.record_step(meta.run_id, make_step(1))
    assert [s.index for s in load_run(reader, meta.run_id).steps] == [1]


def test_finish_writes_exactly_one_outbox_row_with_the_stored_record(
    recorder, reader, make_meta, make_step, store_now
):
    meta = make_meta()
    recorder.begin_run(meta)
    recorder.record_step(meta.run_id, make_step(0))
    record = recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:00:30Z", 30.0)

    rows = reader.execute(
        "SELECT run_id, target, payload, created_utc, state, attempts, next_attempt_at,"
        " last_error_class, last_error, delivered_utc, remote_ref FROM outbox"
    ).fetchall()
    assert rows == [(
        meta.run_id, "inventory", payload_text(record), store_now.isoformat(), "pending", 0,
        store_now.timestamp(), None, None, None, None,
    )]
    assert json.loads(rows[0][2])["schema"] == "pibench.run/1"


def test_failure_inside_finish_writes_nothing_and_leaves_the_run_recoverable(
    recorder, reader, monkeypatch, make_meta, make_step, store_now
):
    meta = make_meta()
    recorder.begin_run(meta)
    recorder.record_step(meta.run_id, make_step(0))
    recorder.record_step(meta.run_id, make_step(1))

    def broken_outbox(*args, **kwargs):
        raise OSError("simulated failure while queueing the run")

    monkeypatch.setattr(recorder_module, "enqueue_for_delivery", broken_outbox)
    with pytest.raises(OSError, match="simulated failure"):
        recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:00:30Z", 30.0)
    monkeypatch.undo()

    # Neither the verdict nor the outbox row exists: the UPDATE was rolled back with it.
    assert load_run(reader, meta.run_id).outcome is Outcome.RUNNING
    assert reader.execute("SELECT count(*) FROM outbox").fetchone() == (0,)
    assert not recorder.connection.in_transaction
    # The station restarts: the run is recovered with both steps and queued.
    assert recover_interrupted(reader, store_now) == [meta.run_id]
    recovered = load_run(reader, meta.run_id)
    assert recovered.outcome is Outcome.ABORTED and len(recovered.steps) == 2
    assert reader.execute("SELECT count(*) FROM outbox").fetchone() == (1,)


def test_finish_can_be_retried_after_a_failure(recorder, monkeypatch, make_meta):
    meta = make_meta()
    recorder.begin_run(meta)
    monkeypatch.setattr(recorder_module, "enqueue_for_delivery", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:00:30Z", 30.0)
    monkeypatch.undo()
    record = recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:00:30Z", 30.0)
    assert record.outcome is Outcome.PASS


def test_finishing_twice_is_an_error_not_a_duplicate(recorder, make_meta):
    meta = make_meta()
    recorder.begin_run(meta)
    recorder.finish_run(meta.run_id, Outcome.FAIL, "2026-03-14T09:00:30Z", 30.0)
    with pytest.raises(RunStateError, match="already finished"):
        recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:00:31Z", 31.0)
    assert recorder.load_run(meta.run_id).outcome is Outcome.FAIL
    assert recorder.connection.execute("SELECT count(*) FROM outbox").fetchone() == (1,)


def test_steps_are_refused_for_unknown_or_finished_runs_and_twice(recorder, make_meta, make_step):
    with pytest.raises(UnknownRunError):
        recorder.record_step("00000000-0000-4000-8000-000000000000", make_step(0))
    meta = make_meta()
    recorder.begin_run(meta)
    recorder.record_step(meta.run_id, make_step(0))
    with pytest.raises(RunStateError, match="already recorded"):
        recorder.record_step(meta.run_id, make_step(0, Outcome.FAIL))
    recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:00:30Z", 30.0)
    with pytest.raises(RunStateError, match="finished"):
        recorder.record_step(meta.run_id, make_step(1))
    assert [s.outcome for s in recorder.load_run(meta.run_id).steps] == [Outcome.PASS]


def test_finishing_an_unknown_run_is_an_error(recorder):
    with pytest.raises(UnknownRunError):
        recorder.finish_run(
            "00000000-0000-4000-8000-000000000000", Outcome.PASS, "2026-03-14T09:00:30Z", 1.0
        )


def test_begin_refuses_reused_or_malformed_ids_and_non_json_extra(recorder, make_meta):
    meta = make_meta()
    recorder.begin_run(meta)
    with pytest.raises(RunStateError, match="already exists"):
        recorder.begin_run(meta)
    with pytest.raises(ValueError, match="canonical UUID"):
        recorder.begin_run(make_meta(run_id="not-a-uuid"))
    with pytest.raises(ValueError, match="canonical UUID"):
        recorder.begin_run(make_meta(run_id=meta.run_id.upper()))
    with pytest.raises(ValueError, match="JSON"):
        recorder.begin_run(make_meta(extra={"pins": (1, 2)}))
    with pytest.raises(ValueError, match="ISO-8601"):
        recorder.begin_run(make_meta(started_utc="yesterday"))


def test_a_run_cannot_finish_as_running(recorder, make_meta):
    meta = make_meta()
    recorder.begin_run(meta)
    with pytest.raises(ValueError, match="RUNNING"):
        recorder.finish_run(meta.run_id, Outcome.RUNNING, "2026-03-14T09:00:30Z", 1.0)


def test_has_runs_for_decides_retest(recorder, make_meta):
    assert not recorder.has_runs_for("PB-1", "ne555-blinker")
    recorder.begin_run(make_meta(serial="PB-1"))
    assert recorder.has_runs_for("PB-1", "ne555-blinker")
    assert not recorder.has_runs_for("PB-1", "other-product")
    assert not recorder.has_runs_for("PB-2", "ne555-blinker")


def test_refuses_to_start_a_run_without_free_space(store, make_meta):
    recorder = RunRecorder(store, min_free_bytes=2**62)
    with pytest.raises(StoreFullError, match="free"):
        recorder.begin_run(make_meta())


def test_database_refuses_to_rewrite_a_verdict_or_a_payload(recorder, make_meta):
    meta = make_meta()
    recorder.begin_run(meta)
    recorder.finish_run(meta.run_id, Outcome.FAIL, "2026-03-14T09:00:30Z", 30.0)
    conn = recorder.connection
    with pytest.raises(Exception, match="finished run cannot be changed"):
        conn.execute("UPDATE runs SET outcome = 'PASS' WHERE run_id = ?", (meta.run_id,))
    with pytest.raises(Exception, match="never rewritten"):
        conn.execute("UPDATE outbox SET payload = '{}'")
    # The sync's own updates stay possible.
    conn.execute("UPDATE outbox SET state = 'delivered', attempts = 1, remote_ref = 'x'")


def test_recorder_opened_by_path_owns_and_closes_its_connection(db_path, make_meta):
    with RunRecorder.open(db_path) as recorder:
        meta = make_meta()
        recorder.begin_run(meta)
    conn = open_store(db_path)
    assert load_run(conn, meta.run_id).outcome is Outcome.RUNNING
    conn.close()


def test_recorder_can_be_created_in_one_thread_and_used_in_another(recorder, make_meta, make_step):
    meta = make_meta()
    errors: list[BaseException] = []

    def engine_thread():
        try:
            recorder.begin_run(meta)
            recorder.record_step(meta.run_id, make_step(0))
            recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:00:30Z", 1.0)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=engine_thread)
    worker.start()
    worker.join()
    assert errors == []
    assert recorder.load_run(meta.run_id).outcome is Outcome.PASS


def test_sqlite_refusing_a_write_is_a_store_error_naming_the_file(
    recorder, db_path, make_meta, make_step
):
    meta = make_meta()
    recorder.begin_run(meta)
    recorder.connection.execute("PRAGMA query_only=ON")  # stands in for a full or failing disk
    with pytest.raises(StoreWriteError, match="record step 0") as info:
        recorder.record_step(meta.run_id, make_step(0))
    assert str(db_path) in str(info.value)
    recorder.connection.execute("PRAGMA query_only=OFF")
    assert not recorder.connection.in_transaction
    recorder.record_step(meta.run_id, make_step(0))  # nothing half-written blocks the retry
    assert len(recorder.load_run(meta.run_id).steps) == 1
