"""Opening the result database: settings, migrations, and refusing files we must not touch."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from edge.store import NotAResultStoreError, SchemaTooNewError, open_store
from edge.store import migrations as migrations_module
from edge.store.db import check_integrity, schema_version
from edge.store.migrations import APPLICATION_ID, LATEST_VERSION, MIGRATIONS


def schema_of(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def test_a_new_file_gets_the_latest_schema_and_durable_settings(db_path):
    conn = open_store(db_path)
    assert schema_version(conn) == LATEST_VERSION
    assert conn.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    tables = {name for kind, name, _ in schema_of(conn) if kind == "table"}
    assert {"runs", "step_results", "outbox"} <= tables
    assert ("view", "steps") in {(kind, name) for kind, name, _ in schema_of(conn)}
    indexes = {name for kind, name, _ in schema_of(conn) if kind == "index"}
    assert {"runs_by_serial", "runs_by_started", "runs_by_product"} <= indexes
    conn.close()


def test_an_existing_empty_file_is_initialised(db_path):
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"")
    conn = open_store(db_path)
    assert schema_version(conn) == LATEST_VERSION
    conn.close()


def test_reopening_is_a_no_op(db_path):
    first = open_store(db_path)
    before = schema_of(first)
    first.close()
    again = open_store(db_path)
    assert schema_of(again) == before
    assert schema_version(again) == LATEST_VERSION
    again.close()


def test_directory_and_file_are_created_private(tmp_path):
    path = tmp_path / "state" / "pibench" / "results.sqlite3"
    open_store(path).close()
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o027 == 0  # no group write, no others
    assert stat.S_IMODE(path.stat().st_mode) & 0o037 == 0


def test_a_newer_schema_is_refused_not_downgraded(db_path):
    open_store(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version={LATEST_VERSION + 1}")
    raw.close()
    with pytest.raises(SchemaTooNewError, match="newer pibench") as info:
        open_store(db_path)
    assert str(db_path) in str(info.value)
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone() == (LATEST_VERSION + 1,)
    raw.close()


def test_a_garbage_file_is_refused_naming_it(db_path):
    db_path.parent.mkdir(parents=True)
    garbage = b"these are not the pages you are looking for\n" * 200
    db_path.write_bytes(garbage)
    with pytest.raises(NotAResultStoreError) as info:
        open_store(db_path)
    assert str(db_path) in str(info.value)
    assert db_path.read_bytes() == garbage  # evidence left untouched


def test_another_programs_database_is_refused(db_path):
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    raw.execute("CREATE TABLE contacts (name TEXT)")
    raw.commit()
    raw.close()
    with pytest.raises(NotAResultStoreError, match="not a pibench result store") as info:
        open_store(db_path)
    assert str(db_path) in str(info.value)


def test_a_damaged_page_is_found_by_the_integrity_check(db_path, recorder, make_meta, make_step):
    for _ in range(8):
        meta = make_meta()
        recorder.begin_run(meta)
        for index in range(5):
            recorder.record_step(meta.run_id, make_step(index))
    recorder.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = recorder.connection.execute("PRAGMA page_size").fetchone()[0]
    recorder.connection.close()
    data = bytearray(db_path.read_bytes())
    assert len(data) > 4 * page_size
    data[3 * page_size : 4 * page_size] = b"\xa5" * page_size
    db_path.write_bytes(bytes(data))
    with pytest.raises(NotAResultStoreError) as info:
        conn = open_store(db_path, integrity_check=True)
        check_integrity(conn)
    assert str(db_path) in str(info.value)


def test_migrations_are_numbered_one_by_one():
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_a_failing_migration_leaves_the_previous_version(db_path, monkeypatch):
    open_store(db_path).close()
    broken = migrations_module.Migration(
        LATEST_VERSION + 1, "adds a table, then fails",
        ("CREATE TABLE half_done (x)", "THIS IS NOT SQL"),
    )
    monkeypatch.setattr(migrations_module, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(migrations_module, "LATEST_VERSION", LATEST_VERSION + 1)
    with pytest.raises(NotAResultStoreError, match="syntax error"):
        open_store(db_path)
    monkeypatch.undo()
    conn = open_store(db_path)
    assert schema_version(conn) == LATEST_VERSION
    assert "half_done" not in {name for _, name, _ in schema_of(conn)}
    conn.close()
