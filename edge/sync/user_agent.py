"""The User-Agent the sync sends, so a shop's logs say which station and version called."""

from __future__ import annotations

from edge import __version__


def user_agent() -> str:
    # edge.__version__ (pyproject's version, tests/edge/test_version.py), not the installed
    # metadata: importlib.metadata brings email, and on Python 3.13 inspect, into the worker.
    return f"pibench-sync/{__version__}"
