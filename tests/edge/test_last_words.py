"""Storage faults name their cause, and the cause of a run the database refused survives to the
next start's recovery (edge/store/last_words.py), in-process with a real SQLite file.

A full disk is made here with SQLite's own limit (``PRAGMA max_page_count``: SQLITE_FULL, the
same result code a full filesystem gives); the end-to-end tests fill a real tmpfs."""

from __future__ import annotations

import sqlite3

import pytest

from edge.store import (
    INTERRUPTED_ERROR,
    StoreFullError,
    StoreLockedError,
    open_store,
    recover_interrupted,
)
from edge.store.last_words import SIZE, last_words_path, read_last_words


def _fill_database(conn: sqlite3.Connection) -> None:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")


def test_a_full_disk_mid_run_is_recovered_as_disk_full(db_path, store, recorder, make_meta,
                                                       make_step, store_now):
    meta = make_meta()
    recorder.begin_run(meta)
    recorder.record_step(meta.run_id, make_step(0))
    assert last_words_path(db_path).stat().st_size == SIZE  # preallocated at start
    _fill_database(store)
    big = make_step(1, name="x" * 20000)  # needs new pages
    with pytest.raises(StoreFullError) as refused:
        recorder.record_step(meta.run_id, big)
    assert refused.value.cause == "disk full"
    # The station stops here (its verdict could not be written either: see the e2e test).
    words = read_last_words(db_path)
    assert words is not None and words.run_id == meta.run_id
    assert words.cause.startswith("disk full (record step 1")  # the first refusal is kept
    assert last_words_path(db_path).stat().st_size == SIZE  # rewritten in place

    store.execute("PRAGMA max_page_count=1073741823")  # space again: the next start
    fresh = open_store(db_path)
    try:
        assert recover_interrupted(fresh, store_now) == [meta.run_id]
        outcome, error = fresh.execute("SELECT outcome, error FROM runs").fetchone()
        steps = fresh.execute("SELECT count(*) FROM steps").fetchone()[0]
    finally:
        fresh.close()
    assert outcome == "ABORTED" and "disk full" in error and error != INTERRUPTED_ERROR
    assert steps == 1  # nothing already stored was lost
    assert read_last_words(db_path) is None  # used once, then blanked


def test_a_lock_held_by_another_program_is_named(db_path, store, recorder, make_meta,
                                                 make_step):
    meta = make_meta()
    recorder.begin_run(meta)
    store.execute("PRAGMA busy_timeout=50")  # the station waits 10 s; the test need not
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreLockedError, match="database locked by another program") as e:
            recorder.record_step(meta.run_id, make_step(0))
        assert e.value.cause == "database locked"
    finally:
        other.execute("ROLLBACK")
        other.close()
    words = read_last_words(db_path)
    assert words is not None and words.cause.startswith("database locked")
    recorder.record_step(meta.run_id, make_step(0))  # the lock is gone: writing works again


def test_a_crash_without_last_words_keeps_the_generic_cause(db_path, store, recorder,
                                                            make_meta, store_now):
    meta = make_meta()
    recorder.begin_run(meta)
    fresh = open_store(db_path)
    try:
        recover_interrupted(fresh, store_now)
        (error,) = fresh.execute("SELECT error FROM runs").fetchone()
    finally:
        fresh.close()
    assert error == INTERRUPTED_ERROR
