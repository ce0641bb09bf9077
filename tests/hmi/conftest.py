"""Fixtures of the HMI tests (helpers in hmi_support.py)."""

from __future__ import annotations

import pytest
from hmi_support import StationProcess


@pytest.fixture
def station_factory(tmp_path):
    started: list[StationProcess] = []

    def make(**kwargs) -> StationProcess:
        st = StationProcess(tmp_path / "station", **kwargs).start()
        started.append(st)
        return st

    yield make
    for st in started:
        st.close()


@pytest.fixture
def station(station_factory) -> StationProcess:
    return station_factory()


@pytest.fixture(autouse=True)
def _no_animations(monkeypatch):
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


