"""A 72-hour outage on an injected clock: thousands of runs queue up while the server is down
(connection refused: its process is stopped), then it comes back and every result reaches it
exactly once, in order per serial, for the cost of one probe per backoff interval."""

from __future__ import annotations

import random
import sqlite3
from collections import defaultdict

import pytest
from sync_helpers import (
    GENERIC_TOKEN,
    TOKEN,
    generic_settings,
    hours,
    inventree_runs_in_order,
    inventree_settings,
    recorder_at,
    write_run,
)

from edge.records import Outcome
from edge.store import open_store
from edge.sync.backends import make_backend
from edge.sync.status import read_status
from edge.sync.worker import SyncWorker

OUTAGE_HOURS = 72
RUNS_PER_HOUR = 28  # 2 016 runs: a busy bench, three shifts a day
STEPS = ("Power rails",)  # one step per run keeps writing 2 000 runs (fsync each) quick


def outbox_order_by_serial(db) -> dict[str, list[str]]:
    conn = sqlite3.connect(db)
    try:
        out: dict[str, list[str]] = defaultdict(list)
        for run_id, serial in conn.execute(
            "SELECT o.run_id, r.serial FROM outbox o JOIN runs r USING (run_id) ORDER BY o.id"
        ):
            out[serial].append(run_id)
        return out
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["inventree", "generic"])
def test_72_hour_outage_then_recovery_exactly_once_in_order(kind, request, db, clock):
    server = request.getfixturevalue(kind)
    if kind == "inventree":
        settings = inventree_settings(server.base_url)
        backend = make_backend(settings, TOKEN)
    else:
        settings = generic_settings(server.base_url)
        backend = make_backend(settings, GENERIC_TOKEN)
    rng = random.Random(2026)
    recorder = recorder_at(db, clock.time)
    worker = SyncWorker(db, settings, clock=clock, rng=random.Random(1), backend=backend)
    # A little traffic while the server is up, so the outage starts from a working target.
    written = [write_run(recorder, "PB-00000", started=clock.time(), steps=STEPS)]
    worker.run(until_idle=True)

    server.stop()
    t0 = clock.time()
    for hour in range(OUTAGE_HOURS):
        for _ in range(RUNS_PER_HOUR):
            serial = f"PB-{rng.randrange(25):05d}"
            outcome = Outcome.FAIL if rng.random() < 0.2 else Outcome.PASS
            written.append(write_run(recorder, serial, outcome, started=clock.time(),
                                     steps=STEPS))
        worker.run(stop_when=lambda h=hour: clock.time() >= t0 + hours(h + 1))
    probes_during_outage = worker.runner.probes

    conn = open_store(db)
    status = read_status(conn, "inventory", kind, clock.time())
    conn.close()
    assert status.state == "down" and not status.paused_for_auth
    assert status.queue_depth == OUTAGE_HOURS * RUNS_PER_HOUR
    assert status.oldest_undelivered_age_s >= hours(OUTAGE_HOURS - 1)
    assert status.last_error_class == "nothing-sent"
    # One cheap probe per backoff interval (≤ 900 s cap, full jitter), not one per queued run.
    # (About 8 an hour at a 900 s cap with full jitter: ~580 in 72 h, for 2 000 queued runs or
    # for one.)
    assert probes_during_outage < OUTAGE_HOURS * 3600 / 450 * 1.5

    server.start()
    t_back = clock.time()
    worker.run(stop_when=lambda: clock.time() > t_back + 1800)
    recorder.close()

    conn = open_store(db)
    status = read_status(conn, "inventory", kind, clock.time())
    (attempts,) = conn.execute("SELECT sum(attempts) FROM outbox").fetchone()
    conn.close()
    assert (status.queue_depth, status.parked, status.state) == (0, 0, "up")
    assert status.delivered == len(written)
    # Only the run at the head when the outage began spent a failed attempt.
    assert attempts == len(written) + 1

    expected_order = outbox_order_by_serial(db)
    if kind == "inventree":
        counts = {m.rsplit(":", 1)[1]: c for m, c in server.control("marker-counts").items()}
        assert counts == dict.fromkeys(written, 1)
        got: dict[str, list[str]] = defaultdict(list)
        for serial, run_id in inventree_runs_in_order(server):
            got[serial].append(run_id)
    else:
        received = server.control("received")
        assert sorted(received["posts"]) == sorted(written)
        assert set(received["posts"].values()) == {1}
        got = defaultdict(list)
        for stored in received["stored"]:
            got[stored["serial"]].append(stored["key"])
    assert dict(got) == dict(expected_order)
