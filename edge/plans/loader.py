"""Plan files (TOML) -> :class:`~edge.plans.model.Plan`, with errors a technician can act on.

Every error is a :class:`PlanError` naming the file, the line, the field and what was expected,
e.g. ``plans/pb-v1.toml:14: step[1].params.relay: step 'power on': relay 'dut_pwr' is not a
resource of fixture 'powerbank-v1' (has: dut_power, load)``. Reading, syntax errors, line
finding and typed accessors are shared with the other TOML files (:mod:`edge.tomlfile`).

Loading is strict on purpose: an unknown key (``retires = 2``) is an error, not silently ignored,
because a typo in a plan otherwise becomes a test that quietly checks less than intended.

Resource references are checked against a ``resources`` mapping (resource name -> kind) of the
fixture, at load time or later with :func:`check_resources`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path as FsPath
from types import MappingProxyType
from typing import Any

from edge.plans.model import Parameter, Plan, ResourceRef, Step
from edge.plans.steptypes import DEFAULT_REGISTRY, Registry, StepType, derive_limits
from edge.records import Limits
from edge.tomlfile import Checker, Path, TomlFileError, TomlSource, describe_value, field_name
from edge.tomlfile import parse_toml as _parse_toml
from edge.tomlfile import read_toml as _read_toml

DEFAULT_STEP_TIMEOUT_S = 30.0

_PLAN_KEYS = {"name", "version", "product", "revision", "serial_pattern", "fixture",
              "description", "step_timeout"}
_STEP_KEYS = {"name", "type", "params", "timeout", "retries", "critical", "always",
              "measurement", "description"}
# Teardown steps all run regardless, so "critical" and "always" would mean nothing there.
_TEARDOWN_KEYS = _STEP_KEYS - {"critical", "always"}
_MEASUREMENT_KEYS = {"name", "units", "low", "high", "marginal", "marginal_low", "marginal_high",
                     "expected", "limits", "description"}
_PARAMETER_KEYS = {"value", "units", "tolerance", "description"}


class PlanError(TomlFileError):
    """A plan (or fixture) file is wrong at ``path``:``line`` in ``field``."""


def parse_toml(source: bytes | str, path: str) -> TomlSource:
    """A plan's TOML: syntax errors are :class:`PlanError` with their line."""
    return _parse_toml(source, path, PlanError)


def read_toml(path: str | FsPath) -> TomlSource:
    """A plan file, read now (parsed, or its parse taken from :mod:`edge.tomlcache`)."""
    return _read_toml(path, PlanError)


def load_plan(
    path: str | FsPath,
    *,
    registry: Registry | None = None,
    resources: Mapping[str, str] | None = None,
) -> Plan:
    """Load and fully validate a plan file. ``resources`` (name -> kind) of the fixture, when
    known, lets resource references be checked now rather than when the fixture connects."""
    return _build(read_toml(path), registry, resources)


def parse_plan(
    source: bytes | str,
    path: str = "<plan>",
    *,
    registry: Registry | None = None,
    resources: Mapping[str, str] | None = None,
) -> Plan:
    return _build(parse_toml(source, path), registry, resources)


def _build(src: TomlSource, registry: Registry | None,
           resources: Mapping[str, str] | None) -> Plan:
    plan = _PlanBuilder(src, registry or DEFAULT_REGISTRY).build()
    if resources is not None:
        check_resources(plan, resources)
    return plan


def check_resources(plan: Plan, resources: Mapping[str, str]) -> None:
    """Every resource a step names must exist in the fixture with the kind the step needs."""
    fixture = plan.fixture or "(none)"
    for ref in plan.resource_refs:
        kind = resources.get(ref.resource)
        if kind == ref.kind:
            continue
        if kind is None:
            same_kind = sorted(n for n, k in resources.items() if k == ref.kind)
            has = ", ".join(same_kind) if same_kind else f"no {ref.kind} at all"
            message = (f"step '{ref.step_name}': {ref.kind} '{ref.resource}' is not a resource "
                       f"of fixture '{fixture}' (has: {has})")
        else:
            message = (f"step '{ref.step_name}': '{ref.resource}' is a {kind} of fixture "
                       f"'{fixture}', but param '{ref.param}' needs a {ref.kind}")
        raise PlanError(plan.path, ref.line, ref.field, message)


