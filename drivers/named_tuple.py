"""``NamedTuple``: ``typing.NamedTuple``'s classes, without compiling code for each of them.

Every immutable value of the station (a step's limits, a run's record, a fixture's pins) is a
named tuple: small, hashable, cheap to make. Declaring one with ``typing.NamedTuple`` costs
~115 µs as the module is imported (``collections.namedtuple`` compiles a ``__new__`` from source
for each class, then typing re-checks every annotation and re-bases the class), and ``pibench
run`` imports 58 of them: ~7 ms, an eighth of a command a technician waits for (issue 14). The
classes made here behave the same, for about a fifth of that (~20-40 µs a class as a start
imports it, measured the same way; 12 µs against 62 in a warm loop):

    from drivers.named_tuple import NamedTuple

    class Limits(NamedTuple):
        low: float | None = None
        high: float | None = None

Same fields, defaults, positional and keyword construction, ``_fields``, ``_field_defaults``,
``_make``, ``_replace``, ``_asdict``, ``__match_args__``, repr, equality and hashing (those of the
tuple), pickling and copying, no instance ``__dict__``. What differs, none of which the station
uses: ``__new__`` takes ``*args, **kwargs`` (its errors are TypeErrors worded like Python's, but
not letter for letter), ``isinstance(value, NamedTuple)`` is true (typing's raises), and generic
named tuples are not supported. ``tests/drivers/test_named_tuple.py`` holds each behaviour
against ``typing.NamedTuple``'s. Type checkers see ``typing.NamedTuple`` itself.

It lives in ``drivers/``, the lowest layer, because drivers and the station both declare values;
the HMI, which may not import ``drivers``, keeps ``typing.NamedTuple``.
"""

import collections
import sys
from collections.abc import Iterable
from operator import itemgetter
from typing import TYPE_CHECKING, Any

# What a class body may not define: it would break the tuple underneath (as typing says too).
_PROHIBITED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields",
                         "_field_defaults", "_make", "_replace", "_asdict", "_source",
                         "_field_set", "_required_set", "_defaults_row"})
_REQUIRED = object()  # in a class's _defaults_row: a field without a default

# What _replace() raises for a name that is no field: namedtuple's changed in Python 3.13.
_UNKNOWN_FIELD_ERROR = TypeError if sys.version_info >= (3, 13) else ValueError

# collections' own C accessor for a field (what namedtuple uses), else the documented equivalent.
_field_getter = getattr(collections, "_tuplegetter",
                        lambda index, doc: property(itemgetter(index), doc=doc))


def _annotations(name: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """The class body's annotations (only their names, the fields, are used), as Python 3.11 to
    3.13 (pyproject's requires-python) leave them in the namespace. Python 3.14 makes them lazy
    (PEP 649): this module would have to learn that first, so it says so rather than make a
    class without fields."""
    if "__annotations__" not in namespace and any(key.startswith("__annotate")
                                                  for key in namespace):
        raise TypeError(f"{name}: drivers.named_tuple reads class annotations as Python 3.11 "
                        "to 3.13 make them, not lazily evaluated ones (Python 3.14)")
    return namespace.get("__annotations__", {})


class _NamedTupleMeta(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any],
                **kwargs: Any) -> type:
        if globals().get("_NamedTuple") not in bases:
            # NamedTuple itself, or a plain subclass of a named tuple class (a class adding
            # methods to a declared one): an ordinary class, as with typing.NamedTuple's.
            return super().__new__(mcls, name, bases, namespace, **kwargs)
        if len(bases) != 1:
            raise TypeError(f"{name}: a NamedTuple class has NamedTuple as its only base")
        fields = tuple(_annotations(name, namespace))
        defaults: dict[str, Any] = {}
        for field in fields:
            if field.startswith("_"):
                raise ValueError(f"{name}: field names cannot start with an underscore: "
                                 f"{field!r}")
            if field in namespace:
                defaults[field] = namespace[field]
            elif defaults:
                raise TypeError(f"{name}: non-default field {field} cannot follow default "
                                f"field(s) {', '.join(defaults)}")
        for key in namespace:
            if key in _PROHIBITED:
                raise AttributeError(f"{name}: cannot overwrite NamedTuple attribute {key}")
        body = dict(namespace)
        for index, field in enumerate(fields):
            body[field] = _field_getter(index, f"Alias for field number {index}")
        required = fields[: len(fields) - len(defaults)]  # (defaults are always the tail)
        body.update(__slots__=(), _fields=fields, _field_defaults=defaults,
                    __match_args__=fields, _field_set=frozenset(fields),
                    _required_set=frozenset(required),
                    _defaults_row=(_REQUIRED,) * len(required) + tuple(defaults.values()))
        body.setdefault("__doc__", f"{name}({', '.join(fields)})")
        return super().__new__(mcls, name, bases, body, **kwargs)


