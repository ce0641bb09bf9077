"""The WAL's room (edge.store.wal_room): the file grows once, nothing reaches the database, and
the steps that follow overwrite the file in place and read back whole."""

from __future__ import annotations

import os
import sqlite3
from types import SimpleNamespace

import pytest

from edge.records import Outcome
from edge.store import RunRecorder, StoreWriteError, load_run, open_store
from edge.store import wal_room as wal_room_module
from edge.store.wal_room import ROOM_FRAMES, reserve_wal_room, room_bytes, wal_path


def wal_size(conn: sqlite3.Connection) -> int:
    return os.stat(wal_path(conn)).st_size


def schema(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY name").fetchall()


def test_the_wal_grows_to_its_room_and_nothing_is_committed(store, reader):
    before = schema(store)
    seen = reader.execute("PRAGMA data_version").fetchone()[0]
    size = wal_size(store)

    added = reserve_wal_room(store)

    page_size = store.execute("PRAGMA page_size").fetchone()[0]
    assert added == wal_size(store) - size > 0
    assert wal_size(store) >= room_bytes(page_size) == 32 + ROOM_FRAMES * (page_size + 24)
    # Another connection sees no change: data_version moves with every commit by another one.
    assert reader.execute("PRAGMA data_version").fetchone()[0] == seen
    assert schema(store) == schema(reader) == before
    assert store.execute("PRAGMA cache_size").fetchone()[0] == -256  # put back
    assert store.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not store.in_transaction


def test_a_wal_already_that_large_is_left_alone(store):
    assert reserve_wal_room(store) > 0
    size = wal_size(store)
    assert reserve_wal_room(store) == 0
    assert wal_size(store) == size


def test_steps_then_overwrite_the_file_in_place_through_a_checkpoint(recorder, reader, db_path,
                                                                    make_meta, make_step):
    """25 boards of 50 steps: past CHECKPOINT_PAGES, so a checkpoint copies the WAL into the
    database and the WAL starts again from its beginning; the file never grows."""
    assert recorder.reserve_wal_room() > 0
    size, database_size = wal_size(recorder.connection), os.stat(db_path).st_size
    runs = []
    for _ in range(25):
        meta = make_meta()
        recorder.begin_run(meta)
        steps = [make_step(i) for i in range(50)]
        for step in steps:
            recorder.record_step(meta.run_id, step)
        recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:01:00+00:00", 60.0)
        runs.append((meta.run_id, steps))
        assert wal_size(recorder.connection) == size  # not one byte appended
    assert os.stat(db_path).st_size > database_size  # the checkpoint happened
    for run_id, steps in runs:
        assert list(load_run(reader, run_id).steps) == steps


def test_the_room_survives_closing_and_reopening_without_a_trace(db_path, make_meta, make_step):
    with RunRecorder.open(db_path) as recorder:
        meta = make_meta()
        recorder.begin_run(meta)
        recorder.record_step(meta.run_id, make_step(0))
        recorder.reserve_wal_room()
        recorder.record_step(meta.run_id, make_step(1))
        recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:01:00+00:00", 60.0)
    conn = open_store(db_path, integrity_check=True)
    try:
        assert [s.index for s in load_run(conn, meta.run_id).steps] == [0, 1]
        assert "pibench_wal_room" not in {name for _t, name, _s in schema(conn)}
    finally:
        conn.close()


def test_skipped_when_the_disk_would_be_left_short(store, monkeypatch):
    free = room_bytes(1024) + 10 * 1024 * 1024
    monkeypatch.setattr(wal_room_module.os, "statvfs",
                        lambda _path: SimpleNamespace(f_bavail=free // 4096, f_frsize=4096))
    size = wal_size(store)
    assert reserve_wal_room(store, keep_free_bytes=64 * 1024 * 1024) == 0
    assert wal_size(store) == size
    assert reserve_wal_room(store, keep_free_bytes=1024 * 1024) > 0


def test_the_recorder_keeps_the_space_a_run_needs_to_start(db_path, monkeypatch):
    # Its min_free_bytes is what begin_run refuses below: the room never takes that space.
    # 65 MiB free: enough to start a run, not enough to also give the WAL its room.
    monkeypatch.setattr(wal_room_module.os, "statvfs",
                        lambda _path: SimpleNamespace(f_bavail=65 * 256, f_frsize=4096))
    with RunRecorder.open(db_path, min_free_bytes=64 * 1024 * 1024) as recorder:
        assert recorder.reserve_wal_room() == 0


def test_in_memory_and_mid_transaction(store):
    memory = sqlite3.connect(":memory:")
    try:
        assert reserve_wal_room(memory) == 0
    finally:
        memory.close()
    store.execute("BEGIN")
    try:
        with pytest.raises(RuntimeError, match="no transaction open"):
            reserve_wal_room(store)
    finally:
        store.execute("ROLLBACK")


def test_a_refusal_by_sqlite_is_a_store_error_and_changes_nothing(recorder, make_meta, make_step):
    meta = make_meta()
    recorder.begin_run(meta)
    recorder.record_step(meta.run_id, make_step(0))
    recorder.connection.execute("PRAGMA max_page_count=200")  # as a full disk would refuse
    try:
        with pytest.raises(StoreWriteError, match="reserve room in the WAL file"):
            recorder.reserve_wal_room()
    finally:
        recorder.connection.execute("PRAGMA max_page_count=1073741823")
    assert recorder.connection.execute("PRAGMA cache_size").fetchone()[0] == -256
    recorder.record_step(meta.run_id, make_step(1))
    recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:01:00+00:00", 60.0)
    assert [s.index for s in recorder.load_run(meta.run_id).steps] == [0, 1]


def test_a_station_reserves_in_the_background_and_waits_for_it_when_closing(tmp_path):
    from edge.config import StationConfig
    from edge.station import Station

    config = StationConfig(data_dir=tmp_path / "data")
    with Station(config) as station:
        station.start_wal_room()
    # close() joined the thread before closing the connection; closing the last connection
    # then checkpointed and removed the WAL, as always.
    assert not (tmp_path / "data" / "results.sqlite3-wal").exists()
    with Station(config) as station:
        station.start_wal_room()
        station._wal_room.join()
        assert os.stat(wal_path(station.recorder.connection)).st_size >= room_bytes(1024)


def test_a_station_whose_store_refuses_the_room_says_so_and_goes_on(tmp_path, monkeypatch,
                                                                    caplog, make_meta,
                                                                    make_step):
    from edge.config import StationConfig
    from edge.station import Station
    from edge.store import StoreFullError

    def refuse(_self):
        raise StoreFullError("results.sqlite3: could not reserve room in the WAL file: the disk "
                             "is full")

    monkeypatch.setattr(RunRecorder, "reserve_wal_room", refuse)
    with Station(StationConfig(data_dir=tmp_path / "data")) as station:
        station.start_wal_room()
        station._wal_room.join()
        meta = make_meta()  # the store still records
        station.recorder.begin_run(meta)
        station.recorder.record_step(meta.run_id, make_step(0))
        station.recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:01:00+00:00", 1.0)
    assert "could not reserve room in the WAL file (results are safe" in caplog.text
    assert "the disk is full" in caplog.text
