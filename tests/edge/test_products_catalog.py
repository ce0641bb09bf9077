"""The catalog the station and CLI call: finding plans and fixtures, checking one against the
other at load, building fixtures, listing products."""

from __future__ import annotations

from pathlib import Path

import pytest
from products_support import FIXTURES, PLANS, write

from drivers.clock import SimClock
from drivers.gpio.pi import SimPiFactory
from drivers.scanner.serials import SerialRule, SerialRules
from drivers.sim.smbus import SimSMBus
from edge.engine import StationError
from edge.fixtures import Fixture
from edge.plans import PlanError
from edge.products.catalog import (
    UnknownProduct,
    build_fixture,
    list_products,
    load_product,
)
from edge.products.serial_example import example_serial

HMI_PLAN = PLANS[0] / "hmi-io-board-rev1.toml"


def test_shipped_products_are_listed_with_a_valid_example_serial():
    products = {p.product: p for p in list_products(PLANS)}
    assert set(products) == {"PowerBank-Foolish", "HMI-IO-Board"}
    pb = products["PowerBank-Foolish"]
    assert (pb.revision, pb.serial_pattern, pb.example_serial, pb.fixture) == (
        "B", "PBF-[0-9]{6}", "PBF-123456", "powerbank-v1")
    assert pb.plan_path == PLANS[0] / "powerbank-foolish-revB.toml"
    # The station turns these into scanner rules; they must be valid and tell products apart.
    rules = SerialRules(SerialRule(p.product, p.serial_pattern, p.example_serial)
                        for p in products.values())
    assert rules.identify("HIO-123456") == "HMI-IO-Board"


@pytest.mark.parametrize("plan_file", sorted(p.name for p in PLANS[0].glob("*.toml")))
def test_every_shipped_plan_loads_against_its_fixture(plan_file):
    plan, spec = load_product(plan_file.removesuffix(".toml"), plans_dirs=PLANS,
                              fixtures_dirs=FIXTURES)
    assert plan.fixture == spec.kind
    assert plan.steps[0].step_type.name == "fixture_check" and plan.steps[0].critical
    assert [(t.step_type.name, dict(t.params)) for t in plan.teardown] == [
        ("dut_power", {"relay": spec.dut_power.name, "on": False, "settle_s": 0.0})]


@pytest.mark.parametrize("name", [
    "PowerBank-Foolish", "powerbank-foolish", "powerbank-foolish-revB",
    "PowerBank-Foolish keep-alive", "PowerBank-Foolish-revB",
    str(PLANS[0] / "powerbank-foolish-revB.toml"),
])
def test_a_product_is_found_by_any_of_its_names(name):
    plan, spec = load_product(name, plans_dirs=PLANS, fixtures_dirs=FIXTURES)
    assert plan.product == "PowerBank-Foolish"
    assert spec.kind == plan.fixture == "powerbank-v1"


def test_unknown_product_lists_the_known_ones():
    with pytest.raises(UnknownProduct) as info:
        load_product("Toaster", plans_dirs=PLANS, fixtures_dirs=FIXTURES)
    assert str(info.value) == ("no plan for 'Toaster' (known: HMI-IO-Board (rev 1), "
                               "PowerBank-Foolish (rev B))")


def copy_plan(tmp_path: Path, name: str = "hmi-io-board-rev1.toml", *,
              old: str = "", new: str = "") -> Path:
    text = HMI_PLAN.read_text()
    assert old in text
    return write(tmp_path / "plans" / name, text.replace(old, new, 1))


