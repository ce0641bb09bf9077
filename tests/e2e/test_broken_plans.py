"""A broken plan is never replaced by another plan (issue 9 §3), through real `pibench run`
processes: a shop's override of a built-in product with a mistake in it makes that product
untestable with the file's error and exit 78, never a run against the built-in limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import BUILTIN_FIXTURES, BUILTIN_PLANS

pytestmark = pytest.mark.slow  # real pibench processes, some running a whole simulated test

PBF = (BUILTIN_PLANS / "powerbank-foolish-revB.toml").read_text()
SHOP_PBF = PBF.replace('version = "1.0"', 'version = "shop-7"')


def pibench(station: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIBENCH_DATA_DIR": str(station / "unused")}
    return subprocess.run([sys.executable, "-m", "edge.cli", "--config",
                           str(station / "station.toml"), "--lang", "en", *argv],
                          env=env, capture_output=True, text=True, timeout=120)


def run(station: Path, product: str = "PowerBank-Foolish",
        serial: str = "PBF-000001") -> subprocess.CompletedProcess:
    return pibench(station, "run", "--product", product, "--serial", serial)


def runs_stored(station: Path) -> list[dict]:
    result = pibench(station, "export", "--format", "json")
    if result.returncode != 0:  # no database yet: nothing was tested
        return []
    return json.loads(result.stdout)


@pytest.fixture
def station(tmp_path: Path) -> Path:
    (tmp_path / "plans").mkdir()
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "station.toml").write_text(
        "[station]\ndata_dir = 'data'\nplans_dirs = ['plans']\nfixtures_dirs = ['fixtures']\n")
    return tmp_path


def test_a_shop_override_with_a_syntax_error_stops_the_product_until_it_is_fixed(station):
    shop = station / "plans" / "pbf-shop.toml"
    broken = SHOP_PBF.replace("[[step]]", "[[step]", 1)
    shop.write_text(broken)
    line = broken.splitlines().index("[[step]") + 1
    result = run(station)
    assert result.returncode == 78, result.stdout + result.stderr
    assert f"{shop}:{line}: TOML syntax error" in result.stderr
    assert "could define PowerBank-Foolish rev B" in result.stderr
    assert "PASS" not in result.stdout and runs_stored(station) == []
    # The other product is not the broken file's: it is still tested.
    assert run(station, "HMI-IO-Board", "HIO-000001").returncode == 0
    # Fixed: the shop's plan, not the built-in one, judges the board.
    shop.write_text(SHOP_PBF)
    result = run(station)
    assert result.returncode == 0 and "plan PowerBank-Foolish keep-alive vshop-7" in result.stdout


def test_a_shop_override_with_a_semantic_error_names_line_and_field(station):
    shop = station / "plans" / "pbf-shop.toml"
    shop.write_text(SHOP_PBF.replace("critical = true", "critical = true\nretires = 2", 1))
    result = run(station)
    assert result.returncode == 78
    assert f"{shop}:" in result.stderr and "step[1].retires: unknown key 'retires'" in result.stderr
    assert runs_stored(station) == []


def test_a_broken_file_whose_product_cannot_be_read_stops_every_product(station):
    shop = station / "plans" / "pbf-shop.toml"
    shop.write_text(SHOP_PBF.replace('product = "PowerBank-Foolish"', 'product = PowerBank', 1))
    for product, serial in (("PowerBank-Foolish", "PBF-000001"), ("HMI-IO-Board", "HIO-000001")):
        result = run(station, product, serial)
        assert result.returncode == 78, (product, result.stderr)
        assert "its product cannot be read, so no product can be tested" in result.stderr
    listing = pibench(station, "products")
    assert listing.returncode == 78
    assert listing.stdout.count("NOT TESTABLE") == 2 and f"BROKEN PLAN {shop}:" in listing.stdout
    assert runs_stored(station) == []


def test_another_revision_named_explicitly_is_still_tested(station):
    """A broken plan for rev C blocks "PowerBank-Foolish" (which revision?) but not the
    built-in rev B asked for by its own name."""
    shop = station / "plans" / "pbf-revC.toml"
    shop.write_text(SHOP_PBF.replace('revision = "B"', 'revision = "C"')
                    .replace("[[step]]", "[[step]", 1))
    assert run(station).returncode == 78
    assert run(station, "powerbank-foolish-revB").returncode == 0


def test_products_lists_broken_files_plainly(station):
    shop = station / "plans" / "pbf-shop.toml"
    shop.write_text(SHOP_PBF.replace("[[step]]", "[[step]", 1))
    result = pibench(station, "products")
    assert result.returncode == 78
    lines = result.stdout.splitlines()
    pbf = next(line for line in lines if line.startswith("PowerBank-Foolish"))
    hmi = next(line for line in lines if line.startswith("HMI-IO-Board"))
    assert f"NOT TESTABLE: {shop} is broken" in pbf and "NOT TESTABLE" not in hmi
    assert any(line.startswith(f"BROKEN PLAN {shop}:") for line in lines)


def test_a_broken_shop_fixture_is_not_replaced_by_the_built_in_one(station):
    fixture = station / "fixtures" / "powerbank-v1.toml"
    text = (BUILTIN_FIXTURES / "powerbank-v1.toml").read_text()
    fixture.write_text(text.replace('pin = "fixture:GPA7"', 'pin = "fixture:GPA9"', 1))
    result = run(station)
    assert result.returncode == 78
    assert f"{fixture}:" in result.stderr and "unknown pin 'GPA9'" in result.stderr
    assert runs_stored(station) == []


def test_a_second_revision_of_a_product_is_offered_not_a_crash(station):
    """Two valid plans of one product (rev B built in, rev C the shop's): the product alone is
    ambiguous and says so; each revision runs when named by its file."""
    (station / "plans" / "pbf-revC.toml").write_text(
        SHOP_PBF.replace('revision = "B"', 'revision = "C"'))
    ambiguous = run(station)
    assert ambiguous.returncode == 65, ambiguous.stdout + ambiguous.stderr
    assert "matches several plans" in ambiguous.stderr and "pbf-revC (rev C)" in ambiguous.stderr
    assert "Traceback" not in ambiguous.stderr
    for plan in ("pbf-revC", "powerbank-foolish-revB"):
        result = run(station, plan)
        assert result.returncode == 0, result.stdout + result.stderr
    assert [r["revision"] for r in runs_stored(station)] == ["C", "B"]


def test_two_products_whose_serials_cannot_be_told_apart_name_the_plan_line_and_key(station):
    other = station / "plans" / "other-board.toml"
    other.write_text(SHOP_PBF.replace('product = "PowerBank-Foolish"', 'product = "Other-Board"'))
    line = SHOP_PBF.splitlines().index('serial_pattern = "PBF-[0-9]{6}"') + 1
    for product in ("Other-Board", "PowerBank-Foolish"):
        result = run(station, product)
        assert result.returncode == 78, result.stdout + result.stderr
        assert f":{line}: plan.serial_pattern: " in result.stderr
        assert "a scan could not tell the two products apart" in result.stderr
        assert str(other) in result.stderr and "Traceback" not in result.stderr
    assert runs_stored(station) == []


def test_the_console_asks_which_revision_and_runs_the_one_chosen(station):
    """At `pibench station`'s prompt, a product with two revisions is chosen by its line; its
    name alone is not enough (which board is it?)."""
    (station / "plans" / "pbf-revC.toml").write_text(
        SHOP_PBF.replace('revision = "B"', 'revision = "C"'))
    env = {**os.environ, "PIBENCH_DATA_DIR": str(station / "unused")}
    console = subprocess.run(
        [sys.executable, "-m", "edge.cli", "--config", str(station / "station.toml"), "--lang",
         "en", "station"], env=env, capture_output=True, text=True, timeout=120,
        input="PowerBank-Foolish\n1\nPBF-000001\nq\n")
    assert console.returncode == 0, console.stdout + console.stderr
    first = next(line for line in console.stdout.splitlines() if line.strip().startswith("[1]"))
    revision = first.rsplit("(rev ", 1)[1].rstrip(")")
    assert "? PowerBank-Foolish" in console.stdout  # the name alone was not taken
    assert f"PowerBank-Foolish rev {revision}" in console.stdout
    assert [r["revision"] for r in runs_stored(station)] == [revision]
