"""Issue 10 §5: every status line and message says what is really happening."""

from __future__ import annotations

import argparse
import io
import json
import logging
import random
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sync_helpers import (
    GENERIC_TOKEN,
    TOKEN,
    inventree_settings,
    recorder_at,
    write_run,
    write_token,
)

from edge.store import open_store
from edge.sync import cli as sync_cli
from edge.sync.backends import make_backend
from edge.sync.cli import sync_now
from edge.sync.clock import ManualClock, SystemClock
from edge.sync.settings import from_options
from edge.sync.status import read_status
from edge.sync.worker import SyncWorker


def status(db: Path, clock: ManualClock):
    conn = open_store(db)
    try:
        return read_status(conn, "inventory", "inventree", clock.time())
    finally:
        conn.close()


def worker(db, settings, clock, token=TOKEN) -> SyncWorker:
    return SyncWorker(db, settings, clock=clock, rng=random.Random(2),
                      backend=make_backend(settings, token))


@pytest.fixture
def recorder(db, clock):
    rec = recorder_at(db, clock.time)
    yield rec
    rec.close()


def test_parked_only_is_not_called_all_delivered(inventree, db, clock, recorder):
    write_run(recorder, "PB-00001", steps=("No template here",))
    worker(db, inventree_settings(inventree.base_url), clock).run(until_idle=True)
    s = status(db, clock)
    assert s.delivered == 0 and s.parked == 1
    assert s.message.startswith("no result waiting to be sent; 1 need attention")
    assert "notemplatehere" in s.oldest_parked_reason


def test_last_error_is_gone_once_delivery_recovers(inventree, db, clock, recorder):
    write_run(recorder, "PB-00001")
    inventree.script({"action": "status", "status": 503, "method": "POST",
                      "path": "/api/stock/test/"})
    w = worker(db, inventree_settings(inventree.base_url), clock)
    w.run(until_idle=True)
    assert status(db, clock).last_error is not None
    clock.advance(900)
    w.run(until_idle=True)
    s = status(db, clock)
    assert (s.message, s.last_error, s.last_error_class) == ("all results delivered", None, None)


@pytest.mark.parametrize(("code", "text"), [(500, "inventory server error (HTTP 500)"),
                                            (429, "inventory server busy (HTTP 429)")])
def test_a_server_error_is_not_called_unreachable(inventree, db, clock, recorder, code, text,
                                                  caplog):
    write_run(recorder, "PB-00001")
    inventree.script({"action": "status", "status": code, "method": "POST",
                      "path": "/api/stock/test/"})
    with caplog.at_level(logging.WARNING, logger="edge.sync"):
        worker(db, inventree_settings(inventree.base_url), clock).run(until_idle=True)
    assert status(db, clock).message.startswith(text)
    assert f"{text} (" in caplog.text and "unreachable" not in caplog.text  # the log too


def test_refused_connection_is_unreachable(inventree, db, clock, recorder):
    write_run(recorder, "PB-00001")
    inventree.stop()
    worker(db, inventree_settings(inventree.base_url), clock).run(until_idle=True)
    assert status(db, clock).message.startswith("inventory unreachable; 1 results waiting")


def test_403_and_an_unsafe_token_file_and_401_say_different_things(inventree, db, clock,
                                                                   recorder, workdir):
    write_run(recorder, "PB-00001")
    inventree.control("config", {"tokens": {TOKEN: "readonly"}})  # a user without the roles
    worker(db, inventree_settings(inventree.base_url), clock).run(until_idle=True)
    s = status(db, clock)
    assert s.paused_for_auth
    assert s.message.startswith("inventory account not allowed (HTTP 403): give the station's "
                                "InvenTree user the roles listed in docs/sync.md")

    token_file = write_token(workdir / "token")
    token_file.chmod(0o644)
    settings = inventree_settings(inventree.base_url, token_file=token_file)
    clock.advance(301)  # the paused target's next check
    SyncWorker(db, settings, clock=clock).run(until_idle=True)
    message = status(db, clock).message
    assert message.startswith("inventory token not usable: inventory token file")
    assert f"chmod 600 {token_file}" in message and "login expired" not in message

    token_file.chmod(0o600)
    inventree.control("config", {"tokens": {TOKEN: "expired"}})
    clock.advance(301)
    SyncWorker(db, settings, clock=clock).run(until_idle=True)
    assert status(db, clock).message.startswith("inventory login expired")


def test_logs_name_the_inventory_once(inventree, db, clock, recorder, caplog):
    write_run(recorder, "PB-00001")
    w = worker(db, inventree_settings(inventree.base_url), clock)
    w.run(until_idle=True)
    inventree.stop()
    write_run(recorder, "PB-00002")
    with caplog.at_level(logging.INFO, logger="edge.sync"):
        w.run(until_idle=True)
        inventree.start()
        clock.advance(900)
        w.run(until_idle=True)
    text = caplog.text
    assert "inventory unreachable" in text and "inventory reachable again" in text
    assert "inventory inventory" not in text


