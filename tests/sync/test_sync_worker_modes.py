"""The worker as a thread of the station process (real clock, woken after a run) and as its own
process (``python -m edge.sync``), one per database; and the CLI functions."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sync_helpers import GENERIC_TOKEN, recorder_at, write_run, write_token

from edge.sync.cli import add_arguments, sync_now, sync_retry_parked, sync_setup, sync_status
from edge.sync.clock import SystemClock
from edge.sync.settings import from_options
from edge.sync.worker import SyncBusyError, SyncWorker

# Bounded waits for real threads and processes: a safety net, never a timing assertion.
PATIENCE_S = 30.0


def wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def delivered(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM outbox WHERE state = 'delivered'").fetchone()[0]
    finally:
        conn.close()


def station_toml(workdir: Path, url: str, token_file: Path, **extra: object) -> Path:
    lines = [f'[station]\ndata_dir = "{workdir}"\n[sync]\nbackend = "generic"',
             f'url = "{url}/pibench/results"', f'token_file = "{token_file}"',
             "connect_timeout_s = 1", "read_timeout_s = 1", "poll_s = 0.05"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    path = workdir / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class WakeOnlyClock(SystemClock):
    """Real time whose waits end only when woken: the worker's own look every MAX_WAIT_S
    never comes, so only wake() can explain a delivery."""

    def wait(self, seconds: float) -> None:
        super().wait(3600.0)


def test_thread_in_station_process_delivers_after_wake(generic, db, workdir):
    token_file = write_token(workdir / "tok", GENERIC_TOKEN)
    settings = from_options("generic", generic.base_url + "/pibench/results", token_file, None,
                            {"poll_s": 60.0})
    recorder = recorder_at(db)
    worker = SyncWorker(db, settings, clock=WakeOnlyClock())
    worker.start()
    try:
        wait_for(lambda: worker.runner is not None, "worker start")
        write_run(recorder, "PB-00001")
        worker.wake()
        wait_for(lambda: delivered(db) == 1, "delivery after wake")
        # One worker per database: a second one (thread or process) is refused.
        with pytest.raises(SyncBusyError, match="another sync worker"):
            SyncWorker(db, settings).run(until_idle=True)
    finally:
        worker.stop()
        recorder.close()
    assert worker.error is None
    assert len(generic.control("received")["stored"]) == 1


def test_own_process_delivers_and_stops_on_sigterm(generic, db, workdir):
    token_file = write_token(workdir / "tok", GENERIC_TOKEN)
    config = station_toml(workdir, generic.base_url, token_file)
    recorder = recorder_at(db)
    write_run(recorder, "PB-00001")
    proc = subprocess.Popen([sys.executable, "-m", "edge.sync", "--config", str(config),
                             "--database", str(db)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: delivered(db) == 1, "first delivery")
        write_run(recorder, "PB-00002")
        proc.send_signal(signal.SIGUSR1)  # "look now" (it would also find it at its next poll)
        wait_for(lambda: delivered(db) == 2, "second delivery")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(PATIENCE_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        recorder.close()
    assert GENERIC_TOKEN not in proc.stderr.read()


def test_cli_status_retry_parked_and_now(generic, db, workdir):
    token_file = write_token(workdir / "tok", GENERIC_TOKEN)
    config = station_toml(workdir, generic.base_url, token_file)
    recorder = recorder_at(db)
    parked_run = write_run(recorder, "PB-00001")
    recorder.close()
    generic.script({"action": "status", "status": 422, "method": "POST",
                    "body": '{"error": "unknown SKU"}'})
    args = argparse.Namespace(config=str(config), database=str(db), json=False, parked=True,
                              run_id=None)

    out = io.StringIO()
    assert sync_now(args, out) == 3  # ran one pass here (no worker running): parked
    assert "1 need attention" in out.getvalue() and "unknown SKU" in out.getvalue()

    out = io.StringIO()
    assert sync_status(argparse.Namespace(**{**vars(args), "json": True}), out) == 3
    doc = json.loads(out.getvalue())
    assert doc["parked"] == 1 and doc["parked_runs"][0]["run_id"] == parked_run
    assert doc["last_error_class"] == "permanent" and not doc["paused_for_auth"]

    out = io.StringIO()
    assert sync_retry_parked(args, out) == 0
    assert out.getvalue().startswith("1 parked result(s) queued again")
    out = io.StringIO()
    assert sync_now(args, out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("tried every waiting result: 1 delivered, 0 failed")
    assert lines[1] == "all results delivered"


def test_cli_reports_config_problems_clearly(workdir, db, capsys):
    bad = workdir / "station.toml"
    bad.write_text('[sync]\nbackend = "generic"\nurl = "https://x/y"\nretry_forever = true\n')
    out = io.StringIO()
    args = argparse.Namespace(config=str(bad), database=str(db), json=False, parked=False)
    assert sync_status(args, out) == 78  # EX_CONFIG, like every configuration error
    err = capsys.readouterr().err
    assert f"{bad}:4: sync.retry_forever: [sync] unknown key(s)" in err  # file:line:key


def test_add_arguments_builds_the_sync_subcommands():
    parser = argparse.ArgumentParser(prog="pibench")
    add_arguments(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sync", "--database", "x.db", "status", "--json"])
    assert args.func is sync_status and args.json and args.database == "x.db"
    args = parser.parse_args(["sync", "retry-parked", "--run-id", "abc"])
    assert args.func is sync_retry_parked and args.run_id == "abc"
    assert parser.parse_args(["sync", "now"]).func is sync_now
    args = parser.parse_args(["sync", "setup", "--dry-run"])
    assert args.func is sync_setup and args.dry_run


def test_env_token_for_development(generic, db, workdir, monkeypatch):
    monkeypatch.setenv("PIBENCH_INVENTORY_TOKEN", GENERIC_TOKEN)
    recorder = recorder_at(db)
    write_run(recorder, "PB-00001")
    recorder.close()
    settings = from_options("generic", generic.base_url + "/pibench/results", None,
                            "PIBENCH_INVENTORY_TOKEN", {})
    SyncWorker(db, settings).run(until_idle=True)
    assert delivered(db) == 1
    assert os.environ["PIBENCH_INVENTORY_TOKEN"] == GENERIC_TOKEN


def test_sync_now_retries_an_uncertain_generic_delivery_at_once(generic, db, workdir):
    """The generic endpoint de-duplicates on the key: no settle wait, `sync now` sends again."""
    token_file = write_token(workdir / "tok", GENERIC_TOKEN)
    config = station_toml(workdir, generic.base_url, token_file)
    recorder = recorder_at(db)
    write_run(recorder, "PB-00001")
    recorder.close()
    generic.script({"action": "status", "status": 504, "method": "POST"})
    settings = from_options("generic", generic.base_url + "/pibench/results", token_file, None,
                            {"backoff_base_s": 600, "backoff_cap_s": 900})
    SyncWorker(db, settings).run(until_idle=True)
    assert delivered(db) == 0
    out = io.StringIO()
    assert sync_now(argparse.Namespace(config=str(config), database=str(db)), out) == 0, (
        out.getvalue())
    assert delivered(db) == 1
