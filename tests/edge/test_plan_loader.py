"""Plan loading: the good plan in full, and every broken plan naming file, line and field."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from edge.plans import Param, PlanError, Registry, check_resources, load_plan, parse_plan, resource
from edge.records import Limits
from edge.tomlfile import LineIndex, field_name

DATA = Path(__file__).parent / "data"

REG = Registry()


@REG.step_type("relay", params={"relay": resource("relay"), "on": Param(bool)})
def relay_step(ctx):
    ctx.resource("relay").set(ctx.params["on"])


@REG.step_type("meter_voltage",
               params={"channel": Param(int), "settle_s": Param(float, default=0.05)},
               measurements=("voltage",))
def meter_voltage(ctx):
    ctx.measure("voltage", 5.0)


@REG.step_type("generic_measure")
def generic_measure(ctx):
    """Measures whatever the plan declares (no fixed measurement names)."""


@REG.limit_deriver("toy_rc")
def toy_rc(parameters, quantity):
    """A toy deriver: tau = R1*C1, widened by the parts' tolerances."""
    if quantity != "tau":
        raise ValueError(f"toy_rc cannot derive {quantity!r}")
    r, c = parameters["R1"], parameters["C1"]
    tau = r.value * c.value
    spread = r.tolerance + c.tolerance
    return Limits(low=tau * (1 - spread), high=tau * (1 + spread), units="s")


FIXTURE_RESOURCES = {"dut_power": "relay", "load": "relay", "adc": "meter"}

HEAD = """\
[plan]
name = "P"
version = "1"
product = "PB1"
revision = "A"
serial_pattern = ".+"
"""


def load(name: str, **kwargs) -> object:
    return load_plan(DATA / name, registry=REG, **kwargs)


def error_of(name: str, **kwargs) -> PlanError:
    with pytest.raises(PlanError) as info:
        load(name, **kwargs)
    return info.value


def parse_error(text: str) -> PlanError:
    with pytest.raises(PlanError) as info:
        parse_plan(HEAD + text, "inline.toml", registry=REG)
    return info.value


# -- the good plan ---------------------------------------------------------------------------
def test_good_plan_loads_every_feature():
    path = DATA / "good_plan.toml"
    plan = load("good_plan.toml", resources=FIXTURE_RESOURCES)

    assert (plan.name, plan.version, plan.product, plan.revision) == (
        "Powerbank main board", "1.2", "PB1", "C")
    assert plan.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert plan.fixture == "powerbank-v1"
    assert plan.serial_pattern.fullmatch("PB1-000123")
    assert not plan.serial_pattern.fullmatch("PB1-123")
    assert plan.parameters["R1"].value == 10_000
    assert plan.parameters["C1"].tolerance == 0.2
    assert plan.parameters["vin"].value == 5.0

    power_on, rail, rc = plan.steps
    assert power_on.critical and power_on.timeout_s == 20  # the plan's step_timeout
    assert power_on.params == {"relay": "dut_power", "on": True}
    assert rail.timeout_s == 5 and rail.retries == 2
    assert rail.params == {"channel": 3, "settle_s": 0.05}  # default filled in
    assert rail.step_type.func is meter_voltage
    assert rc.always and not rc.critical
    assert [s.name for s in plan.teardown] == ["power off"]
    assert plan.teardown[0].teardown
    assert [s.name for s in plan.all_steps] == ["power on", "rail voltage", "rc time", "power off"]


def test_limit_forms():
    plan = load("good_plan.toml")
    voltage = plan.steps[1].measurements["voltage"]
    # marginal = 0.1: the outer tenth of the 1 V span at each end is marginal.
    assert voltage.low == 4.5 and voltage.high == 5.5 and voltage.units == "V"
    assert voltage.marginal_low == pytest.approx(4.6)
    assert voltage.marginal_high == pytest.approx(5.4)

    rc = plan.steps[2].measurements
    assert list(rc) == ["tau", "id", "ripple"]  # plan order
    assert rc["tau"].low == pytest.approx(0.1 * 0.79)
    assert rc["tau"].high == pytest.approx(0.1 * 1.21)
    assert rc["tau"].units == "s"
    assert rc["id"] == Limits(expected=0x55)
    assert rc["ripple"] == Limits(high=50, units="mV", marginal_high=40)


def test_resource_references_are_kept_with_their_lines():
    plan = load("good_plan.toml")
    refs = [(r.step_name, r.param, r.resource, r.kind, r.field, r.line)
            for r in plan.resource_refs]
    assert refs == [
        ("power on", "relay", "dut_power", "relay", "step[1].params.relay", 21),
        ("power off", "relay", "dut_power", "relay", "teardown[1].params.relay", 56),
    ]


