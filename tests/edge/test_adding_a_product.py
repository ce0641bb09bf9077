"""docs/adding-a-product.md, run as written: its files are read out of the page (every fenced
block starting ``# file: <path>``), its limits table is checked against the deriver, and the
product is run on the simulated station, as a PASS and with the faults the page promises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from products_support import MemoryRecorder, step, values

from edge.config import load_config
from edge.engine import Runner, StationInfo
from edge.products.catalog import build_fixture, list_products, load_product
from edge.records import Outcome

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-product.md"
_BLOCK = re.compile(r"^```[a-z]*\n# file: (?P<path>\S+)\n(?P<body>.*?)^```$", re.S | re.M)


def doc_files() -> dict[str, str]:
    return {m["path"]: m["body"] for m in _BLOCK.finditer(DOC.read_text())}


@pytest.fixture(scope="module")
def station_toml(tmp_path_factory) -> Path:
    """The page's files, written where the page says. Module scope: the step module registers
    its step type in the process-wide registry once."""
    root = tmp_path_factory.mktemp("shop")
    for path, body in doc_files().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(body)
    return root / "station.toml"


def test_the_page_holds_the_three_files():
    assert set(doc_files()) == {"station.toml", "plans/beacon-mini-revA.toml",
                                "plans/beacon_steps.py"}


def run(station_toml: Path, faults=()):
    config = load_config(station_toml)
    plan, spec = load_product("Beacon-Mini", plans_dirs=config.plans_dirs,
                              fixtures_dirs=config.fixtures_dirs)
    fixture = build_fixture(spec, simulated=config.simulated, sim_faults=faults)
    try:
        runner = Runner(plan, fixture, MemoryRecorder(), clock=fixture.clock,
                        station=StationInfo(config.station_id, "0.1.0"),
                        clock_synced=lambda: True)
        record = runner.run("BCN-000123")
        assert not fixture.sim.dut_powered  # the teardown the page insists on
        return plan, record
    finally:
        fixture.close()


def test_the_station_lists_the_new_product(station_toml):
    config = load_config(station_toml)
    assert config.station_id == "bench-3" and config.simulated
    beacon = next(p for p in list_products(config.plans_dirs) if p.product == "Beacon-Mini")
    assert (beacon.revision, beacon.example_serial, beacon.fixture) == (
        "A", "BCN-123456", "powerbank-v1")


def test_the_worked_example_passes_on_the_simulated_station(station_toml):
    _, record = run(station_toml)
    assert record.outcome is Outcome.PASS, record.error
    assert [s.name for s in record.steps] == ["fixture check", "power on", "first flash",
                                              "flash timing", "period stability", "power off"]
    assert values(step(record, "first flash"))["first_pulse"] == 0.0  # flash at power-on
    jitter = values(step(record, "period stability"))["period_jitter"]
    assert 0 < jitter < 0.01
    assert values(step(record, "flash timing"))["period"] == pytest.approx(1.677, rel=0.01)


def test_the_limits_table_is_what_the_deriver_computes(station_toml):
    plan, _ = load_product("Beacon-Mini", plans_dirs=load_config(station_toml).plans_dirs,
                           fixtures_dirs=load_config(station_toml).fixtures_dirs)
    derived = {name: limits for s in plan.steps for name, limits in s.measurements.items()}
    rows = re.findall(r"^\| (\w+) \| ([\d.]+) \| ([\d.]+) \| (\w+) \|$", DOC.read_text(), re.M)
    assert len(rows) == 5
    for name, low, high, units in rows:
        limits = derived[name]
        assert limits.units == units
        assert float(low) == pytest.approx(limits.low, rel=5e-4, abs=1e-9), name
        assert float(high) == pytest.approx(limits.high, rel=5e-4), name


@pytest.mark.parametrize(("fault", "outcome", "where", "words"), [
    ("wrong-resistor", Outcome.FAIL, "flash timing", "(over 3 of 5 cycles, then out of time)"),
    ("no-pulses", Outcome.FAIL, "first flash", "no keep-alive pulse on GPIO17"),
    ("absent-expander", Outcome.ERROR, "fixture check",
     "fixture expander not found at 0x21 on sim:powerbank-v1 — is the fixture cable plugged in?"),
])
def test_the_faults_the_page_promises(station_toml, fault, outcome, where, words):
    _, record = run(station_toml, [fault])
    assert record.outcome is outcome
    assert step(record, where).outcome is outcome
    assert words in step(record, where).error
    if fault == "wrong-resistor":
        failed = {m.name for m in step(record, where).measurements
                  if m.outcome is Outcome.FAIL}
        assert {"period", "duty"} <= failed
