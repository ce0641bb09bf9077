"""Fixture files: the shipped ones load, and every kind of mistake is an error naming the file,
the line, the field and what was expected, found at load rather than mid-run."""

from __future__ import annotations

import pytest
from products_support import FIXTURES

from edge.fixtures import FixtureFileError, load_fixture, parse_fixture
from edge.plans import PlanError

GOOD = """\
[fixture]
kind = "mini-v1"

[expanders]
fixture = { address = 0x21, role = "fixture" }
dut = { address = 0x20, role = "dut", outputs = ["GPA0", "GPA1", "GPA6"], pullups = ["GPB0"] }

[identity]
expander = "fixture"
straps = ["GPB6", "GPB5"]
expected = 0b10

[relays]
dut_power = { pin = "fixture:GPA7", powers_dut = true }

[senses]
contact = { pin = "fixture:GPB0", from = "dut:GPA6", via = "relay", active = "low" }

[loopbacks.leds]
LED1 = { from = "dut:GPA0", to = "fixture:GPA0" }
LED2 = { from = "dut:GPA1", to = "fixture:GPA1" }

[drives.buttons]
SW1 = { from = "fixture:GPA2", to = "dut:GPB0", active = "low" }

[interrupts]
int = { gpio = 27, from = ["dut:INTA", "dut:INTB"] }

[pulse_inputs]
keepalive = { gpio = 17, signal = "ne555" }
"""


def broken(old: str, new: str) -> FixtureFileError:
    assert old in GOOD, old
    with pytest.raises(FixtureFileError) as info:
        parse_fixture(GOOD.replace(old, new, 1), "fx/mini-v1.toml")
    return info.value


def line_of(text: str) -> int:
    return GOOD.splitlines().index(text) + 1


@pytest.mark.parametrize("kind", ["powerbank-v1", "hmi-io-v1"])
def test_shipped_fixtures_load(kind):
    spec = load_fixture(FIXTURES[0] / f"{kind}.toml")
    assert spec.kind == spec.fixture_id == kind
    assert spec.dut_power is not None and spec.dut_power.name == "dut_power"
    assert spec.identity is not None


def test_good_fixture_resources_and_derived_configuration():
    spec = parse_fixture(GOOD, "mini-v1.toml")
    assert dict(spec.resources) == {
        "fixture": "expander", "dut": "expander", "dut_power": "relay", "contact": "sense",
        "leds": "loopbacks", "buttons": "drives", "int": "interrupt", "keepalive": "pulse_input"}
    fixture = spec.expander_config("fixture")
    # Outputs: the relay (GPA7), the button driver (GPA2, released = high) and GPB7.
    assert fixture.outputs == 0x8084
    assert fixture.output_levels == 0x0004
    # Pull-ups on every input except the loopback targets GPA0/GPA1 (the DUT drives them).
    assert fixture.pullups == 0x7F78
    dut = spec.expander_config("dut")
    assert dut.outputs == 0x80C3  # the file's outputs plus GPA7/GPB7, which are never inputs
    assert dut.pullups == 0x0100


def test_error_names_file_line_field_and_expectation():
    error = broken('LED2 = { from = "dut:GPA1", to = "fixture:GPA1" }',
                   'LED2 = { from = "dut:GPA1", to = "fixture:GPC3" }')
    assert isinstance(error, PlanError)  # one except catches bad plans and bad fixtures
    assert (error.path, error.line, error.field) == (
        "fx/mini-v1.toml", line_of('LED2 = { from = "dut:GPA1", to = "fixture:GPA1" }'),
        "loopbacks.leds.LED2.to")
    assert str(error) == (f"fx/mini-v1.toml:{error.line}: loopbacks.leds.LED2.to: unknown pin "
                          "'GPC3' on expander 'fixture' (expected GPA0..GPA7 or GPB0..GPB7)")


def test_syntax_error_has_the_line():
    error = broken('kind = "mini-v1"', 'kind = "mini-v1')
    assert error.line == 2
    assert "TOML syntax error" in error.message


def test_pin_used_twice_points_at_the_second_use_and_names_the_first():
    error = broken('SW1 = { from = "fixture:GPA2"', 'SW1 = { from = "fixture:GPA0"')
    assert error.field == "drives.buttons.SW1.from"
    assert error.line == line_of('SW1 = { from = "fixture:GPA2", to = "dut:GPB0", '
                                 'active = "low" }')
    first = line_of('LED1 = { from = "dut:GPA0", to = "fixture:GPA0" }')
    assert error.message == (f"fixture:GPA0 is already used by loopbacks.leds.LED1.to "
                             f"(line {first}); each pin can do one thing")