def line_in(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_plan_naming_a_missing_fixture_resource_is_rejected_at_load(tmp_path):
    path = copy_plan(tmp_path, old='loopbacks = "outputs"', new='loopbacks = "leds"')
    with pytest.raises(PlanError) as info:
        load_product("HMI-IO-Board", plans_dirs=[tmp_path / "plans"], fixtures_dirs=FIXTURES)
    error = info.value
    assert (error.path, error.line, error.field) == (
        str(path), line_in(path, 'loopbacks = "leds"'), "step[4].params.loopbacks")
    assert error.message == ("step 'output walk': loopbacks 'leds' is not a resource of "
                             "fixture 'hmi-io-v1' (has: outputs)")


def test_a_plan_naming_a_resource_of_the_wrong_kind_is_rejected_at_load(tmp_path):
    copy_plan(tmp_path, old='contact = "relay_contact"', new='contact = "dut_power"')
    with pytest.raises(PlanError, match="'dut_power' is a relay of fixture 'hmi-io-v1', but "
                                        "param 'contact' needs a sense"):
        load_product("HMI-IO-Board", plans_dirs=[tmp_path / "plans"], fixtures_dirs=FIXTURES)


def test_a_plan_whose_fixture_file_is_missing_points_at_its_fixture_line(tmp_path):
    path = copy_plan(tmp_path, old='fixture = "hmi-io-v1"', new='fixture = "hmi-io-v2"')
    with pytest.raises(PlanError) as info:
        load_product("HMI-IO-Board", plans_dirs=[tmp_path / "plans"], fixtures_dirs=FIXTURES)
    assert info.value.line == line_in(path, 'fixture = "hmi-io-v2"')
    assert "fixture 'hmi-io-v2' not found: no hmi-io-v2.toml in" in info.value.message


def test_a_fixture_file_whose_kind_disagrees_with_its_name_is_refused(tmp_path):
    fixtures = tmp_path / "fixtures"
    text = (FIXTURES[0] / "hmi-io-v1.toml").read_text().replace('kind = "hmi-io-v1"',
                                                                 'kind = "hmi-io-v9"')
    write(fixtures / "hmi-io-v1.toml", text)
    with pytest.raises(PlanError, match=r"named hmi-io-v1\.toml but declares kind = 'hmi-io-v9'"):
        load_product("HMI-IO-Board", plans_dirs=PLANS, fixtures_dirs=[fixtures, *FIXTURES])


def test_a_shops_directory_comes_first_and_a_broken_plan_blocks_only_its_product(tmp_path):
    shop = tmp_path / "plans"
    copy_plan(tmp_path, old='version = "1.0"', new='version = "1.1-shop"')
    write(shop / "broken.toml", "[plan]\nname = 'x'\nproduct = 'Toaster'\n[[step]\n")
    products = list_products([shop, *PLANS])
    assert [(p.product, p.version) for p in products] == [("HMI-IO-Board", "1.1-shop"),
                                                          ("PowerBank-Foolish", "1.0")]
    plan, _ = load_product("HMI-IO-Board", plans_dirs=[shop, *PLANS], fixtures_dirs=FIXTURES)
    assert plan.version == "1.1-shop"
    with pytest.raises(PlanError, match=r"broken.toml:4: TOML syntax error.*could define Toaster"):
        load_product("Toaster", plans_dirs=[shop, *PLANS], fixtures_dirs=FIXTURES)


def test_two_revisions_of_a_product_must_be_named_by_file(tmp_path):
    copy_plan(tmp_path, "hmi-io-board-rev2.toml", old='revision = "1"', new='revision = "2"')
    with pytest.raises(UnknownProduct, match="matches several plans: hmi-io-board-rev2 "
                                             r"\(rev 2\), hmi-io-board-rev1 \(rev 1\)"):
        load_product("HMI-IO-Board", plans_dirs=[tmp_path / "plans", *PLANS],
                     fixtures_dirs=FIXTURES)
    plan, _ = load_product("hmi-io-board-rev2", plans_dirs=[tmp_path / "plans", *PLANS],
                           fixtures_dirs=FIXTURES)
    assert plan.revision == "2"


def test_a_broken_step_module_is_reported_with_its_file_and_line(tmp_path):
    plans = tmp_path / "plans"
    write(plans / "bad_steps.py", "import math\n\nx = math.nope\n")
    with pytest.raises(PlanError) as info:
        list_products([plans])
    assert (info.value.path, info.value.line) == (str((plans / "bad_steps.py").resolve()), 3)
    assert "AttributeError" in info.value.message


def test_build_fixture_simulated_and_real():
    _, spec = load_product("HMI-IO-Board", plans_dirs=PLANS, fixtures_dirs=FIXTURES)
    sim = build_fixture(spec, simulated=True, sim_faults=["i2c-nack"])
    try:
        assert isinstance(sim, Fixture) and isinstance(sim.clock, SimClock)
        assert sim.sim.applied == ["i2c-nack"]
    finally:
        sim.close()
    with pytest.raises(ValueError, match="simulated faults need the simulated station"):
        build_fixture(spec, simulated=False, sim_faults=["no-pulses"])
    with pytest.raises(ValueError, match="unknown simulated fault"):
        build_fixture(spec, simulated=True, sim_faults=["gremlins"])
    # Real builder on a bus with nothing plugged in: it builds (no I/O), the check says why.
    clock = SimClock()
    factory = SimPiFactory(clock)
    real = build_fixture(spec, simulated=False, i2c_bus=SimSMBus(name="empty"),
                         pin_factory=factory, clock=clock)
    try:
        with pytest.raises(StationError, match="fixture expander not found at 0x21 on empty"):
            real.check()
    finally:
        real.close()
        factory.close()


@pytest.mark.parametrize(("pattern", "example"), [
    ("PBF-[0-9]{6}", "PBF-123456"), ("[A-Z]{2}\\d{3}-(R|S)", "AB123-R"), ("X(?:AB|CD)+", "XAB"),
    ("[^0-9]{3}", ""),
])
def test_example_serials(pattern, example):
    assert example_serial(pattern) == example

