"""How a pibench run becomes InvenTree test results (pure functions, no network).

One run becomes one bulk ``POST /api/stock/test/`` (atomic since API v382): **one result per
measurement** of every judged step, against its own test template, plus the run's overall result
on ``[sync] run_template``. What is posted and under which key (docs/sync.md, "What reaches
InvenTree"):

* a measurement ``m`` of step ``s`` is posted under the key InvenTree derives from the test name
  ``"s: m"`` (``"pulse timing: duty"`` -> ``pulsetimingduty``), unless
  ``[sync.products."<product>"] keys`` names another;
* only steps that judged the board (PASS, PASS-MARGINAL or FAIL) are posted: an ERROR or ABORTED
  step says something about the station, not the board;
* steps that measure nothing (power on), teardown steps and the fixture check are not posted,
  unless listed in ``post_steps``; anything in ``skip`` is never posted;
* the run's overall result is posted only for PASS, PASS-MARGINAL and FAIL: an ERROR or ABORTED
  run never marks a board failed.

Every result's ``notes`` start with the run's marker ``pibench:<station>:<run id>`` (InvenTree has
no idempotency key: the marker is what reconciliation looks for), then the outcome, the limits and
marginal band, and the run's context (plan and version, operator, batch, software version).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.records import Outcome
from edge.sync.settings import ProductResults

NOTES_MAX = 500  # InvenTree's limit on notes, value and test_station
NAME_MAX = 100  # InvenTree's limit on a template's test_name
_JUDGED = {Outcome.PASS, Outcome.MARGINAL, Outcome.FAIL}
FIXTURE_CHECK_TYPE = "fixture_check"


class MappingError(ValueError):
    """The run cannot be expressed with the part's templates; the message says how to fix it."""

    def __init__(self, message: str, missing: Collection[str] = ()) -> None:
        super().__init__(message)
        self.missing = tuple(missing)


def server_key(name: str) -> str:
    """The key InvenTree derives from a test name: lower case, only ``[a-z0-9_]``, and a ``_``
    prefix before a leading digit ("100 Percent Visual" -> ``_100percentvisual``). The official
    client's own helper omits the prefix: never use it."""
    key = re.sub(r"[^a-z0-9_]", "", name.lower())
    if key and key[0].isdigit():
        key = "_" + key
    return key


def marker(record: Mapping[str, Any]) -> str:
    """``pibench:<station>:<run_id>``: unique per run, searchable in notes."""
    station = re.sub(r"\s+", "_", str(record.get("station_id") or "station"))
    return f"pibench:{station}:{record['run_id']}"


def test_name(step: str, measurement: str | None = None) -> str:
    """The template's test name for a measurement (or a whole step): its key derives from it."""
    return (f"{step}: {measurement}" if measurement else step)[:NAME_MAX]


def key_for(step: str, measurement: str | None, product: ProductResults) -> str:
    source = f"{step}/{measurement}" if measurement else step
    return product.keys.get(source) or server_key(test_name(step, measurement))


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # "nan"/"inf" strings of the payload included
    except (TypeError, ValueError):
        return None


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    number = _number(value)
    if number is not None and not isinstance(value, str | int):
        return f"{number:.6g}" if math.isfinite(number) else str(number)
    return "none" if value is None else str(value)


def value_text(m: Mapping[str, Any]) -> str:
    """The measured value with its unit: ``0.2446 s``, ``true``, ``0x55``."""
    units = m.get("units") or ""
    value = m.get("value")
    text = _fmt(value)
    if units and not isinstance(value, bool) and value is not None:
        text += f" {units}"
    return text[:NOTES_MAX]


def limits_text(m: Mapping[str, Any]) -> str:
    """``limits 0.2 .. 0.3 s; marginal below 0.21 or above 0.29`` (or ``expected true``)."""
    units = f" {m['units']}" if m.get("units") else ""
    if m.get("expected") is not None:
        return f"expected {_fmt(m['expected'])}"
    low, high = _number(m.get("low")), _number(m.get("high"))
    if low is None and high is None:
        return "no limits"
    if low is not None and high is not None:
        text = f"limits {low:.6g} .. {high:.6g}{units}"
    elif low is not None:
        text = f"limit >= {low:.6g}{units}"
    else:
        text = f"limit <= {high:.6g}{units}"
    mlow, mhigh = _number(m.get("marginal_low")), _number(m.get("marginal_high"))
    band = []
    if mlow is not None:
        band.append(f"below {mlow:.6g}")
    if mhigh is not None:
        band.append(f"above {mhigh:.6g}")
    if band:
        text += f"; marginal {' or '.join(band)}"
    return text


def context_text(record: Mapping[str, Any]) -> str:
    """The run's context for every result: what InvenTree has no field for."""
    parts = [f"plan {record.get('plan_name', '')} v{record.get('plan_version', '')}"]
    if record.get("operator"):
        parts.append(f"operator {record['operator']}")
    if record.get("batch"):
        parts.append(f"batch {record['batch']}")
    parts.append(f"pibench {record.get('software_version', '')}")
    parts.append(f"run {record.get('run_id', '')}")
    return "; ".join(parts)


def _notes(mark: str, *parts: str) -> str:
    # The marker first and whole: reconciliation must find it even if the tail is cut.
    return " | ".join((mark, *(p for p in parts if p)))[:NOTES_MAX]


def _ordered_times(started: str | None, ended: str | None) -> tuple[str | None, str | None]:
    """InvenTree rejects finished < started (400). A Pi's wall clock can step back mid-step when
    NTP syncs; clamp rather than have a good result parked forever."""
    if not started or not ended:
        return started, ended
    try:
        if datetime.fromisoformat(ended) < datetime.fromisoformat(started):
            return started, started
    except ValueError:
        return None, None
    return started, ended


