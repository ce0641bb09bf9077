"""Every outcome class against the fake InvenTree server (a real HTTP server in a subprocess),
through the real store and the real worker, on an injected clock."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from sync_helpers import (
    KEYS,
    STEP_NAMES,
    TOKEN,
    inventree_runs_in_order,
    inventree_settings,
    recorder_at,
    write_run,
    write_token,
)

from edge.records import Outcome
from edge.store import open_store
from edge.sync.backends import make_backend
from edge.sync.clock import ManualClock
from edge.sync.settings import SyncSettings
from edge.sync.status import read_status
from edge.sync.worker import SyncWorker


def worker_for(db: Path, settings: SyncSettings, clock: ManualClock, **kw) -> SyncWorker:
    return SyncWorker(db, settings, clock=clock, rng=random.Random(7),
                      backend=make_backend(settings, TOKEN), **kw)


def outbox_rows(db: Path) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM outbox ORDER BY id")]
    finally:
        conn.close()


def status(db: Path, clock: ManualClock):
    conn = open_store(db)
    try:
        return read_status(conn, "inventory", "inventree", clock.time())
    finally:
        conn.close()


def marker_counts(server) -> dict[str, int]:
    return {k.rsplit(":", 1)[1]: v for k, v in server.control("marker-counts").items()}


@pytest.fixture
def recorder(db, clock):
    rec = recorder_at(db, clock.time)
    yield rec
    rec.close()


def test_delivered_posts_one_bulk_per_run_with_the_marker(inventree, db, clock, recorder):
    ids = [write_run(recorder, "PB-00001"), write_run(recorder, "PB-00002", Outcome.FAIL)]
    worker_for(db, inventree_settings(inventree.base_url), clock).run(until_idle=True)

    assert marker_counts(inventree) == {ids[0]: 1, ids[1]: 1}
    results = inventree.control("results")
    assert len(results) == 2 * len(STEP_NAMES)
    assert {r["key"] for r in results} == set(KEYS)
    assert all(r["test_station"] == "bench-1" for r in results)
    fail_rail = [r for r in results if r["serial"] == "PB-00002" and r["key"] == "powerrailsvcc"]
    assert fail_rail[0]["result"] is False and fail_rail[0]["value"] == "4.1 V"
    rows = outbox_rows(db)
    assert [r["state"] for r in rows] == ["delivered", "delivered"]
    assert all(r["attempts"] == 1 and r["remote_ref"].startswith("item ") for r in rows)
    s = status(db, clock)
    assert (s.queue_depth, s.parked, s.state, s.message) == (0, 0, "up", "all results delivered")
    assert s.last_success_utc is not None


def test_stock_item_is_created_with_serial_numbers_once_and_reused(inventree, db, clock,
                                                                   recorder):
    for _ in range(3):
        write_run(recorder, "PB-00007")
    worker_for(db, inventree_settings(inventree.base_url), clock).run(until_idle=True)
    stock = inventree.control("stock")
    assert [(s["serial"], s["quantity"]) for s in stock] == [("PB-00007", 1.0)]


def test_fail_sets_the_configured_stock_status(inventree, db, clock, recorder):
    write_run(recorder, "PB-00003", Outcome.FAIL)
    write_run(recorder, "PB-00004", Outcome.PASS)
    settings = inventree_settings(inventree.base_url, fail_status="REJECTED")
    worker_for(db, settings, clock).run(until_idle=True)
    status_by_serial = {s["serial"]: s["status"] for s in inventree.control("stock")}
    assert status_by_serial == {"PB-00003": 65, "PB-00004": 10}


def test_server_down_at_start_shows_in_status_and_spends_nothing(inventree, db, clock,
                                                                  recorder):
    write_run(recorder, "PB-00001")
    inventree.stop()
    worker_for(db, inventree_settings(inventree.base_url), clock).run(until_idle=True)
    s = status(db, clock)
    assert (s.state, s.last_error_class, s.queue_depth) == ("down", "nothing-sent", 1)
    assert "Connection refused" in s.last_error and s.next_try_utc is not None
    assert outbox_rows(db)[0]["attempts"] == 0  # the start-up probe failed, no delivery tried


def test_nothing_sent_when_refused_then_one_probe_per_interval(inventree, db, clock, recorder):
    worker = worker_for(db, inventree_settings(inventree.base_url), clock)
    worker.run(until_idle=True)  # started while the server is up
    run_id = write_run(recorder, "PB-00001")
    inventree.stop()  # connection refused from now on
    worker.run(until_idle=True)
    row = outbox_rows(db)[0]
    assert (row["state"], row["last_error_class"]) == ("pending", "nothing-sent")
    assert row["attempts"] == 1
    # Refused at the first request (the stock item lookup): nothing could have been stored.
    assert row["needs_reconcile"] == 0
    assert status(db, clock).state == "down"

    start, probes = clock.time(), worker.runner.probes
    worker.run(stop_when=lambda: clock.time() > start + 3600)
    # Full jitter, base 2 s, cap 900 s: about a dozen probes in the first hour, not thousands.
    assert 3 <= worker.runner.probes - probes <= 40
    assert outbox_rows(db)[0]["attempts"] == 1  # probes do not touch the run

    inventree.start()  # same port, same data
    clock.advance(900)
    worker.run(until_idle=True)
    assert marker_counts(inventree) == {run_id: 1}


def test_commit_then_timeout_is_reconciled_not_reposted(inventree, db, clock, recorder):
    run_id = write_run(recorder, "PB-00001")
    inventree.script({"action": "commit_then_sleep", "method": "POST", "path": "/api/stock/test/",
                      "sleep_s": 2.5})
    worker = worker_for(db, inventree_settings(inventree.base_url, read_timeout_s=0.5), clock)
    worker.run(until_idle=True)
    row = outbox_rows(db)[0]
    assert (row["state"], row["last_error_class"], row["needs_reconcile"]) == (
        "pending", "ambiguous", 1)
    assert marker_counts(inventree) == {run_id: 1}  # the server did commit

    clock.advance(900)
    worker.run(until_idle=True)
    row = outbox_rows(db)[0]
    assert row["state"] == "delivered"
    assert marker_counts(inventree) == {run_id: 1}  # found by marker, not posted again


def test_reset_after_commit_is_ambiguous_and_reconciled(inventree, db, clock, recorder):
    run_id = write_run(recorder, "PB-00001")
    inventree.script({"action": "commit_then_drop", "method": "POST", "path": "/api/stock/test/"})
    worker = worker_for(db, inventree_settings(inventree.base_url), clock)
    worker.run(until_idle=True)
    assert outbox_rows(db)[0]["last_error_class"] == "ambiguous"
    clock.advance(900)
    worker.run(until_idle=True)
    assert outbox_rows(db)[0]["state"] == "delivered"
    assert marker_counts(inventree) == {run_id: 1}


@pytest.mark.parametrize("status_code", [502, 504])
def test_gateway_errors_are_ambiguous(inventree, db, clock, recorder, status_code):
    run_id = write_run(recorder, "PB-00001")
    inventree.script({"action": "status", "status": status_code, "method": "POST",
                      "path": "/api/stock/test/", "content_type": "text/html"})
    worker = worker_for(db, inventree_settings(inventree.base_url), clock)
    worker.run(until_idle=True)
    row = outbox_rows(db)[0]
    assert (row["last_error_class"], row["needs_reconcile"]) == ("ambiguous", 1)
    clock.advance(900)
    worker.run(until_idle=True)
    assert marker_counts(inventree) == {run_id: 1}


@pytest.mark.parametrize(
    ("status_code", "retry_after", "expected_floor"),
    [(429, "120", 120.0), (503, "HTTP-DATE+600", 590.0), (500, None, 0.0)],
)
def test_transient_backs_off_and_honours_retry_after(inventree, db, clock, recorder, status_code,
                                                     retry_after, expected_floor):
    from datetime import UTC, datetime
    from email.utils import format_datetime

    run_id = write_run(recorder, "PB-00001")
    if retry_after and retry_after.startswith("HTTP-DATE+"):
        when = clock.time() + float(retry_after.split("+")[1])
        retry_after = format_datetime(datetime.fromtimestamp(when, UTC), usegmt=True)
    rule = {"action": "status", "status": status_code, "method": "POST",
            "path": "/api/stock/test/"}
    if retry_after:
        rule["retry_after"] = retry_after
    inventree.script(rule)
    worker = worker_for(db, inventree_settings(inventree.base_url), clock)
    before = clock.time()
    worker.run(until_idle=True)
    row = outbox_rows(db)[0]
    assert (row["state"], row["last_error_class"]) == ("pending", "transient")
    assert row["next_attempt_at"] >= before + expected_floor
    assert status(db, clock).state == "down"
    # Retry after the wait: delivered once (a 500 is reconciled first, harmlessly).
    clock.advance(row["next_attempt_at"] - clock.time() + 1)
    worker.run(until_idle=True)
    assert outbox_rows(db)[0]["state"] == "delivered"
    assert marker_counts(inventree) == {run_id: 1}


def test_html_200_is_transient_not_delivered(inventree, db, clock, recorder):
    run_id = write_run(recorder, "PB-00001")
    inventree.script({"action": "html200", "method": "POST", "path": "/api/stock/test/"})
    worker = worker_for(db, inventree_settings(inventree.base_url), clock)
    worker.run(until_idle=True)
    row = outbox_rows(db)[0]
    assert (row["state"], row["last_error_class"]) == ("pending", "transient")
    assert "not JSON" in row["last_error"]
    clock.advance(900)
    worker.run(until_idle=True)
    assert marker_counts(inventree) == {run_id: 1}


def test_html_200_on_a_lookup_is_not_taken_as_no_such_item(inventree, db, clock, recorder):
    """The client's list() would return [] and look like "serial not found"; we must not create
    a second item or post anywhere."""
    write_run(recorder, "PB-00001")
    inventree.script({"action": "html200", "method": "GET", "path": "/api/stock/"})
    worker = worker_for(db, inventree_settings(inventree.base_url), clock)
    worker.run(until_idle=True)
    assert outbox_rows(db)[0]["last_error_class"] == "transient"
    # A board new to the station is created first; the lookup that follows got the HTML page:
    # nothing posted, and no second item on the next attempt.
    assert len(inventree.control("stock")) == 1 and inventree.control("results") == []
    clock.advance(900)
    worker.run(until_idle=True)
    assert len(inventree.control("stock")) == 1 and outbox_rows(db)[0]["state"] == "delivered"


def test_expired_token_pauses_target_without_spending_attempts(inventree, db, clock, recorder,
                                                              workdir):
    ids = [write_run(recorder, "PB-00001"), write_run(recorder, "PB-00002")]
    inventree.control("config", {"tokens": {TOKEN: "expired"}})
    token_file = write_token(workdir / "token")
    settings = inventree_settings(inventree.base_url, token_file=token_file)
    worker = SyncWorker(db, settings, clock=clock, rng=random.Random(3))
    worker.run(until_idle=True)
    s = status(db, clock)
    assert s.paused_for_auth and s.state == "auth"
    assert s.message.startswith("inventory login expired")
    assert s.queue_depth == 2 and s.parked == 0
    assert [r["attempts"] for r in outbox_rows(db)] == [0, 0]

    # Hours pass: one authenticated check per auth_retry_s, still nothing spent or dropped.
    start = clock.time()
    worker.run(stop_when=lambda: clock.time() > start + 3 * 3600)
    assert [r["attempts"] for r in outbox_rows(db)] == [0, 0]
    assert status(db, clock).paused_for_auth

    # The technician installs a new token file: delivery resumes at the next check.
    new_token = TOKEN.replace("0123", "9999")
    inventree.control("config", {"tokens": {new_token: "valid"}})
    write_token(token_file, new_token)
    clock.advance(301)
    worker.run(until_idle=True)
    assert marker_counts(inventree) == {ids[0]: 1, ids[1]: 1}
    assert not status(db, clock).paused_for_auth


def test_validation_400_parks_with_reason_and_retry_after_fix(inventree, db, clock, recorder):
    # A template the plan does not know yet: the step has no template on the part.
    run_id = write_run(recorder, "PB-00001", steps=("Power rails", "Leakage current"))
    worker = worker_for(db, inventree_settings(inventree.base_url), clock)
    worker.run(until_idle=True)
    row = outbox_rows(db)[0]
    assert (row["state"], row["last_error_class"]) == ("parked", "permanent")
    assert "leakagecurrentvcc" in row["last_error"]
    s = status(db, clock)
    assert (s.parked, s.queue_depth) == (1, 0) and "need attention" in s.message

    inventree.control("add-template", {"part": inventree.ids["parts"]["Blinker"],
                                       "name": "Leakage current: vcc"})
    conn = open_store(db)
    from edge.sync.outbox import Outbox
    assert Outbox(conn, "inventory").retry_parked(clock.time()) == 1
    conn.close()
    worker.run(until_idle=True)
    assert outbox_rows(db)[0]["state"] == "delivered"
    assert marker_counts(inventree) == {run_id: 1}


def test_server_side_400_on_bulk_parks_and_stores_nothing(inventree, db, clock, recorder):
    write_run(recorder, "PB-00001")
    inventree.script({"action": "status", "status": 400, "method": "POST",
                      "path": "/api/stock/test/",
                      "body": '[{}, {"value": ["Value must be provided for this test"]}]'})
    worker_for(db, inventree_settings(inventree.base_url), clock).run(until_idle=True)
    row = outbox_rows(db)[0]
    assert row["state"] == "parked" and "Value must be provided" in row["last_error"]
    assert inventree.control("results") == []


def test_later_runs_of_a_parked_serial_are_held_in_order(inventree, db, clock, recorder):
    first = write_run(recorder, "PB-00001", steps=("Unknown step",))
    other = write_run(recorder, "PB-00002")
    second = write_run(recorder, "PB-00001")
    mapped = {"products": {"ne555-blinker": {"keys": {"Unknown step/vcc": "powerrailsvcc"}}}}
    worker = worker_for(db, inventree_settings(inventree.base_url, **mapped), clock)
    # With the mapping the first run is deliverable; without it, it is parked and holds the
    # serial's later run back while other serials go on.
    worker_bad = worker_for(db, inventree_settings(inventree.base_url), clock)
    worker_bad.run(until_idle=True)
    rows = {r["run_id"]: r for r in outbox_rows(db)}
    assert rows[first]["state"] == "parked"
    assert rows[other]["state"] == "delivered"
    assert (rows[second]["state"], rows[second]["last_error_class"]) == ("parked", "held")
    assert status(db, clock).held == 1

    conn = open_store(db)
    from edge.sync.outbox import Outbox
    assert Outbox(conn, "inventory").retry_parked(clock.time()) == 2
    conn.close()
    worker.run(until_idle=True)
    order = [run for serial, run in inventree_runs_in_order(inventree) if serial == "PB-00001"]
    assert order == [first, second]


def test_duplicate_serial_400_means_created_by_an_earlier_attempt(inventree, db, clock,
                                                                  recorder):
    run_id = write_run(recorder, "PB-00001")
    # The item exists on the server (an earlier attempt created it, its answer was lost), but
    # the first lookup is answered by a proxy hiccup. The create then gets the duplicate 400.
    inventree.control("seed", {"parts": []})
    settings = inventree_settings(inventree.base_url)
    backend = make_backend(settings, TOKEN)
    backend.probe(clock.time())
    part_pk = inventree.ids["parts"]["Blinker"]
    assert backend._create_item(part_pk, "PB-00001") is True
    backend.forget_cache()
    assert backend._create_item(part_pk, "PB-00001") is False  # "already exists": look it up
    SyncWorker(db, settings, clock=clock, backend=backend).run(until_idle=True)
    assert marker_counts(inventree) == {run_id: 1}
    assert len(inventree.control("stock")) == 1


def test_api_version_too_old_is_refused_clearly_and_nothing_is_lost(inventree, db, clock,
                                                                   recorder):
    run_id = write_run(recorder, "PB-00001")
    inventree.control("config", {"api_version": 300})
    worker = worker_for(db, inventree_settings(inventree.base_url), clock)
    worker.run(until_idle=True)
    s = status(db, clock)
    assert s.state == "incompatible"
    assert "API version 300 is too old" in s.paused_reason and "382" in s.paused_reason
    assert outbox_rows(db)[0]["attempts"] == 0 and s.queue_depth == 1

    inventree.control("config", {"api_version": 479})  # the shop upgrades
    clock.advance(301)
    worker.run(until_idle=True)
    assert marker_counts(inventree) == {run_id: 1}


def test_paginated_answers_are_understood(inventree, db, clock, recorder):
    """A proxy or a future default may add ``limit``: the reconcile GET handles both shapes."""
    from edge.sync.backends.inventree import InvenTreeBackend

    run_id = write_run(recorder, "PB-00001")
    settings = inventree_settings(inventree.base_url)
    backend = make_backend(settings, TOKEN)
    assert isinstance(backend, InvenTreeBackend)
    SyncWorker(db, settings, clock=clock, backend=backend).run(until_idle=True)
    item_pk = inventree.control("stock")[0]["pk"]
    marker = next(iter(inventree.control("marker-counts")))
    assert backend._already_there(item_pk, marker, clock.time())
    backend.session.params = {"limit": 100}
    assert backend._already_there(item_pk, marker, clock.time())
    assert marker.endswith(run_id)


def test_api_version_is_checked_at_start_with_an_empty_queue(inventree, db, clock):
    inventree.control("config", {"api_version": 381})
    worker_for(db, inventree_settings(inventree.base_url), clock).run(until_idle=True)
    s = status(db, clock)
    assert s.state == "incompatible" and "381 is too old" in s.paused_reason
    assert "Upgrade the InvenTree server" in s.paused_reason
