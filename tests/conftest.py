"""What every test needs."""

from __future__ import annotations

import pytest

from edge import tomlcache


@pytest.fixture(autouse=True)
def _no_toml_cache_left_behind():
    """A test that runs the command line in-process turns the TOML cache on in its data
    directory (edge/tomlcache.py): turn it off again, so the next test starts without one."""
    yield
    tomlcache.use_data_dir(None)
