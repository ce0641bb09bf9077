"""Recovery at station start: runs a crash left RUNNING become ABORTED, with steps and outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from edge.records import Outcome
from edge.store import INTERRUPTED_ERROR, load_run, recover_interrupted

RESTART = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)  # two days after the power cut


def outbox_rows(conn):
    return conn.execute(
        "SELECT run_id, state, created_utc, payload FROM outbox ORDER BY id"
    ).fetchall()


def test_running_runs_become_aborted_with_their_steps_and_an_outbox_row(
    recorder, reader, make_meta, make_step
):
    finished, interrupted, empty = make_meta(), make_meta(), make_meta()
    recorder.begin_run(finished)
    recorder.finish_run(finished.run_id, Outcome.PASS, "2026-03-14T09:00:30Z", 30.0)
    recorder.begin_run(interrupted)
    steps = [make_step(0), make_step(1, Outcome.FAIL)]
    for step in steps:
        recorder.record_step(interrupted.run_id, step)
    recorder.begin_run(empty)

    assert recover_interrupted(reader, RESTART) == [interrupted.run_id, empty.run_id]

    record = load_run(reader, interrupted.run_id)
    assert record.outcome is Outcome.ABORTED
    assert record.error == INTERRUPTED_ERROR
    assert list(record.steps) == steps
    assert record.ended_utc == steps[-1].ended_utc  # last sign of life, not the restart time
    assert record.duration_s is None  # the monotonic clock did not survive
    assert load_run(reader, empty.run_id).ended_utc == empty.started_utc
    assert load_run(reader, finished.run_id).outcome is Outcome.PASS

    rows = outbox_rows(reader)
    assert [(r[0], r[1]) for r in rows] == [
        (finished.run_id, "pending"), (interrupted.run_id, "pending"), (empty.run_id, "pending"),
    ]
    assert rows[1][2] == RESTART.isoformat()
    payload = json.loads(rows[1][3])
    assert (payload["outcome"], payload["error"], len(payload["steps"])) == (
        "ABORTED", INTERRUPTED_ERROR, 2,
    )


def test_recovery_twice_changes_nothing_the_second_time(recorder, reader, make_meta, make_step):
    meta = make_meta()
    recorder.begin_run(meta)
    recorder.record_step(meta.run_id, make_step(0))
    assert recover_interrupted(reader, RESTART) == [meta.run_id]
    before = (load_run(reader, meta.run_id), outbox_rows(reader))

    assert recover_interrupted(reader, "2026-03-17T08:00:00Z") == []
    assert (load_run(reader, meta.run_id), outbox_rows(reader)) == before


def test_nothing_to_recover_on_a_clean_store(reader):
    assert recover_interrupted(reader, RESTART) == []