# -- broken plans: file, line, field, message ------------------------------------------------
def assert_located(err: PlanError, name: str, line: int, field: str, *fragments: str) -> None:
    assert err.path == str(DATA / name)
    assert (err.line, err.field) == (line, field), str(err)
    for fragment in fragments:
        assert fragment in err.message, err.message
    located = f"{DATA / name}:{line}: {field}: " if field else f"{DATA / name}:{line}: "
    assert str(err).startswith(located)


def test_toml_syntax_error_names_line_and_column():
    err = error_of("syntax_error.toml")
    assert_located(err, "syntax_error.toml", 11, "", "TOML syntax error", "column")
    assert "(at line" not in err.message  # tomllib's position is moved into line/column


def test_unknown_step_type_lists_the_known_ones():
    err = error_of("unknown_step_type.toml")
    assert_located(err, "unknown_step_type.toml", 15, "step[2].type",
                   "step 'rail voltage': unknown step type 'meter_volts'",
                   "known: generic_measure, meter_voltage, relay")


def test_unknown_param_lists_the_step_types_params():
    err = error_of("unknown_param.toml")
    assert_located(err, "unknown_param.toml", 18, "step[2].params.setle_s",
                   "unknown param 'setle_s' for step type 'meter_voltage'",
                   "its params: channel, settle_s")


def test_wrong_param_type_says_what_was_expected():
    err = error_of("wrong_param_type.toml")
    assert_located(err, "wrong_param_type.toml", 12, "step[1].params.channel",
                   "param 'channel' expected an integer, got string 'three'")


def test_missing_required_param():
    err = error_of("missing_param.toml")
    assert_located(err, "missing_param.toml", 11, "step[1].params.relay",
                   "missing required param 'relay'", "fixture relay")


def test_measurement_without_limits():
    err = error_of("missing_limits.toml")
    assert_located(err, "missing_limits.toml", 13, "step[1].measurement[1]",
                   "measurement 'voltage' has no limits")


def test_low_above_high():
    err = error_of("low_above_high.toml")
    assert_located(err, "low_above_high.toml", 16, "step[1].measurement[1].low",
                   "low (5.5) is above high (4.5)")


def test_bad_resource_reference_at_load_time():
    err = error_of("bad_resource.toml", resources=FIXTURE_RESOURCES)
    assert_located(err, "bad_resource.toml", 12, "step[1].params.relay")
    assert err.message == ("step 'power on': relay 'dut_pwr' is not a resource of fixture "
                           "'powerbank-v1' (has: dut_power, load)")


def test_bad_resource_reference_checked_later_against_a_fixture():
    plan = load("bad_resource.toml")  # no resources known at load: accepted
    with pytest.raises(PlanError) as info:
        check_resources(plan, FIXTURE_RESOURCES)
    assert (info.value.line, info.value.field) == (12, "step[1].params.relay")


def test_resource_of_the_wrong_kind():
    plan = load("good_plan.toml")
    with pytest.raises(PlanError, match="'dut_power' is a meter of fixture 'powerbank-v1', but "
                                        "param 'relay' needs a relay"):
        check_resources(plan, {"dut_power": "meter"})


# -- more semantic errors, inline ------------------------------------------------------------
STEP = """
[[step]]
name = "rail"
type = "meter_voltage"
params = { channel = 1 }
"""


@pytest.mark.parametrize(("extra", "line", "field", "fragment"), [
    ("retires = 2\n", 12, "step[1].retires", "unknown key 'retires'"),
    ("timeout = 0\n", 12, "step[1].timeout", "timeout must be > 0"),
    ("retries = -1\n", 12, "step[1].retries", "whole number >= 0"),
    ("critical = 1\n", 12, "step[1].critical", "expected true or false, got integer 1"),
    ('[[step.measurement]]\nname = "voltage"\nlow = 1\nmarginal = 0.6\n', 15,
     "step[1].measurement[1].marginal", "from 0 to below 0.5"),
    ('[[step.measurement]]\nname = "voltage"\nlow = 1\nmarginal = 0.1\n', 15,
     "step[1].measurement[1].marginal", "needs both low and high"),
    ('[[step.measurement]]\nname = "voltage"\nlow = 1\nhigh = 2\nmarginal_low = 0.5\n', 16,
     "step[1].measurement[1].marginal_low", "must lie inside the limits"),
    ('[[step.measurement]]\nname = "voltage"\nlow = 1\nexpected = 3\n', 15,
     "step[1].measurement[1].expected", "not both"),
    ('[[step.measurement]]\nname = "current"\nhigh = 1\n', 13,
     "step[1].measurement[1].name", "does not measure 'current' (it measures: voltage)"),
    ('[[step.measurement]]\nname = "voltage"\nlimits = { derive = "nope" }\n', 14,
     "step[1].measurement[1].limits.derive", "unknown limit deriver 'nope' (known: toy_rc)"),
])
def test_step_errors(extra, line, field, fragment):
    err = parse_error(STEP + extra)
    assert (err.line, err.field) == (line, field), str(err)
    assert fragment in err.message
    assert str(err).startswith(f"inline.toml:{line}: {field}: ")


