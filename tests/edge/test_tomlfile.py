"""edge.tomlfile: the one reader of the shop's TOML files, and what a broken plan's text says
about the product it was meant to define."""

from __future__ import annotations

import pytest

from drivers.mcp23017.backends import BACKENDS
from edge.config import EXPANDER_BACKENDS
from edge.plans import PlanError
from edge.products.catalog import _broken_plan
from edge.tomlfile import Checker, LineIndex, TomlFileError, parse_toml, read_toml, scan_string


def test_scan_reads_plain_strings_from_text_that_is_not_toml():
    lines = LineIndex('[plan]\nname = "x"\nproduct = "PowerBank-Foolish"  # shop\n'
                      "revision = 'B'\n[[step]\nname = \"power on\"\n")
    assert scan_string(lines, ("plan", "product")) == "PowerBank-Foolish"
    assert scan_string(lines, ("plan", "revision")) == "B"
    assert scan_string(LineIndex("[plan]\nproduct = PowerBank\n"), ("plan", "product")) is None
    assert scan_string(LineIndex('plan.product = "Toaster"\n'), ("plan", "product")) == "Toaster"
    # Given twice, the text does not say which one was meant.
    twice = LineIndex('[plan]\nproduct = "A"\nproduct = "B"\n')
    assert scan_string(twice, ("plan", "product")) is None


@pytest.mark.parametrize(("text", "product", "revision"), [
    ('[plan]\nproduct = "PBF"\nrevision = "C"\n[[step]\n', "PBF", "C"),  # syntax error
    ('[plan]\nproduct = "PBF"\nretires = 2\n', "PBF", None),  # semantic error
    ('[plan]\nproduct = PBF\n[[step]\n', None, None),  # the product line itself is broken
    ('[plan\nproduct = "PBF"\n', None, None),  # no [plan] header to read it under
    ('[plan]\nproduct = 5\n', None, None),
])
def test_a_broken_plan_is_tied_to_the_product_its_text_names(tmp_path, text, product, revision):
    path = tmp_path / "shop.toml"
    path.write_text(text)
    broken = _broken_plan(path, PlanError(str(path), 1, "", "broken"))
    assert (broken.product, broken.revision) == (product, revision)
    assert "shop" in broken.names
    if product is None:
        assert "no product can be tested" in broken.could_define()


def test_read_errors_are_located_and_typed(tmp_path):
    class MyError(TomlFileError):
        pass

    with pytest.raises(MyError, match=r"nope\.toml: file not found"):
        read_toml(tmp_path / "nope.toml", MyError)
    with pytest.raises(MyError, match=r"x\.toml:3: TOML syntax error"):
        parse_toml("a = 1\nb = 2\nc = \n", "x.toml", MyError)
    with pytest.raises(MyError, match=r"x\.toml:2: not UTF-8"):
        parse_toml(b"a = 1\nb = '\xff'\n", "x.toml", MyError)


def test_checker_refuses_wrong_types_at_the_key():
    src = parse_toml('[s]\nn = "5"\nlist = "abc"\nflag = 1\nport = 70000\n', "f.toml")
    c = Checker(src)
    table = src.data["s"]
    with pytest.raises(TomlFileError, match=r"f\.toml:2: s\.n: expected an integer"):
        c.integer(table, ("s",), "n", "5")
    with pytest.raises(TomlFileError, match=r"f\.toml:3: s\.list: expected an array"):
        c.string_list(table, ("s",), "list", '["a"]')
    with pytest.raises(TomlFileError, match=r"f\.toml:4: s\.flag: expected true or false"):
        c.flag(table, ("s",), "flag")
    with pytest.raises(TomlFileError, match=r"s\.port: expected an integer from 1 to 65535"):
        c.integer(table, ("s",), "port", "80", minimum=1, maximum=65535)


def test_the_configured_expander_backends_are_the_drivers():
    assert EXPANDER_BACKENDS == BACKENDS