def _bind(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """The values of a call that is not all its fields given positionally, in field order."""
    fields: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    if len(args) > len(fields):
        raise TypeError(f"{cls.__name__}() takes {len(fields)} positional arguments but "
                        f"{len(args)} were given")
    values = list(args)
    for field in fields[: len(args)]:
        if field in kwargs:
            raise TypeError(f"{cls.__name__}() got multiple values for argument {field!r}")
    defaults: dict[str, Any] = cls._field_defaults  # type: ignore[attr-defined]
    missing = []
    for field in fields[len(args):]:
        if field in kwargs:
            values.append(kwargs.pop(field))
        elif field in defaults:
            values.append(defaults[field])
        else:
            missing.append(field)
    if kwargs:
        raise TypeError(f"{cls.__name__}() got an unexpected keyword argument "
                        f"{next(iter(kwargs))!r}")
    if missing:
        raise TypeError(f"{cls.__name__}() missing {len(missing)} required argument(s): "
                        f"{', '.join(map(repr, missing))}")
    return values


class _NamedTuple(tuple, metaclass=_NamedTupleMeta):
    """The methods every named tuple class shares (namedtuple makes them anew for each)."""

    __slots__ = ()  # (no class-level annotations: get_type_hints() of a class would list them)

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # The calls the station makes, each in a few set and tuple operations (the engine makes
        # several records per step); anything else, errors included, goes through _bind.
        declared: Any = cls  # (its attributes are the metaclass's: no checker knows them)
        fields: tuple[str, ...] = declared._fields
        if kwargs:
            if not args and declared._required_set <= kwargs.keys() <= declared._field_set:
                return tuple.__new__(cls, map(kwargs.get, fields, declared._defaults_row))
        elif len(args) == len(fields):
            return tuple.__new__(cls, args)
        elif len(declared._required_set) <= len(args) < len(fields):
            return tuple.__new__(cls, args + declared._defaults_row[len(args):])
        return tuple.__new__(cls, _bind(cls, args, kwargs))

    @classmethod
    def _make(cls, iterable: Iterable[Any]) -> Any:
        result = tuple.__new__(cls, iterable)
        if len(result) != len(cls._fields):
            raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(result)}")
        return result

    def _replace(self, /, **changes: Any) -> Any:
        result = self._make(map(changes.pop, self._fields, self))
        if changes:
            raise _UNKNOWN_FIELD_ERROR(f"Got unexpected field names: {list(changes)!r}")
        return result

    __replace__ = _replace  # copy.replace(), Python 3.13

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self, strict=True))

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        pairs = zip(self._fields, self, strict=True)
        shown = ", ".join(f"{field}={value!r}" for field, value in pairs)
        return f"{self.__class__.__name__}({shown})"


if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    NamedTuple = _NamedTuple
    NamedTuple.__name__ = NamedTuple.__qualname__ = "NamedTuple"
    NamedTuple.__module__ = __name__
