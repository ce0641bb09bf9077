"""docs/wiring.md is generated from the built-in fixture files and must match them."""

from __future__ import annotations

from pathlib import Path

from edge.fixtures.wiring_table import BUILTIN_FIXTURES, main, wiring_markdown

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "wiring.md"
REGENERATE = "python -m edge.fixtures.wiring_table --write docs/wiring.md"


def test_the_committed_wiring_table_is_up_to_date():
    fresh = wiring_markdown(BUILTIN_FIXTURES.glob("*.toml"))
    assert COMMITTED.read_text(encoding="utf-8") == fresh, f"out of date: run {REGENERATE}"


def test_a_changed_fixture_changes_the_table(tmp_path):
    """The check above can fail: moving one wire shows in the generated page."""
    text = (BUILTIN_FIXTURES / "hmi-io-v1.toml").read_text()
    moved = tmp_path / "hmi-io-v1.toml"
    moved.write_text(text.replace('LED3 = { from = "dut:GPA2", to = "fixture:GPA2" }',
                                  'LED3 = { from = "dut:GPA2", to = "fixture:GPB2" }'))
    table = wiring_markdown([moved])
    assert "| fixture (0x21) GPB2 | dut (0x20) GPA2 | outputs | LED3:" in table
    assert table != wiring_markdown([BUILTIN_FIXTURES / "hmi-io-v1.toml"])


def test_the_generator_writes_a_file(tmp_path):
    out = tmp_path / "wiring.md"
    assert main(["--write", str(out), str(BUILTIN_FIXTURES / "powerbank-v1.toml")]) == 0
    assert "| Pi GPIO17 | ne555 | keepalive |" in out.read_text()
