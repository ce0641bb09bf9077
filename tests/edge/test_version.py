"""The version recorded with every run is the package's: edge.__version__ (read without loading
importlib.metadata) must be pyproject.toml's [project] version, which the installer and the
installed metadata use."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import edge
from edge.station import software_version

ROOT = Path(__file__).resolve().parents[2]


def test_the_recorded_version_is_the_projects():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert software_version() == edge.__version__ == project["version"]
    assert metadata.version("pibench") == project["version"]  # what pip installed
