"""Value classes that check their values in ``__new__`` check them in ``_replace`` too.

They are NamedTuples (issue 14: no dataclasses at start), and NamedTuple's own ``_replace``
builds the tuple without calling ``__new__``: a limit, a 555 design or a serial rule changed
that way would skip the checks a plan or fixture file's values go through."""

from __future__ import annotations

import pytest

from drivers.scanner.serials import SerialRule
from drivers.timing.ne555 import AstableDesign
from edge.records import Limits


def test_limits_replace_checks_the_new_bounds():
    limits = Limits(low=4.5, high=5.5, units="V")
    assert limits._replace(high=6.0) == Limits(low=4.5, high=6.0, units="V")
    assert type(limits._replace(high=6.0)) is Limits
    with pytest.raises(ValueError, match="above high limit"):
        limits._replace(low=7.0)
    with pytest.raises(ValueError, match="either 'expected'"):
        limits._replace(expected=5)


def test_astable_design_replace_checks_the_new_values():
    design = AstableDesign(680e3, 27e3, 10e-6, r_tolerance=0.01, c_tolerance=0.2, pulse="low")
    assert design._replace(r2_ohm=33e3).r2_ohm == 33e3
    with pytest.raises(ValueError):
        design._replace(c_farad=-1.0)
    with pytest.raises(ValueError):
        design._replace(pulse="sideways")


def test_serial_rule_replace_checks_and_derives_as_the_constructor_does():
    rule = SerialRule("HMI I/O board", r"HMI-\d{6}", "HMI-000123")
    assert (rule.min_len, rule.max_len) == (10, 10)  # derived from the pattern
    assert rule._replace(example="HMI-999999").example == "HMI-999999"
    with pytest.raises(ValueError, match="does not match pattern"):
        rule._replace(example="HMI-12")
