"""How a pibench run becomes InvenTree test results (pure functions, no network).

One run becomes one bulk ``POST /api/stock/test/`` (atomic since API v382): one result per judged
step, against the part's test template whose server ``key`` matches the step (or the mapping in
``[sync.templates]``), plus an optional run-level result. Every result carries the run's marker in
``notes``: InvenTree has no idempotency key, and the marker is what reconciliation looks for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from edge.records import Outcome

NOTES_MAX = 500  # InvenTree's limit on notes, value and test_station
_JUDGED = {Outcome.PASS, Outcome.MARGINAL, Outcome.FAIL, Outcome.ERROR}


class MappingError(ValueError):
    """The run cannot be expressed with the part's templates; the message says how to fix it."""


def server_key(name: str) -> str:
    """The key InvenTree derives from a test name (§1.4): lower case, only ``[a-z0-9_]``, and a
    ``_`` prefix before a leading digit. (The client's own helper differs: never use it.)"""
    key = re.sub(r"[^a-z0-9_]", "", name.lower())
    if key and key[0].isdigit():
        key = "_" + key
    return key


def marker(record: Mapping[str, Any]) -> str:
    """``pibench:<station>:<run_id>``: unique per run, searchable in notes."""
    station = re.sub(r"\s+", "_", str(record.get("station_id") or "station"))
    return f"pibench:{station}:{record['run_id']}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def step_value(step: Mapping[str, Any]) -> str:
    """The step's measurements as ``name=value units; ...`` (or its outcome when it measured
    nothing), within InvenTree's 500 characters."""
    attempts = step.get("attempts") or []
    last = attempts[-1] if attempts else {}
    parts = []
    for m in last.get("measurements") or []:
        units = f" {m['units']}" if m.get("units") else ""
        parts.append(f"{m['name']}={_text(m.get('value'))}{units}")
    text = "; ".join(parts) if parts else str(step.get("outcome", ""))
    if last.get("error"):
        text += f" (error: {last['error']})"
    return text[:NOTES_MAX]


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


def build_results(
    record: Mapping[str, Any],
    stock_item: int,
    templates: Mapping[str, int],
    step_to_key: Mapping[str, str],
    run_template: str | None,
) -> list[dict[str, Any]]:
    """The bulk body for one run. ``templates`` maps server key -> template pk.

    Raises :class:`MappingError` naming the first step without a template.
    """
    mark = marker(record)
    station = str(record.get("station_id") or "")[:NOTES_MAX]
    results: list[dict[str, Any]] = []
    for step in record.get("steps") or []:
        try:
            outcome = Outcome(step.get("outcome"))
        except ValueError:
            outcome = Outcome.ERROR
        if outcome not in _JUDGED:
            continue  # skipped or never finished: nothing was judged, nothing to report
        name = str(step.get("name", ""))
        key = step_to_key.get(name) or server_key(name)
        if key not in templates:
            raise MappingError(
                f"no test template with key '{key}' (step '{name}') on this part: add it in "
                "InvenTree or map the step in [sync.templates], then run 'pibench sync "
                "retry-parked'"
            )
        started, ended = _ordered_times(step.get("started_utc"), step.get("ended_utc"))
        results.append({
            "stock_item": stock_item,
            "template": templates[key],
            "result": outcome.passed,
            "value": step_value(step),
            "notes": f"{mark} {outcome}"[:NOTES_MAX],
            "test_station": station,
            "started_datetime": started,
            "finished_datetime": ended,
        })
    if run_template:
        if run_template not in templates:
            raise MappingError(
                f"no test template with key '{run_template}' ([sync] run_template) on this part"
            )
        run_outcome = str(record.get("outcome", ""))
        started, ended = _ordered_times(record.get("started_utc"), record.get("ended_utc"))
        results.append({
            "stock_item": stock_item,
            "template": templates[run_template],
            "result": run_outcome in (Outcome.PASS, Outcome.MARGINAL),
            "value": run_outcome[:NOTES_MAX],
            "notes": f"{mark} run {run_outcome}"[:NOTES_MAX],
            "test_station": station,
            "started_datetime": started,
            "finished_datetime": ended,
        })
    return results
