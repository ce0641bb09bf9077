"""Migration 3: a store written with the v1 step tables (steps, attempts, measurements) upgrades
to one row per step and reads back exactly what was recorded."""

from __future__ import annotations

import pytest

from edge.records import Outcome, StepResult
from edge.store import RunRecorder, RunStateError, load_run, open_store
from edge.store import migrations as migrations_module
from edge.store.codec import encode_value, storable_text
from tests.edge.test_store_recorder import rich_step


def _insert_v1_step(conn, run_id: str, step: StepResult) -> None:
    """What the v1 recorder wrote for a step (its SQL, kept here as the upgrade's input)."""
    conn.execute("INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (
        run_id, step.index, step.name, str(step.outcome), step.started_utc, step.ended_utc,
        step.duration_s, int(step.critical)))
    for a_pos, a in enumerate(step.attempts):
        conn.execute("INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?)", (
            run_id, step.index, a_pos, a.number, str(a.outcome), a.duration_s,
            None if a.error is None else storable_text(a.error)))
        for m_pos, m in enumerate(a.measurements):
            value_type, value_text, value_real = encode_value(m.value)
            expected_type, expected_text, _ = encode_value(m.limits.expected)
            lim = m.limits
            conn.execute(
                "INSERT INTO measurements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?)",
                (run_id, step.index, a_pos, m_pos, m.name, value_real, value_type, value_text,
                 lim.units, lim.low, lim.high, lim.marginal_low, lim.marginal_high,
                 expected_type, expected_text, str(m.outcome), int(m.marginal)))


@pytest.fixture
def v2_store(db_path, monkeypatch):
    """A file at schema version 2, as a station running the previous release left it."""
    with monkeypatch.context() as m:
        m.setattr(migrations_module, "MIGRATIONS", migrations_module.MIGRATIONS[:2])
        m.setattr(migrations_module, "LATEST_VERSION", 2)
        conn = open_store(db_path)
    assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    yield conn
    conn.close()


def test_v1_steps_upgrade_to_one_row_each_and_read_back_exactly(db_path, v2_store, make_meta,
                                                                 make_step):
    finished, running = make_meta(serial="PB-1"), make_meta(serial="PB-2")
    steps = (rich_step(0), make_step(1, Outcome.FAIL), make_step(2, attempts=()))
    recorder = RunRecorder(v2_store)
    for meta in (finished, running):
        recorder.begin_run(meta)
        with v2_store:
            for step in steps:
                _insert_v1_step(v2_store, meta.run_id, step)
    v2_store.execute("UPDATE runs SET outcome = 'FAIL', ended_utc = started_utc WHERE run_id = ?",
                     (finished.run_id,))
    v2_store.close()

    conn = open_store(db_path)
    assert conn.execute("PRAGMA user_version").fetchone() == (migrations_module.LATEST_VERSION,)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not {"steps", "attempts", "measurements"} & tables
    for meta in (finished, running):
        assert load_run(conn, meta.run_id).steps == steps
    # the view keeps ad-hoc SQL on "steps" working
    assert [r[0] for r in conn.execute(
        "SELECT step_index FROM steps WHERE run_id = ? ORDER BY step_index", (running.run_id,)
    )] == [0, 1, 2]
    # the upgraded running run takes further steps; the finished one refuses them
    upgraded = RunRecorder(conn)
    upgraded.record_step(running.run_id, make_step(3))
    with pytest.raises(RunStateError):
        upgraded.record_step(finished.run_id, make_step(3))
    with pytest.raises(RunStateError):
        upgraded.record_step(running.run_id, make_step(3))
    record = upgraded.finish_run(running.run_id, Outcome.FAIL, "2026-03-14T10:00:00Z", 1.0)
    assert record.steps == (*steps, make_step(3))
    conn.close()