class _PlanBuilder(Checker):
    """One use: validate ``src.data`` section by section, raising the first problem found."""

    def __init__(self, src: TomlSource, registry: Registry) -> None:
        super().__init__(src)
        self.registry = registry
        self.refs: list[ResourceRef] = []

    # -- sections ----------------------------------------------------------------------------
    def build(self) -> Plan:
        data = self.src.data
        self.only(data, (), {"plan", "parameters", "step", "teardown"})
        if "plan" not in data:
            raise self.fail(("plan",), "missing the [plan] table (name, version, product, ...)")
        head = self.table(data, (), "plan")
        at: Path = ("plan",)
        self.only(head, at, _PLAN_KEYS)
        pattern_text = self.string(head, at, "serial_pattern", example='"^PB1-[0-9]{6}$"')
        try:
            pattern = re.compile(pattern_text)
        except re.error as exc:
            raise self.fail((*at, "serial_pattern"),
                            f"not a valid regular expression: {exc}") from None
        default_timeout = self.number(head, at, "step_timeout") or DEFAULT_STEP_TIMEOUT_S
        fixture = self.string(head, at, "fixture") if "fixture" in head else None
        name = self.string(head, at, "name", example='"Powerbank main board"')
        version = self.string(head, at, "version", example='"1.0"')
        product = self.string(head, at, "product", example='"PB1"')
        revision = self.string(head, at, "revision", example='"C"')

        parameters = self.parameters(self.table(data, (), "parameters"))
        steps = tuple(self.step(t, ("step", i), parameters, default_timeout, teardown=False)
                      for i, t in enumerate(self.array_of_tables(data, (), "step")))
        if not steps:
            raise self.fail((), "the plan has no [[step]]")
        teardown = tuple(self.step(t, ("teardown", i), parameters, default_timeout, teardown=True)
                         for i, t in enumerate(self.array_of_tables(data, (), "teardown")))
        self.unique_names(steps, teardown)
        return Plan(
            name=name,
            version=version,
            product=product,
            revision=revision,
            serial_pattern=pattern,
            fixture=fixture,
            parameters=parameters,
            steps=steps,
            teardown=teardown,
            resource_refs=tuple(self.refs),
            path=self.src.path,
            sha256=self.src.sha256,
            description=self.string(head, at, "description", default=""),
        )

    def parameters(self, table: Mapping[str, Any]) -> Mapping[str, Parameter]:
        out: dict[str, Parameter] = {}
        for name, raw in table.items():
            at: Path = ("parameters", name)
            if isinstance(raw, dict):
                self.only(raw, at, _PARAMETER_KEYS)
                if "value" not in raw:
                    raise self.fail(at, f"parameter '{name}' has no value")
                value, units = raw["value"], self.string(raw, at, "units", default="")
                tolerance = self.number(raw, at, "tolerance")
                if tolerance is not None and tolerance < 0:
                    raise self.fail((*at, "tolerance"), "a tolerance cannot be negative")
                doc = self.string(raw, at, "description", default="")
            else:
                value, units, tolerance, doc = raw, "", None, ""
            if not isinstance(value, int | float | str | bool):
                raise self.fail(at, f"expected a number, string or boolean value, "
                                f"got {describe_value(value)}")
            out[name] = Parameter(name, value, units, tolerance, doc)
        return MappingProxyType(out)

    def step(self, table: dict[str, Any], at: Path, parameters: Mapping[str, Parameter],
             default_timeout: float, *, teardown: bool) -> Step:
        self.only(table, at, _TEARDOWN_KEYS if teardown else _STEP_KEYS)
        name = self.string(table, at, "name", example='"power on"')
        type_name = self.string(table, at, "type", example='"relay"')
        step_type = self.registry.get_step_type(type_name)
        if step_type is None:
            known = ", ".join(self.registry.step_type_names()) or "none registered"
            raise self.fail((*at, "type"), f"step '{name}': unknown step type '{type_name}' "
                            f"(known: {known})")
        timeout = self.number(table, at, "timeout")
        if timeout is not None and timeout <= 0:
            raise self.fail((*at, "timeout"), f"step '{name}': timeout must be > 0 seconds")
        retries = table.get("retries", 0)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise self.fail((*at, "retries"), f"step '{name}': expected a whole number >= 0 "
                            f"of extra attempts, got {describe_value(retries)}")
        critical, always = self.flag(table, at, "critical"), self.flag(table, at, "always")
        params = self.params(name, step_type, self.table(table, at, "params"), (*at, "params"))
        measurements = self.measurements(name, step_type, table, at, parameters)
        return Step(
            name=name,
            step_type=step_type,
            params=params,
            measurements=measurements,
            timeout_s=timeout if timeout is not None else default_timeout,
            retries=retries,
            critical=critical,
            always=always,
            teardown=teardown,
            line=self.src.lines.line_of(at),
        )

    def params(self, step_name: str, step_type: StepType, given: Mapping[str, Any],
               at: Path) -> Mapping[str, Any]:
        schema = step_type.params
        for key in given:
            if key not in schema:
                known = ", ".join(sorted(schema)) or "none"
                raise self.fail((*at, key), f"step '{step_name}': unknown param '{key}' for "
                                f"step type '{step_type.name}' (its params: {known})")
        out: dict[str, Any] = {}
        for key, spec in schema.items():
            if key not in given:
                if spec.required:
                    raise self.fail((*at, key), f"step '{step_name}': missing required param "
                                    f"'{key}' ({spec.expected()})")
                out[key] = spec.default
                continue
            try:
                out[key] = spec.coerce(given[key])
            except (TypeError, ValueError) as exc:
                raise self.fail((*at, key), f"step '{step_name}': param '{key}' {exc}") from None
            if spec.resource:
                self.refs.append(ResourceRef(step_name, key, out[key], spec.resource,
                                             field_name((*at, key)),
                                             self.src.lines.line_of((*at, key))))
        return MappingProxyType(out)

    def measurements(self, step_name: str, step_type: StepType, table: Mapping[str, Any],
                     at: Path, parameters: Mapping[str, Parameter]) -> Mapping[str, Limits]:
        out: dict[str, Limits] = {}
        for i, spec in enumerate(self.array_of_tables(table, at, "measurement")):
            m_at = (*at, "measurement", i)
            name = self.string(spec, m_at, "name", example='"vout"')
            if name in out:
                raise self.fail((*m_at, "name"), f"step '{step_name}': measurement '{name}' "
                                "is declared twice")
            produced = step_type.measurements
            if produced is not None and name not in produced:
                raise self.fail((*m_at, "name"), f"step '{step_name}': step type "
                                f"'{step_type.name}' does not measure '{name}' (it measures: "
                                f"{', '.join(produced) or 'nothing'})")
            out[name] = self.limits(step_name, name, spec, m_at, parameters)
        for name in step_type.measurements or ():
            if name not in out:
                raise self.fail(at, f"step '{step_name}': measurement '{name}' (produced by step "
                                f"type '{step_type.name}') has no limits: add a "
                                f'[[step.measurement]] with name = "{name}" and low/high, '
                                "expected, or limits = { derive = ... }")
        return MappingProxyType(out)

    def limits(self, step_name: str, name: str, spec: Mapping[str, Any], at: Path,
               parameters: Mapping[str, Parameter]) -> Limits:
        """Limits from low/high (+ marginal band), ``expected``, or a registered deriver.

        The marginal band is given either absolutely (``marginal_low``/``marginal_high``, the
        comfortable zone's edges) or as ``marginal = f``: the outer fraction f of the span at each
        end is marginal, e.g. low=4.5 high=5.5 marginal=0.1 -> PASS within 4.6..5.4.
        """
        self.only(spec, at, _MEASUREMENT_KEYS)
        what = f"step '{step_name}': measurement '{name}'"
        units = self.string(spec, at, "units", default="")
        low, high = self.number(spec, at, "low"), self.number(spec, at, "high")
        m_low = self.number(spec, at, "marginal_low")
        m_high = self.number(spec, at, "marginal_high")
        fraction = self.number(spec, at, "marginal")
        expected = spec.get("expected")
        if isinstance(expected, list | dict):
            raise self.fail((*at, "expected"), f"{what}: expected a single value, "
                            f"got {describe_value(expected)}")
        if fraction is not None and (m_low is not None or m_high is not None):
            raise self.fail((*at, "marginal"), f"{what}: give 'marginal' (a fraction of the "
                            "span) or 'marginal_low'/'marginal_high', not both")
        if fraction is not None and not 0 <= fraction < 0.5:
            raise self.fail((*at, "marginal"), f"{what}: marginal is the fraction of the span "
                            f"at each end, from 0 to below 0.5; got {fraction:g}")

        if "limits" in spec:
            if any(k in spec for k in ("low", "high", "expected", "marginal_low", "marginal_high")):
                raise self.fail((*at, "limits"), f"{what}: derived limits replace "
                                "low/high/expected; give one or the other")
            limits = self.derived(what, spec["limits"], (*at, "limits"), parameters)
            if units and limits.units and units != limits.units:
                raise self.fail((*at, "units"), f"{what}: units '{units}' differ from the "
                                f"deriver's '{limits.units}'")
            low, high, expected = limits.low, limits.high, limits.expected
            m_low, m_high, units = limits.marginal_low, limits.marginal_high, limits.units or units
        elif low is None and high is None and expected is None:
            raise self.fail(at, f"{what} has no limits: give low and/or high, expected, or "
                            "limits = { derive = ... }")
        if expected is not None and (low is not None or high is not None):
            raise self.fail((*at, "expected"), f"{what}: give 'expected' or 'low'/'high', "
                            "not both")
        if low is not None and high is not None and low > high:
            raise self.fail((*at, "low"), f"{what}: low ({low:g}) is above high ({high:g})")
        if fraction is not None:
            if low is None or high is None:
                raise self.fail((*at, "marginal"), f"{what}: a fractional marginal band needs "
                                "both low and high (use marginal_low/marginal_high instead)")
            m_low, m_high = low + fraction * (high - low), high - fraction * (high - low)
        try:
            return Limits(low=low, high=high, units=units, marginal_low=m_low,
                          marginal_high=m_high, expected=expected)
        except ValueError as exc:
            key = "marginal_low" if "marginal_low" in str(exc) else "marginal_high"
            raise self.fail((*at, key), f"{what}: {exc}") from None

    def derived(self, what: str, table: Any, at: Path,
                parameters: Mapping[str, Parameter]) -> Limits:
        if not isinstance(table, dict) or not isinstance(table.get("derive"), str):
            raise self.fail(at, f'{what}: expected limits = {{ derive = "<deriver>", ... }}')
        name = table["derive"]
        deriver = self.registry.get_deriver(name)
        if deriver is None:
            known = ", ".join(self.registry.deriver_names()) or "none registered"
            raise self.fail((*at, "derive"), f"{what}: unknown limit deriver '{name}' "
                            f"(known: {known})")
        options = {k: v for k, v in table.items() if k != "derive"}
        try:
            return derive_limits(deriver, parameters, options)
        except Exception as exc:  # the deriver is plan-author code: report it against the plan
            raise self.fail(at, f"{what}: limit deriver '{name}' failed: "
                            f"{type(exc).__name__}: {exc}") from None

    def unique_names(self, steps: tuple[Step, ...], teardown: tuple[Step, ...]) -> None:
        seen: set[str] = set()
        located = [(("step", i, "name"), s) for i, s in enumerate(steps)]
        located += [(("teardown", i, "name"), s) for i, s in enumerate(teardown)]
        for at, step in located:
            if step.name in seen:
                raise self.fail(at, f"step name '{step.name}' is used twice; records identify "
                                "steps by name, so each must be unique")
            seen.add(step.name)
