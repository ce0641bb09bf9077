"""Fixtures for the API tests: the real server over a real station (simulated hardware)."""

from __future__ import annotations

import pytest
from api_support import running_api


@pytest.fixture
def api(tmp_path):
    with running_api(tmp_path) as harness:
        yield harness
