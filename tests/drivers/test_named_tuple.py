"""drivers.named_tuple.NamedTuple behaves as typing.NamedTuple does, in everything the station
uses: each test declares the same class with both and compares what they do."""

import copy
import json
import pickle
import typing

import pytest

from drivers.named_tuple import NamedTuple

# One declaration, made with each base: whatever differs below is the bases' doing.
DECLARATION = """
class {name}({base}):
    \"\"\"A value with required and default fields.\"\"\"

    name: str
    value: float
    units: str = ""
    tolerance: float | None = None

    @property
    def label(self) -> str:
        return f"{{self.name}} {{self.value}}{{self.units}}"
"""
exec(DECLARATION.format(name="Ours", base="NamedTuple"))
exec(DECLARATION.format(name="Theirs", base="typing.NamedTuple"))
Ours: type = globals()["Ours"]
Theirs: type = globals()["Theirs"]


class OursExtended(Ours):
    """A plain subclass adding behaviour, as edge.records.Limits does."""

    def doubled(self) -> "OursExtended":
        return self._replace(value=self.value * 2)


class TheirsExtended(Theirs):
    def doubled(self) -> "TheirsExtended":
        return self._replace(value=self.value * 2)


BOTH = pytest.mark.parametrize("cls", [Ours, Theirs], ids=["ours", "typing"])

CALLS = [
    (("R1", 10.0), {}),
    (("R1", 10.0, "kΩ"), {}),
    (("R1", 10.0, "kΩ", 0.01), {}),
    ((), {"name": "R1", "value": 10.0}),
    (("R1",), {"value": 10.0, "tolerance": 0.05}),
    ((), {"tolerance": 0.05, "value": 1.0, "name": "C1", "units": "µF"}),
]
BAD_CALLS = [
    ((), {}),  # nothing
    (("R1",), {}),  # a required field missing
    ((), {"value": 1.0}),
    (("R1", 1.0, "", None, "extra"), {}),  # too many
    (("R1", 1.0), {"name": "R2"}),  # twice
    (("R1", 1.0), {"colour": "red"}),  # unknown
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_construction_gives_the_same_values(args, kwargs):
    ours, theirs = Ours(*args, **kwargs), Theirs(*args, **kwargs)
    assert tuple(ours) == tuple(theirs)
    assert (ours.name, ours.value, ours.units, ours.tolerance) == tuple(theirs)
    assert ours.label == theirs.label


@pytest.mark.parametrize(("args", "kwargs"), BAD_CALLS)
def test_bad_construction_is_a_type_error_for_both(args, kwargs):
    with pytest.raises(TypeError):
        Theirs(*args, **kwargs)
    with pytest.raises(TypeError) as raised:
        Ours(*args, **kwargs)
    assert "Ours()" in str(raised.value)  # the class named, as Python names it


def test_class_attributes_match():
    assert Ours._fields == Theirs._fields == ("name", "value", "units", "tolerance")
    assert Ours._field_defaults == Theirs._field_defaults == {"units": "", "tolerance": None}
    assert Ours.__match_args__ == Theirs.__match_args__
    assert Ours.__doc__ == Theirs.__doc__
    assert typing.get_type_hints(Ours) == typing.get_type_hints(Theirs)
    assert Ours.__module__ == __name__ and Ours.__qualname__ == "Ours"
    assert Ours.__slots__ == () and issubclass(Ours, tuple)


@BOTH
def test_methods(cls):
    value = cls("R1", 10.0, "kΩ")
    assert value._asdict() == {"name": "R1", "value": 10.0, "units": "kΩ", "tolerance": None}
    assert value._replace(units="Ω", tolerance=0.01) == ("R1", 10.0, "Ω", 0.01)
    assert value._replace() == value
    assert cls._make(["C1", 1.0, "µF", 0.1]) == ("C1", 1.0, "µF", 0.1)
    with pytest.raises((ValueError, TypeError), match="colour") as raised:  # (TypeError: 3.13)
        value._replace(colour="red")
    with pytest.raises(type(raised.value)):  # the running Python's namedtuple's, either way
        Theirs("R1", 10.0)._replace(colour="red")
    with pytest.raises(TypeError):
        cls._make(["C1", 1.0])
    assert repr(value) == f"{cls.__name__}(name='R1', value=10.0, units='kΩ', tolerance=None)"


@BOTH
def test_a_tuple_in_every_way(cls):
    value = cls("R1", 10.0)
    name, number, units, tolerance = value
    assert (name, number, units, tolerance) == ("R1", 10.0, "", None)
    assert value[1] == 10.0 and value[-1] is None and value[:2] == ("R1", 10.0)
    assert value == ("R1", 10.0, "", None) and hash(value) == hash(("R1", 10.0, "", None))
    assert len(value) == 4 and isinstance(value, tuple)
    assert json.dumps(value) == '["R1", 10.0, "", null]'
    assert sorted([cls("b", 1.0), cls("a", 2.0)])[0].name == "a"


def test_equal_to_typings_with_the_same_values():
    assert Ours("R1", 10.0) == Theirs("R1", 10.0)
    assert {Ours("R1", 10.0): 1}[Theirs("R1", 10.0)] == 1


@BOTH
def test_immutable_without_a_dict(cls):
    value = cls("R1", 10.0)
    with pytest.raises(AttributeError):
        value.name = "R2"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        value.colour = "red"  # type: ignore[attr-defined]
    assert not hasattr(value, "__dict__")


@BOTH
def test_pickle_and_copy(cls):
    value = cls("R1", 10.0, "kΩ", 0.01)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(value, protocol))
        assert again == value and type(again) is cls
    assert copy.copy(value) == value and type(copy.deepcopy(value)) is cls


@BOTH
def test_pattern_matching(cls):
    match cls("R1", 10.0):
        case cls(name, value, units="") if value > 1:  # type: ignore[misc]
            matched = (name, value)
        case _:
            matched = None
    assert matched == ("R1", 10.0)


def test_a_plain_subclass_keeps_fields_and_methods():
    for cls in (OursExtended, TheirsExtended):
        value = cls("R1", 10.0)
        assert value.doubled() == ("R1", 20.0, "", None) and type(value.doubled()) is cls
        assert cls._fields == ("name", "value", "units", "tolerance")
        assert repr(value).startswith(f"{cls.__name__}(name='R1'")


@pytest.mark.parametrize("base", [NamedTuple, typing.NamedTuple], ids=["ours", "typing"])
def test_declaration_errors(base):
    with pytest.raises(TypeError):  # a required field after a default
        type_ = type("Bad", (base,), {"__annotations__": {"a": int, "b": int}, "a": 1})
        del type_
    with pytest.raises((AttributeError, TypeError)):  # overriding what the tuple needs
        class Overrides(base):  # type: ignore[misc, valid-type]
            a: int

            def _asdict(self):  # type: ignore[override]
                return {}
    with pytest.raises(ValueError, match="underscore"):
        class Private(base):  # type: ignore[misc, valid-type]
            _a: int


def test_future_annotations_are_not_evaluated():
    namespace: dict = {}
    exec(
        "from __future__ import annotations\n"
        "from drivers.named_tuple import NamedTuple\n"
        "class Later(NamedTuple):\n"
        "    step: NotDefinedYet\n"
        "    count: int = 0\n",
        namespace,
    )
    later = namespace["Later"]
    assert later._fields == ("step", "count") and later("x") == ("x", 0)
