"""Fixtures for driver tests: a simulated clock and a Pi pin factory running on it."""

from __future__ import annotations

import pytest

from drivers.clock import SimClock
from drivers.gpio import SimPiFactory


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def factory(clock: SimClock):
    pin_factory = SimPiFactory(clock)
    yield pin_factory
    # gpiozero's own test suite does the same: no pins or reservations leak into the next test.
    pin_factory.close()
    pin_factory.reset()