@pytest.mark.parametrize("address", ["0x30", "0x1f", "7"])
def test_address_outside_the_mcp23017_range(address):
    error = broken("address = 0x21", f"address = {address}")
    assert error.field == "expanders.fixture.address"
    assert "is outside 0x20..0x27" in error.message


def test_two_expanders_at_one_address():
    error = broken('dut = { address = 0x20', 'dut = { address = 0x21')
    assert error.message == ("address 0x21 is already expander 'fixture'; two chips cannot "
                             "share it")


def test_gp7_cannot_be_an_input():
    error = broken('to = "fixture:GPA1"', 'to = "fixture:GPB7"')
    assert error.field == "loopbacks.leds.LED2.to"
    assert "cannot be an input" in error.message and "rev D erratum" in error.message


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    ('kind = "mini-v1"\n', 'kind = "mini-v1"\nkidn = 1\n', "fixture.kidn", "unknown key 'kidn'"),
    ('[pulse_inputs]', '[pulse_input]', "pulse_input", "unknown key 'pulse_input'"),
    ('pin = "fixture:GPA7"', 'pin = "fixtur:GPA7"', "relays.dut_power.pin",
     "unknown expander 'fixtur' (expanders: dut, fixture)"),
    ('pin = "fixture:GPA7"', 'pin = "GPA7"', "relays.dut_power.pin",
     'expected "<expander>:<pin>", e.g. "fixture:GPA0"'),
    ('pin = "fixture:GPA7"', 'pin = "dut:GPA2"', "relays.dut_power.pin",
     "must be on the fixture's expander"),
    ('{ gpio = 17,', '{ gpio = 2,', "pulse_inputs.keepalive.gpio", "GPIO2 cannot be used"),
    ('{ gpio = 17,', '{ gpio = 27,', "pulse_inputs.keepalive.gpio",
     "GPIO27 is already used by interrupts.int"),
    ('to = "dut:GPB0"', 'to = "dut:GPA1"', "drives.buttons.SW1.to",
     "dut:GPA1 is an output of the DUT"),
    ('from = "dut:GPA1"', 'from = "dut:GPB1"', "loopbacks.leds.LED2.from",
     "dut:GPB1 is not an output of the DUT"),
    ('dut_power = { pin = "fixture:GPA7", powers_dut = true }',
     'dut_power = { pin = "fixture:GPA7", powers_dut = true }\n'
     'aux = { pin = "fixture:GPA3", powers_dut = true }', "relays.aux.powers_dut",
     "relay 'dut_power' already powers the DUT"),
    ('[senses]\ncontact', '[senses]\nleds', "loopbacks.leds",
     "resource name 'leds' is already used by senses.leds"),
    ("expected = 0b10", "expected = 0b100", "identity.expected", "does not fit in 2 strap bits"),
    ('via = "relay", active = "low"', 'via = "relay", active = "high"', "senses.contact.active",
     'use active = "low"'),
    ('active = "low" }\n\n[interrupts]', 'active = "lo" }\n\n[interrupts]',
     "drives.buttons.SW1.active", "expected one of 'high', 'low', got 'lo'"),
    ('from = ["dut:INTA", "dut:INTB"]', 'from = ["dut:INTA", "dut:INTC"]', "interrupts.int.from",
     'expected "<expander>:INTA" or "<expander>:INTB"'),
    ('fixture = { address = 0x21, role = "fixture" }',
     'fixture = { address = 0x21, role = "fixture", outputs = ["GPA3"] }', "expanders.fixture",
     "its directions and pull-ups follow from"),
    ('role = "fixture" }', 'role = "dut" }', "expanders",
     'no expander has role = "fixture"'),
    ('pullups = ["GPB0"]', 'pullups = ["GPA0"]', "expanders.dut.pullups",
     "GPA0 has a pull-up but is an output"),
])
def test_wiring_mistakes_are_rejected_at_load(old, new, field, words):
    error = broken(old, new)
    assert error.field == field
    assert words in error.message, error.message
    assert error.line > 1 or field.startswith("fixture")


def test_missing_fixture_table():
    with pytest.raises(FixtureFileError, match=r"missing the \[fixture\] table"):
        parse_fixture(GOOD.replace('[fixture]\nkind = "mini-v1"\n', ""), "x.toml")
