"""Fixtures for edge tests: a real result database in tmp_path and builders for test records."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge.records import Attempt, Limits, Measurement, Outcome, RunMeta, StepResult
from edge.store import RunRecorder, open_store

# The wall clock the recorder sees in tests (outbox created_utc / next_attempt_at).
STORE_NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)


def build_meta(**overrides: Any) -> RunMeta:
    fields: dict[str, Any] = {
        "run_id": str(uuid.uuid4()),
        "serial": "PB-000123",
        "product": "ne555-blinker",
        "revision": "B",
        "plan_name": "blinker-final",
        "plan_version": "3",
        "plan_hash": "ab" * 32,
        "station_id": "bench-1",
        "fixture_id": "fx-07",
        "software_version": "0.1.0",
        "started_utc": "2026-03-14T09:00:00+00:00",
        "clock_synced": True,
    }
    fields.update(overrides)
    return RunMeta(**fields)


def build_step(index: int = 0, outcome: Outcome = Outcome.PASS, **overrides: Any) -> StepResult:
    """A step with one attempt and two measurements; pass ``attempts=`` for anything richer."""
    measurements = (
        Measurement("vcc", 5.01, Limits(4.75, 5.25, "V"), Outcome.PASS),
        Measurement("id", 0x55, Limits(expected=0x55), Outcome.PASS),
    )
    fields: dict[str, Any] = {
        "index": index,
        "name": f"step-{index}",
        "outcome": outcome,
        "started_utc": f"2026-03-14T09:00:{index:02d}.250000+00:00",
        "ended_utc": f"2026-03-14T09:00:{index:02d}.750000+00:00",
        "duration_s": 0.5,
        "attempts": (Attempt(1, outcome, 0.5, measurements),),
    }
    fields.update(overrides)
    return StepResult(**fields)


@pytest.fixture
def make_meta() -> Callable[..., RunMeta]:
    return build_meta


@pytest.fixture
def make_step() -> Callable[..., StepResult]:
    return build_step


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "results.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator:
    conn = open_store(db_path)
    yield conn
    conn.close()


@pytest.fixture
def recorder(store) -> RunRecorder:
    return RunRecorder(store, utc_now=lambda: STORE_NOW)


@pytest.fixture
def reader(db_path: Path, store) -> Iterator:
    """A second connection, as the HMI or the sync would have."""
    conn = open_store(db_path)
    yield conn
    conn.close()


@pytest.fixture
def store_now() -> datetime:
    return STORE_NOW