def test_step_type_measurement_left_undeclared():
    err = parse_error(STEP)
    assert (err.line, err.field) == (8, "step[1]")
    assert "measurement 'voltage' (produced by step type 'meter_voltage') has no limits" in str(err)


def test_failing_deriver_is_reported_against_the_plan():
    err = parse_error('[parameters]\nR1 = 1\n[[step]]\nname = "x"\ntype = "generic_measure"\n'
                      '[[step.measurement]]\nname = "tau"\n'
                      'limits = { derive = "toy_rc", quantity = "gain" }\n')
    assert (err.line, err.field) == (14, "step[1].measurement[1].limits")
    assert "limit deriver 'toy_rc' failed: ValueError: toy_rc cannot derive 'gain'" in err.message


def test_bad_plan_header():
    err = parse_error('fixture = 3\n' + STEP)
    assert (err.line, err.field) == (7, "plan.fixture")
    with pytest.raises(PlanError, match=r"plan\.serial_pattern: not a valid regular expression"):
        parse_plan(HEAD.replace('".+"', '"PB1-[0-9"') + STEP, "x.toml", registry=REG)
    with pytest.raises(PlanError, match=r"x.toml:1: plan.version: missing required key"):
        parse_plan(HEAD.replace('version = "1"\n', "") + STEP, "x.toml", registry=REG)
    with pytest.raises(PlanError, match="the plan has no \\[\\[step\\]\\]"):
        parse_plan(HEAD, "x.toml", registry=REG)


def test_duplicate_step_names():
    step = '[[step]]\nname = "rail"\ntype = "generic_measure"\n'
    err = parse_error(step + step)
    assert (err.line, err.field) == (11, "step[2].name")
    assert "step name 'rail' is used twice" in err.message


def test_not_utf8():
    with pytest.raises(PlanError, match=r"x.toml:2: not UTF-8"):
        parse_plan(b'[plan]\nname = "\xff"\n', "x.toml", registry=REG)


# -- registries and the line index -----------------------------------------------------------
def test_registering_a_different_function_under_a_taken_name_fails():
    reg = Registry()
    reg.step_type("x")(relay_step)
    reg.step_type("x")(relay_step)  # same function again (module re-import): fine
    with pytest.raises(ValueError, match="already registered"):
        reg.step_type("x")(meter_voltage)
    reg.limit_deriver("d")(toy_rc)
    with pytest.raises(ValueError, match="already registered"):
        reg.limit_deriver("d")(lambda parameters: Limits())


def test_param_coercion_rules():
    assert Param(float).coerce(1) == 1.0 and isinstance(Param(float).coerce(1), float)
    with pytest.raises(TypeError, match="got boolean True"):
        Param(int).coerce(True)
    with pytest.raises(ValueError, match="one of: 'a', 'b'"):
        Param(str, choices=("a", "b")).coerce("c")


def test_line_index_resolves_arrays_of_tables_and_inline_tables():
    text = '''\
[plan]
name = "x"
doc = """
name = "not a key"
"""
[[step]]
a.b = 1
[[step]]
params = { relay = "r", "on" = true }
[[step.measurement]]
name = "m0"
[[step.measurement]]
name = "m1"
[step.extra]
k = 1
'''
    index = LineIndex(text)
    assert index.line_of(("plan", "name")) == 2
    assert index.line_of(("step", 0)) == 6
    assert index.line_of(("step", 0, "a", "b")) == 7
    assert index.line_of(("step", 1, "params", "relay")) == 9
    assert index.line_of(("step", 1, "params", "on")) == 9
    assert index.line_of(("step", 1, "measurement", 1, "name")) == 13
    assert index.line_of(("step", 1, "extra", "k")) == 15
    assert index.line_of(("step", 1, "measurement", 1, "nope")) == 12  # nearest parent
    assert index.line_of(("nothing",)) == 1
    assert field_name(("step", 1, "measurement", 0, "low")) == "step[2].measurement[1].low"
