"""Nothing in the repository points at files outside it (issue 9 §7): what a maintainer needs is
in docs/, so a reference to a notes file that only existed next to the checkout is a dead end."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "var", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache",
             "build", "dist"}
# Written in pieces so this file does not match itself.
NOTES = ("hard" "ware", "inventory" "-api", "textual" "-hmi", "prior" "-art", "api" "-stack")
OUTSIDE = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, NOTES)) + r")\.md\b"
                     r"|\.\./sha" r"red/|sha" r"red/reference")


def repository_files() -> list[Path]:
    out = []
    for path in REPO.rglob("*"):
        parts = path.relative_to(REPO).parts
        if any(p in SKIP_DIRS or p.endswith(".egg-info") for p in parts) or not path.is_file():
            continue
        out.append(path)
    return out


def test_the_pattern_finds_what_it_must():
    assert OUTSIDE.search("see " + NOTES[0] + ".md §1.9")
    assert OUTSIDE.search("`../sha" "red/" "reference/" + NOTES[3] + ".md`")
    assert not OUTSIDE.search("docs/hardware-notes.md and docs/hardware-setup.md")


def test_no_file_refers_to_notes_outside_the_repository():
    found = []
    for path in repository_files():
        rel = path.relative_to(REPO).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                found.append(f"{rel}:{number}: {line.strip()}")
    assert not found, "references to files outside the repository:\n" + "\n".join(found)
