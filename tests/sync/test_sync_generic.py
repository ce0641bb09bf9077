"""Every outcome class against the fake generic JSON endpoint (a real HTTP server in a
subprocess), through the real store and worker, on an injected clock."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
from sync_helpers import GENERIC_TOKEN, generic_settings, recorder_at, write_run

from edge.store import open_store
from edge.sync.backends import make_backend
from edge.sync.clock import ManualClock
from edge.sync.outbox import Outbox
from edge.sync.settings import SyncSettings
from edge.sync.status import read_status
from edge.sync.worker import SyncWorker


def worker_for(db: Path, settings: SyncSettings, clock: ManualClock) -> SyncWorker:
    return SyncWorker(db, settings, clock=clock, rng=random.Random(5),
                      backend=make_backend(settings, GENERIC_TOKEN))


def rows(db: Path) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM outbox ORDER BY id")]
    finally:
        conn.close()


@pytest.fixture
def recorder(db, clock):
    rec = recorder_at(db, clock.time)
    yield rec
    rec.close()


def test_delivered_sends_the_snapshot_bytes_with_the_idempotency_key(generic, db, clock,
                                                                     recorder):
    run_id = write_run(recorder, "PB-00001")
    worker_for(db, generic_settings(generic.base_url), clock).run(until_idle=True)
    received = generic.control("received")
    assert [s["key"] for s in received["stored"]] == [run_id]
    assert received["posts"] == {run_id: 1}
    row = rows(db)[0]
    assert row["state"] == "delivered" and row["remote_ref"] == "res-1"
    body = json.loads(row["payload"])
    assert body["schema"] == "pibench.run/1" and body["run_id"] == run_id


def test_409_after_a_lost_answer_counts_as_delivered(generic, db, clock, recorder):
    run_id = write_run(recorder, "PB-00001")
    generic.script({"action": "commit_then_drop", "method": "POST"})
    worker = worker_for(db, generic_settings(generic.base_url), clock)
    worker.run(until_idle=True)
    assert rows(db)[0]["last_error_class"] == "ambiguous"
    clock.advance(900)
    worker.run(until_idle=True)
    row = rows(db)[0]
    assert row["state"] == "delivered" and row["attempts"] == 2
    received = generic.control("received")
    assert received["posts"] == {run_id: 2} and len(received["stored"]) == 1


def test_commit_then_timeout_resends_same_bytes_and_server_dedupes(generic, db, clock,
                                                                   recorder):
    run_id = write_run(recorder, "PB-00001")
    generic.script({"action": "commit_then_sleep", "method": "POST", "sleep_s": 2.0})
    worker = worker_for(db, generic_settings(generic.base_url, read_timeout_s=0.4), clock)
    worker.run(until_idle=True)
    assert rows(db)[0]["last_error_class"] == "ambiguous"
    clock.advance(900)
    worker.run(until_idle=True)
    received = generic.control("received")
    # A different body under the same key would have been a 422: the bytes were identical.
    assert rows(db)[0]["state"] == "delivered"
    assert [s["key"] for s in received["stored"]] == [run_id]


def test_refused_backs_off_and_probes_until_back(generic, db, clock, recorder):
    worker = worker_for(db, generic_settings(generic.base_url), clock)
    worker.run(until_idle=True)  # started while the server is up
    run_id = write_run(recorder, "PB-00001")
    generic.stop()
    worker.run(until_idle=True)
    assert rows(db)[0]["last_error_class"] == "nothing-sent"
    start, probes = clock.time(), worker.runner.probes
    worker.run(stop_when=lambda: clock.time() > start + 6 * 3600)
    # Full jitter under a 900 s cap waits 450 s on average: ~50 probes in 6 h (seeded rng),
    # whatever the queue holds.
    assert worker.runner.probes - probes <= 2 * 6 * 3600 / 450
    generic.start()
    clock.advance(900)
    worker.run(until_idle=True)
    assert [s["key"] for s in generic.control("received")["stored"]] == [run_id]


@pytest.mark.parametrize(("status_code", "retry_after", "floor"),
                         [(429, "45", 45.0), (503, "Fri, 01 Jan 2100 00:00:00 GMT", 3600.0),
                          (500, None, 0.0), (408, None, 0.0)])
def test_transient_statuses(generic, db, clock, recorder, status_code, retry_after, floor):
    write_run(recorder, "PB-00001")
    rule = {"action": "status", "status": status_code, "method": "POST"}
    if retry_after:
        rule["retry_after"] = retry_after
    generic.script(rule)
    before = clock.time()
    worker = worker_for(db, generic_settings(generic.base_url), clock)
    worker.run(until_idle=True)
    row = rows(db)[0]
    assert (row["state"], row["last_error_class"]) == ("pending", "transient")
    # An HTTP-date a century away is clamped to an hour: a broken proxy cannot silence us.
    # First failure: full jitter in [0.5, 2] s (base 2 s), Retry-After as a floor.
    assert before + floor <= row["next_attempt_at"] <= before + max(floor, 2.0)
    clock.advance(row["next_attempt_at"] - clock.time())
    worker.run(until_idle=True)
    assert rows(db)[0]["state"] == "delivered"


def test_html_200_from_a_portal_is_not_delivered(generic, db, clock, recorder):
    write_run(recorder, "PB-00001")
    generic.script({"action": "html200", "method": "POST"})
    worker = worker_for(db, generic_settings(generic.base_url), clock)
    worker.run(until_idle=True)
    assert rows(db)[0]["last_error_class"] == "transient"
    assert generic.control("received")["stored"] == []
    clock.advance(900)
    worker.run(until_idle=True)
    assert len(generic.control("received")["stored"]) == 1


def test_401_pauses_for_auth_and_spends_nothing(generic, db, clock, recorder):
    write_run(recorder, "PB-00001")
    write_run(recorder, "PB-00002")
    generic.control("config", {"tokens": {GENERIC_TOKEN: "expired"}})
    worker = worker_for(db, generic_settings(generic.base_url), clock)
    start = clock.time()
    worker.run(stop_when=lambda: clock.time() > start + 2 * 3600)
    conn = open_store(db)
    s = read_status(conn, "inventory", "generic", clock.time())
    conn.close()
    assert s.paused_for_auth and s.message.startswith("inventory login expired")
    assert [r["attempts"] for r in rows(db)] == [0, 0]
    assert [r["state"] for r in rows(db)] == ["pending", "pending"]
    generic.control("config", {"tokens": {GENERIC_TOKEN: "valid"}})
    clock.advance(301)
    worker.run(until_idle=True)
    assert [r["state"] for r in rows(db)] == ["delivered", "delivered"]


def test_other_4xx_parks_with_reason_then_retry(generic, db, clock, recorder):
    write_run(recorder, "PB-00001")
    generic.script({"action": "status", "status": 422, "method": "POST",
                    "body": '{"error": "unknown SKU ne555-blinker"}'})
    worker = worker_for(db, generic_settings(generic.base_url), clock)
    worker.run(until_idle=True)
    row = rows(db)[0]
    assert (row["state"], row["last_error_class"]) == ("parked", "permanent")
    assert "unknown SKU" in row["last_error"]
    conn = open_store(db)
    assert Outbox(conn, "inventory").retry_parked(clock.time()) == 1
    conn.close()
    worker.run(until_idle=True)
    assert rows(db)[0]["state"] == "delivered"


def test_redirect_is_permanent_not_followed(generic, db, clock, recorder):
    write_run(recorder, "PB-00001")
    generic.script({"action": "status", "status": 302, "method": "POST"})
    worker_for(db, generic_settings(generic.base_url), clock).run(until_idle=True)
    row = rows(db)[0]
    assert row["state"] == "parked" and "fix the URL" in row["last_error"]


def test_wall_clock_stepping_back_does_not_strand_the_queue(generic, db, clock, recorder):
    """A Pi without RTC can boot hours in the past and jump when NTP syncs. A run scheduled under
    the later clock must not wait those hours out."""
    write_run(recorder, "PB-00001")
    generic.script({"action": "status", "status": 503, "method": "POST", "retry_after": "3600"})
    worker = worker_for(db, generic_settings(generic.base_url), clock)
    worker.run(until_idle=True)
    assert rows(db)[0]["next_attempt_at"] >= clock.time() + 3600
    clock.advance(-6 * 3600)  # the wall clock steps back six hours
    worker.run(until_idle=True)
    assert rows(db)[0]["state"] == "delivered"
