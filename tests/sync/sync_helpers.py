"""Builders shared by the sync tests and the chaos subprocesses: runs in a real store, settings
pointing at a fake server, and the server's view of what it received."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.records import Attempt, Limits, Measurement, Outcome, RunMeta, StepResult
from edge.store import RunRecorder
from edge.sync.settings import SyncSettings, from_options

# Shaped like a real InvenTree token, so the redaction patterns are exercised too.
TOKEN = "inv-0123456789abcdef0123456789abcdef01234567-20270601"
GENERIC_TOKEN = "gen-secret-s3cr3t-Zq9xW7vK2mN4pL8r"
PRODUCT = "ne555-blinker"
STEP_NAMES = ("Power rails", "Blink frequency", "100 Percent Visual")
STATION = "bench-1"
# The template keys InvenTree derives from "<step>: <measurement>" (one result per measurement).
KEYS = ("powerrailsvcc", "blinkfrequencyvcc", "_100percentvisualvcc")


def fast_dir(base: Path) -> Path:
    """A directory on tmpfs when there is one: the store fsyncs every commit (synchronous=FULL),
    which on a disk makes writing thousands of runs take minutes; on tmpfs it is a real SQLite
    file all the same."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        d = shm / f"pibench-sync-{uuid.uuid4().hex[:12]}"
        d.mkdir()
        return d
    return base


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def write_run(
    recorder: RunRecorder,
    serial: str,
    outcome: Outcome = Outcome.PASS,
    *,
    started: float = 1_800_000_000.0,
    steps: Iterable[str] = STEP_NAMES,
    product: str = PRODUCT,
) -> str:
    """Begin, record steps and finish one run through the real store API; return its id."""
    run_id = str(uuid.uuid4())
    recorder.begin_run(RunMeta(
        run_id=run_id, serial=serial, product=product, revision="B", plan_name="final",
        plan_version="3", plan_hash="ab" * 32, station_id=STATION, fixture_id="fx-1",
        software_version="0.1.0", started_utc=iso(started), clock_synced=True))
    t = started
    for index, name in enumerate(steps):
        step_outcome = outcome if index == 0 else Outcome.PASS
        m = Measurement("vcc", 5.01 if step_outcome.passed else 4.1,
                        Limits(4.75, 5.25, "V"), step_outcome)
        recorder.record_step(run_id, StepResult(
            index=index, name=name, outcome=step_outcome, started_utc=iso(t),
            ended_utc=iso(t + 0.5), duration_s=0.5,
            attempts=(Attempt(1, step_outcome, 0.5, (m,)),)))
        t += 0.5
    recorder.finish_run(run_id, outcome, iso(t), t - started)
    return run_id


def recorder_at(db: Path, now: Callable[[], float] | None = None) -> RunRecorder:
    if now is None:
        return RunRecorder.open(db)
    return RunRecorder.open(db, utc_now=lambda: datetime.fromtimestamp(now(), UTC))


def inventree_settings(url: str, **options: Any) -> SyncSettings:
    opts: dict[str, Any] = {
        "parts": {PRODUCT: "PB-BLINK"},
        "connect_timeout_s": 1.0,
        "read_timeout_s": 1.0,
        "backoff_base_s": 2.0,
        "backoff_cap_s": 900.0,
        "auth_retry_s": 300.0,
    }
    opts.update(options)
    token_file = opts.pop("token_file", None)
    return from_options("inventree", url, token_file, opts.pop("token_env", None), opts)


def generic_settings(url: str, **options: Any) -> SyncSettings:
    opts: dict[str, Any] = {"connect_timeout_s": 1.0, "read_timeout_s": 1.0}
    opts.update(options)
    token_file = opts.pop("token_file", None)
    return from_options("generic", url + "/pibench/results", token_file,
                        opts.pop("token_env", None), opts)


def seed_inventree(server: Any, api_version: int = 479) -> dict[str, Any]:
    server.control("config", {"tokens": {TOKEN: "valid"}, "api_version": api_version})
    return server.control("seed", {"parts": [{
        "name": "Blinker", "ipn": "PB-BLINK",
        "templates": [{"name": f"{n}: vcc"} for n in STEP_NAMES] + [{"name": "Pibench run"}],
    }]})


def seed_generic(server: Any) -> None:
    server.control("config", {"tokens": {GENERIC_TOKEN: "valid"}})


def write_token(path: Path, token: str = TOKEN) -> Path:
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def marker_run_id(marker: str) -> str:
    return marker.rsplit(":", 1)[1]


def inventree_runs_in_order(server: Any) -> list[tuple[str, str]]:
    """(serial, run_id) per stored POST batch, in the order the server stored them."""
    seen: dict[int, tuple[str, str]] = {}
    for r in server.control("results"):
        marker = r["notes"].split()[0]
        seen.setdefault(r["batch"], (r["serial"], marker_run_id(marker)))
    return [seen[b] for b in sorted(seen)]


def shuffled_serials(n: int, rng: random.Random, pool: int = 25) -> list[str]:
    return [f"PB-{rng.randrange(pool):05d}" for _ in range(n)]


def hours(h: float) -> float:
    return timedelta(hours=h).total_seconds()
