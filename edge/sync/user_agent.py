"""The User-Agent the sync sends, so a shop's logs say which station and version called."""

from __future__ import annotations

from importlib import metadata


def user_agent() -> str:
    try:
        version = metadata.version("pibench")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"pibench-sync/{version}"
