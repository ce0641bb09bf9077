"""The named things a plan file can refer to: step types and limit derivers.

A **step type** is one plain function taking a :class:`~edge.engine.context.StepContext`,
registered under the name a plan's ``type = "..."`` uses, with a schema for its params (checked at
plan load time) and, optionally, the names of the measurements it produces::

    @step_type("meter_voltage",
               params={"channel": Param(int), "settle_s": Param(float, default=0.05),
                       "relay": resource("relay")},
               measurements=("voltage",))
    def meter_voltage(ctx):
        ctx.resource("relay").on()
        ctx.sleep(ctx.params["settle_s"])
        ctx.measure("voltage", read_adc(ctx.params["channel"]))

A **limit deriver** turns the plan's design ``[parameters]`` into limits, so pass bands are computed
from the circuit rather than typed in: ``limits = { derive = "ne555", quantity = "period" }`` calls
the function registered as ``"ne555"`` with ``(parameters, quantity="period")``::

    @limit_deriver("ne555")
    def ne555_limits(parameters, quantity): ... return Limits(low=..., high=..., units="s")

Both live in a :class:`Registry`. Modules register into :data:`DEFAULT_REGISTRY` (via the
module-level :func:`step_type` / :func:`limit_deriver`) when imported; tests build their own
registry so they neither see nor leak global state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from drivers.named_tuple import NamedTuple
from edge.records import Limits
from edge.tomlfile import describe_value

if TYPE_CHECKING:
    from edge.engine.context import StepContext
    from edge.plans.model import Parameter

StepFunction = Callable[["StepContext"], Any]
LimitDeriver = Callable[..., Limits]  # (parameters: Mapping[str, Parameter], **options) -> Limits

_REQUIRED = object()

# What a TOML value of each accepted Python type is called in an error message.
_TYPE_WORDS = {
    bool: "true/false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "a table",
}


_EMPTY: Mapping = MappingProxyType({})  # the default of a table a file leaves out: read-only


# NamedTuples, not frozen dataclasses: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class Param(NamedTuple):
    """One entry of a step type's param schema.

    ``type`` is one of bool, int, float, str, list, dict (TOML's value types). A float param
    accepts an integer (``settle_s = 1``); an int param never accepts true/false. A param with a
    ``resource`` kind is a string naming a fixture resource of that kind, checked against the
    fixture's resources when they are known.
    """

    type: type
    default: Any = _REQUIRED
    doc: str = ""
    resource: str | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def expected(self) -> str:
        words = _TYPE_WORDS.get(self.type, self.type.__name__)
        if self.resource:
            words = f"the name of a fixture {self.resource} (a string)"
        if self.choices:
            words += " (one of: " + ", ".join(repr(c) for c in self.choices) + ")"
        return words

    def coerce(self, value: Any) -> Any:
        """The value to store, or raise ``TypeError``/``ValueError`` saying what was wrong."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        # bool is an int in Python; TOML true is never a count of anything.
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise TypeError(f"expected {self.expected()}, got {describe_value(value)}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"expected {self.expected()}, got {describe_value(value)}")
        return value


def resource(kind: str, doc: str = "", default: Any = _REQUIRED) -> Param:
    """A param naming a fixture resource of ``kind`` (e.g. ``relay = "dut_power"``)."""
    return Param(str, default=default, doc=doc, resource=kind)


class StepType(NamedTuple):
    """A registered step type: the function and the parameters a plan may give it."""

    name: str
    func: StepFunction
    params: Mapping[str, Param] = _EMPTY
    # Names the step measures; None means "whatever the plan declares" (generic step types).
    measurements: tuple[str, ...] | None = None
    doc: str = ""


class Registry:
    """Step types and limit derivers by name. Registering a different function under a taken
    name is an error (two modules silently fighting over "relay" would be a nasty bug);
    registering the same function again (a module re-imported) is harmless."""

    def __init__(self) -> None:
        self._step_types: dict[str, StepType] = {}
        self._derivers: dict[str, LimitDeriver] = {}

    # -- step types -------------------------------------------------------------------------
    def step_type(
        self,
        name: str,
        *,
        params: Mapping[str, Param] | None = None,
        measurements: Iterable[str] | None = None,
    ) -> Callable[[StepFunction], StepFunction]:
        def register(func: StepFunction) -> StepFunction:
            existing = self._step_types.get(name)
            if existing is not None and existing.func is not func:
                raise ValueError(f"step type {name!r} is already registered by "
                                 f"{existing.func.__module__}.{existing.func.__qualname__}")
            self._step_types[name] = StepType(
                name=name,
                func=func,
                params=MappingProxyType(dict(params or {})),
                measurements=None if measurements is None else tuple(measurements),
                doc=(func.__doc__ or "").strip(),
            )
            return func

        return register

    def get_step_type(self, name: str) -> StepType | None:
        return self._step_types.get(name)

    def step_type_names(self) -> list[str]:
        return sorted(self._step_types)

    # -- limit derivers ---------------------------------------------------------------------
    def limit_deriver(self, name: str) -> Callable[[LimitDeriver], LimitDeriver]:
        def register(func: LimitDeriver) -> LimitDeriver:
            existing = self._derivers.get(name)
            if existing is not None and existing is not func:
                raise ValueError(f"limit deriver {name!r} is already registered")
            self._derivers[name] = func
            return func

        return register

    def get_deriver(self, name: str) -> LimitDeriver | None:
        return self._derivers.get(name)

    def deriver_names(self) -> list[str]:
        return sorted(self._derivers)


DEFAULT_REGISTRY = Registry()
step_type = DEFAULT_REGISTRY.step_type
limit_deriver = DEFAULT_REGISTRY.limit_deriver


def derive_limits(
    deriver: LimitDeriver, parameters: Mapping[str, Parameter], options: Mapping[str, Any]
) -> Limits:
    """Call a deriver; anything but a Limits back is the deriver's bug, reported as such."""
    limits = deriver(parameters, **options)
    if not isinstance(limits, Limits):
        raise TypeError(f"returned {type(limits).__name__}, not Limits")
    return limits