@dataclass(frozen=True)
class PlannedResult:
    """One result before it meets the server: which template key, and where it came from."""

    source: str  # "step/measurement", "step" or "run"
    key: str
    body: dict[str, Any]  # without stock_item and template


def _outcome(text: Any) -> Outcome:
    try:
        return Outcome(text)
    except ValueError:
        return Outcome.ERROR


def planned_results(
    record: Mapping[str, Any],
    product: ProductResults,
    not_posted_steps: Iterable[str] = (),
    run_template: str | None = None,
) -> list[PlannedResult]:
    """Every result the run gives InvenTree (see the module docstring). ``not_posted_steps``:
    the plan's teardown and fixture-check steps (posted only if in ``post_steps``)."""
    mark = marker(record)
    station = str(record.get("station_id") or "")[:NOTES_MAX]
    context = context_text(record)
    hidden = set(not_posted_steps) - product.post_steps
    out: list[PlannedResult] = []

    def add(source: str, key: str, passed: bool, value: str, notes: str,
            started: str | None, ended: str | None) -> None:
        started, ended = _ordered_times(started, ended)
        out.append(PlannedResult(source, key, {
            "result": passed, "value": value, "notes": notes, "test_station": station,
            "started_datetime": started, "finished_datetime": ended}))

    for step in record.get("steps") or []:
        name = str(step.get("name", ""))
        outcome = _outcome(step.get("outcome"))
        if outcome not in _JUDGED or name in product.skip or name in hidden:
            continue
        attempts = step.get("attempts") or []
        measurements = (attempts[-1].get("measurements") or []) if attempts else []
        times = (step.get("started_utc"), step.get("ended_utc"))
        for m in measurements:
            source = f"{name}/{m.get('name')}"
            if source in product.skip:
                continue
            m_outcome = _outcome(m.get("outcome"))
            add(source, key_for(name, str(m.get("name")), product), m_outcome.passed,
                value_text(m), _notes(mark, str(m_outcome), limits_text(m), context), *times)
        if not measurements and name in product.post_steps:
            error = (attempts[-1].get("error") if attempts else None) or ""
            add(name, key_for(name, None, product), outcome.passed, str(outcome),
                _notes(mark, str(outcome), error, context), *times)
    run_outcome = _outcome(record.get("outcome"))
    if run_template and run_outcome in _JUDGED:
        add("run", run_template, run_outcome.passed, str(run_outcome),
            _notes(mark, f"run {run_outcome}", context),
            record.get("started_utc"), record.get("ended_utc"))
    return out


def build_results(
    planned: list[PlannedResult], templates: Mapping[str, int], part: int | str
) -> list[dict[str, Any]]:
    """The bulk body (without ``stock_item``). Raises :class:`MappingError` naming **every**
    missing template key at once, so one fix (``pibench sync setup``) repairs them all."""
    missing: dict[str, list[str]] = {}
    for p in planned:
        if p.key not in templates:
            missing.setdefault(p.key, []).append(p.source)
    if missing:
        listed = ", ".join(f"'{key}' ({', '.join(sources)})" for key, sources in missing.items())
        raise MappingError(
            f"part {part} has no enabled test template for {len(missing)} key(s): {listed}. "
            "Run 'pibench sync setup' (or add them in InvenTree, or map them in [sync.products]),"
            " then 'pibench sync retry-parked'", missing)
    return [{**p.body, "template": templates[p.key]} for p in planned]


# ---- templates from a plan (pibench sync setup) -------------------------------------------------

@dataclass(frozen=True)
class TemplateSpec:
    key: str
    test_name: str
    description: str
    required: bool
    source: str


def plan_hidden_steps(plan: Any) -> set[str]:
    """The plan's steps that judge nothing about the board: teardown and the fixture check."""
    hidden = {s.name for s in plan.teardown}
    hidden |= {s.name for s in plan.steps if getattr(s.step_type, "name", "") == FIXTURE_CHECK_TYPE}
    return hidden


def template_specs(plan: Any, product: ProductResults,
                   run_template: str | None) -> list[TemplateSpec]:
    """The templates a part needs for the results :func:`planned_results` makes from runs of
    ``plan`` (a :class:`edge.plans.model.Plan`)."""
    hidden = plan_hidden_steps(plan) - product.post_steps
    specs: list[TemplateSpec] = []
    seen: set[str] = set()

    def add(source: str, key: str, name: str, description: str) -> None:
        if key in seen:
            return
        seen.add(key)
        # The server derives the key from the name; a mapped key is created under its own name.
        if server_key(name) != key:
            name = key
        specs.append(TemplateSpec(key, name, description[:250], source not in product.optional,
                                  source))

    for step in plan.all_steps:
        if step.name in hidden or step.name in product.skip:
            continue
        for mname, limits in step.measurements.items():
            source = f"{step.name}/{mname}"
            if source in product.skip:
                continue
            add(source, key_for(step.name, mname, product), test_name(step.name, mname),
                f"{mname} measured by step '{step.name}' ({limits.describe()}); posted by pibench")
        if not step.measurements and step.name in product.post_steps:
            add(step.name, key_for(step.name, None, product), test_name(step.name),
                f"outcome of step '{step.name}'; posted by pibench")
    if run_template:
        add("run", run_template, run_template,
            f"overall result of a pibench run of plan '{plan.name}' (PASS or FAIL)")
    return specs
