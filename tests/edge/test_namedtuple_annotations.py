"""The modules whose NamedTuples a command builds at every start keep their annotations
evaluated (no ``from __future__ import annotations``), issue 14.

``typing.NamedTuple`` checks each field's annotation as the class is created; an annotation kept
as a string (what the ``__future__`` import makes of every one) becomes a ``ForwardRef``, which
compiles it: ~7 µs a field, ~400 fields at a station start (~2.5 ms, measured in the installed
layout). In these modules an annotation that names something defined later is quoted instead.
Nothing here measures time: it keeps the import from coming back unnoticed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVALUATED = (
    "drivers/gpio/sim_lines.py",
    "drivers/i2c/accounting.py",
    "drivers/mcp23017/config.py",
    "drivers/mcp23017/driver.py",
    "drivers/mcp23017/registers.py",
    "drivers/scanner/serials.py",
    "drivers/timing/ne555.py",
    "drivers/timing/pulses.py",
    "drivers/timing/sim_ne555.py",
    "edge/api/settings.py",
    "edge/config.py",
    "edge/engine/runner.py",
    "edge/fixtures/model.py",
    "edge/fixtures/sim_faults.py",
    "edge/owner.py",
    "edge/plans/model.py",
    "edge/products/catalog.py",
    "edge/products/walks.py",
    "edge/records.py",
    "edge/store/history.py",
    "edge/store/integrity.py",
    "edge/store/last_words.py",
    "edge/store/migrations.py",
    "edge/sync/backends/base.py",
    "edge/sync/backoff.py",
    "edge/sync/http_transport.py",
    "edge/sync/outbox.py",
    "edge/sync/outcomes.py",
    "edge/sync/settings.py",
    "edge/sync/status.py",
    "edge/tomlfile.py",
)


@pytest.mark.parametrize("path", EVALUATED)
def test_namedtuple_annotations_are_not_deferred(path):
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    assert any(isinstance(node, ast.ClassDef) for node in tree.body), path
    deferred = [node.lineno for node in tree.body if isinstance(node, ast.ImportFrom)
                and node.module == "__future__"
                and any(alias.name == "annotations" for alias in node.names)]
    assert not deferred, f"{path}:{deferred[0]}: its NamedTuples would compile each annotation"
