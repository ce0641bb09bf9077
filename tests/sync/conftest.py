"""Fixtures for the sync tests: fake servers as real subprocesses on 127.0.0.1, a real store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_helpers import fast_dir, seed_generic, seed_inventree

from edge.sync.clock import ManualClock
from edge.sync.testing.process import FakeServerProcess


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    d = fast_dir(tmp_path)
    yield d
    if d != tmp_path:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def db(workdir: Path) -> Path:
    return workdir / "results.sqlite3"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def inventree(workdir: Path) -> Iterator[FakeServerProcess]:
    server = FakeServerProcess("inventree", workdir / "fake-inventree.sqlite3").start()
    server.ids = seed_inventree(server)  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture
def generic(workdir: Path) -> Iterator[FakeServerProcess]:
    server = FakeServerProcess("generic", workdir / "fake-generic.sqlite3").start()
    seed_generic(server)
    yield server
    server.stop()