def test_bulk_400_names_the_measurement_and_template_of_each_error(inventree, db, clock,
                                                                  recorder):
    write_run(recorder, "PB-00001")
    body = json.dumps([{}, {"value": ["Invalid value for this test"]}, {}])
    inventree.script({"action": "status", "status": 400, "method": "POST",
                      "path": "/api/stock/test/", "body": body})
    worker(db, inventree_settings(inventree.base_url), clock).run(until_idle=True)
    reason = status(db, clock).oldest_parked_reason
    assert reason == ("POST results: HTTP 400: Blink frequency/vcc (template "
                      "'blinkfrequencyvcc'): value: Invalid value for this test")


def test_foreground_sync_now_goes_past_a_failure(inventree, db, clock, recorder):
    first = write_run(recorder, "PB-00001")
    write_run(recorder, "PB-00002")
    write_run(recorder, "PB-00001")  # behind the failed one: must keep its place
    inventree.script({"action": "status", "status": 500, "method": "POST",
                      "path": "/api/stock/test/"})
    report = worker(db, inventree_settings(inventree.base_url), clock).run_pass()
    assert (report.delivered, report.failed, report.waiting) == (1, 1, 1)
    assert report.failures[0].startswith("PB-00001: POST results: HTTP 500")
    conn = sqlite3.connect(db)
    states = dict(conn.execute("SELECT run_id, state FROM outbox"))
    conn.close()
    assert states[first] == "pending" and sorted(states.values()) == [
        "delivered", "pending", "pending"]


class GatedClock(SystemClock):
    """Real time, but the worker's first wait lasts until :attr:`go` is set: ``waiting`` says
    it has finished its first look at the queue, and it looks again only once let go."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()
        self.go = threading.Event()

    def wait(self, seconds: float) -> None:
        self.waiting.set()
        self.go.wait()
        super().wait(seconds)

    def wake(self) -> None:
        self.go.set()  # a stop
        super().wake()


def test_sync_now_with_a_running_worker_and_a_long_poll(generic, db, workdir, monkeypatch):
    """poll_s = 120 once meant 'within 30 s' and nothing for a minute: the running worker now
    looks at the database at least every few seconds, and `sync now` watches it happen."""
    token_file = write_token(workdir / "tok", GENERIC_TOKEN)
    cfg = workdir / "station.toml"
    cfg.write_text(f'[station]\ndata_dir = "{workdir}"\n[sync]\nbackend = "generic"\n'
                   f'url = "{generic.base_url}/pibench/results"\ntoken_file = "{token_file}"\n'
                   "poll_s = 120\n")
    settings = from_options("generic", generic.base_url + "/pibench/results", token_file, None,
                            {"poll_s": 120})
    clock = GatedClock()
    running = SyncWorker(db, settings, clock=clock)
    running.start()
    # Until the worker holds the lock and has finished its first look at the queue: a run
    # written before that look is delivered before `sync now` even starts (seen on CI).
    assert clock.waiting.wait(30), "worker thread did not start"
    # And it looks again (at most MAX_WAIT_S later) only once `sync now` has counted what was
    # delivered before it: a worker whose next look came first (a test thread slower than
    # MAX_WAIT_S to get there) would leave it nothing to see.
    counted = sync_cli._progress

    def count_then_let_the_worker_go(*args):
        progress = counted(*args)
        clock.go.set()
        return progress

    monkeypatch.setattr(sync_cli, "_progress", count_then_let_the_worker_go)
    try:
        recorder = recorder_at(db)
        write_run(recorder, "PB-00001")  # no wake(): as if written by another process
        recorder.close()
        out = io.StringIO()
        sync_now(argparse.Namespace(config=str(cfg), database=str(db)), out)
    finally:
        running.stop()
    text = out.getvalue()
    assert "is running; it looks at the queue at least every 5 s" in text
    assert "it delivered 1 result(s) since" in text and "all results delivered" in text


def test_status_piped_into_head_prints_no_traceback(generic, db, workdir):
    token_file = write_token(workdir / "tok", GENERIC_TOKEN)
    cfg = workdir / "station.toml"
    cfg.write_text(f'[station]\ndata_dir = "{workdir}"\n[sync]\nbackend = "generic"\n'
                   f'url = "{generic.base_url}/pibench/results"\ntoken_file = "{token_file}"\n')
    recorder = recorder_at(workdir / "results.sqlite3")
    for i in range(3):
        write_run(recorder, f"PB-0000{i}")
    recorder.close()
    # A reader that is gone before pibench writes (what `| head -1` does to the lines after
    # the first): without the guard, a BrokenPipeError traceback.
    pipeline = f"{sys.executable} -m edge.cli --config {cfg} sync status --parked | true"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], capture_output=True,
                          text=True, timeout=60)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_status_of_a_data_dir_that_was_never_used_creates_nothing(tmp_path):
    """A mistyped --data-dir must not leave an empty database behind (as history refuses)."""
    import subprocess
    import sys

    data = tmp_path / "never-used"
    proc = subprocess.run([sys.executable, "-m", "edge.cli", "--data-dir", str(data), "sync",
                           "status"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "no result database" in proc.stdout and "Traceback" not in proc.stderr
    assert not (data / "results.sqlite3").exists()
