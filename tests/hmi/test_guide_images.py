"""The technician's guide shows copies of the screenshot tests' SVGs: they must not go stale."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
SNAPSHOTS = HERE / "snapshots"


def test_the_guides_screenshots_are_the_current_screens():
    docs = HERE.parent.parent / "docs" / "images" / "hmi"
    for image in sorted(docs.glob("*.svg")):
        current = SNAPSHOTS / image.name
        assert current.exists(), f"{image.name}: no such screenshot test any more"
        assert image.read_text() == current.read_text(), (
            f"{image} is out of date: cp {current} {image}")
