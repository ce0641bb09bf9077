"""The documented JSON shape of a finished run, ``pibench.run/1``.

This is what the outbox snapshots for the inventory sync (the exact bytes every retry sends) and
what the JSON export writes, so it is defined once, here. Shape (every key always present)::

    {
      "schema": "pibench.run/1",
      "run_id": "<uuid>",            # idempotency key
      "serial": str, "product": str, "revision": str, "batch": str, "operator": str,
      "station_id": str, "fixture_id": str,
      "plan_name": str, "plan_version": str, "plan_hash": "<sha256 hex>",
      "software_version": str,
      "started_utc": "<ISO-8601>", "ended_utc": "<ISO-8601>" | null,
      "duration_s": number | null,   # monotonic clock; null if unknown (interrupted run)
      "clock_synced": bool, "retest": bool,
      "outcome": "PASS" | "PASS-MARGINAL" | "FAIL" | "ERROR" | "ABORTED" | ...,
      "error": str | null,           # run-level reason
      "extra": {...},
      "steps": [{
        "index": int, "name": str, "outcome": str, "critical": bool,
        "started_utc": str, "ended_utc": str, "duration_s": number,
        "attempts": [{
          "number": int, "outcome": str, "duration_s": number, "error": str | null,
          "measurements": [{
            "name": str, "outcome": str, "marginal": bool, "units": str,
            "value": number | int | bool | str | null, "value_type": "none|bool|int|float|str",
            "low": number | null, "high": number | null,
            "marginal_low": number | null, "marginal_high": number | null,
            "expected": <like value>, "expected_type": "none|bool|int|float|str"
          }]
        }]
      }]
    }

Steps are in index order, attempts and measurements in recorded order; the deciding attempt of a
step is its last. Strict JSON: a float that is NaN or infinite is written as the string ``"nan"``,
``"inf"`` or ``"-inf"`` (``value_type`` stays ``float``). A consumer must ignore keys it does not
know; a change that breaks that rule gets a new ``schema`` name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from edge.records import Attempt, Limits, Measurement, Outcome, RunMeta, RunRecord, StepResult
from edge.store.codec import float_from_json, json_float, value_from_json, value_to_json

SCHEMA = "pibench.run/1"


# Every dict below is written with its keys in sorted order, and ``extra`` (the one dict whose
# keys are not ours) is put in sorted order by :func:`_key_sorted`: the encoder then writes the
# canonical, sorted text without sorting each of a run's few hundred dicts again, a share of
# the per-step cost of finishing a run (issue 14 goal 2). tests/edge/test_store_export.py checks
# the text against ``json.dumps(..., sort_keys=True)``.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _key_sorted(value: Any) -> Any:
    """``value`` with the keys of every dict in it, at any depth, in sorted order."""
    if isinstance(value, dict):
        return {k: _key_sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_key_sorted(v) for v in value]
    return value


def _measurement_to_json(m: Measurement) -> dict[str, Any]:
    limits = m.limits
    value_type, value = value_to_json(m.value)
    expected_type, expected = value_to_json(limits.expected)
    return {
        "expected": expected,
        "expected_type": expected_type,
        "high": json_float(limits.high),
        "low": json_float(limits.low),
        "marginal": m.marginal,
        "marginal_high": json_float(limits.marginal_high),
        "marginal_low": json_float(limits.marginal_low),
        "name": m.name,
        "outcome": str(m.outcome),
        "units": limits.units,
        "value": value,
        "value_type": value_type,
    }


def _step_to_json(step: StepResult) -> dict[str, Any]:
    return {
        "attempts": [
            {
                "duration_s": json_float(a.duration_s),
                "error": a.error,
                "measurements": [_measurement_to_json(m) for m in a.measurements],
                "number": a.number,
                "outcome": str(a.outcome),
            }
            for a in step.attempts
        ],
        "critical": step.critical,
        "duration_s": json_float(step.duration_s),
        "ended_utc": step.ended_utc,
        "index": step.index,
        "name": step.name,
        "outcome": str(step.outcome),
        "started_utc": step.started_utc,
    }


def record_to_json(record: RunRecord) -> dict[str, Any]:
    """The run as ``pibench.run/1`` (see the module docstring): JSON-ready, no NaN anywhere."""
    meta = record.meta
    return {
        "batch": meta.batch,
        "clock_synced": meta.clock_synced,
        "duration_s": json_float(record.duration_s),
        "ended_utc": record.ended_utc,
        "error": record.error,
        "extra": _key_sorted(meta.extra),
        "fixture_id": meta.fixture_id,
        "operator": meta.operator,
        "outcome": str(record.outcome),
        "plan_hash": meta.plan_hash,
        "plan_name": meta.plan_name,
        "plan_version": meta.plan_version,
        "product": meta.product,
        "retest": meta.retest,
        "revision": meta.revision,
        "run_id": meta.run_id,
        "schema": SCHEMA,
        "serial": meta.serial,
        "software_version": meta.software_version,
        "started_utc": meta.started_utc,
        "station_id": meta.station_id,
        "steps": [_step_to_json(s) for s in record.steps],
    }


def payload_text(record: RunRecord) -> str:
    """The canonical serialisation stored in the outbox: sorted keys, no spaces, ASCII only (so
    the text *is* its UTF-8 bytes and no encoding choice downstream can change it)."""
    return _ENCODER.encode(record_to_json(record))


def _measurement_from_json(doc: Mapping[str, Any]) -> Measurement:
    limits = Limits(
        low=float_from_json(doc["low"]),
        high=float_from_json(doc["high"]),
        units=doc["units"],
        marginal_low=float_from_json(doc["marginal_low"]),
        marginal_high=float_from_json(doc["marginal_high"]),
        expected=value_from_json(doc["expected_type"], doc["expected"]),
    )
    return Measurement(
        name=doc["name"],
        value=value_from_json(doc["value_type"], doc["value"]),
        limits=limits,
        outcome=Outcome(doc["outcome"]),
    )


def _step_from_json(doc: Mapping[str, Any]) -> StepResult:
    return StepResult(
        index=doc["index"],
        name=doc["name"],
        outcome=Outcome(doc["outcome"]),
        started_utc=doc["started_utc"],
        ended_utc=doc["ended_utc"],
        duration_s=float(doc["duration_s"]),
        critical=doc["critical"],
        attempts=tuple(
            Attempt(
                number=a["number"],
                outcome=Outcome(a["outcome"]),
                duration_s=float(a["duration_s"]),
                error=a["error"],
                measurements=tuple(_measurement_from_json(m) for m in a["measurements"]),
            )
            for a in doc["attempts"]
        ),
    )


def record_from_json(doc: Mapping[str, Any]) -> RunRecord:
    """Inverse of :func:`record_to_json` (for the local API, imports and tests)."""
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"not a {SCHEMA} document (schema={doc.get('schema')!r})")
    meta = RunMeta(
        run_id=doc["run_id"],
        serial=doc["serial"],
        product=doc["product"],
        revision=doc["revision"],
        plan_name=doc["plan_name"],
        plan_version=doc["plan_version"],
        plan_hash=doc["plan_hash"],
        station_id=doc["station_id"],
        fixture_id=doc["fixture_id"],
        software_version=doc["software_version"],
        started_utc=doc["started_utc"],
        clock_synced=doc["clock_synced"],
        operator=doc["operator"],
        batch=doc["batch"],
        retest=doc["retest"],
        extra=dict(doc["extra"]),
    )
    return RunRecord(
        meta=meta,
        outcome=Outcome(doc["outcome"]),
        ended_utc=doc["ended_utc"],
        duration_s=float_from_json(doc["duration_s"]),
        steps=tuple(_step_from_json(s) for s in doc["steps"]),
        error=doc["error"],
    )
