"""Plain JSON-ready views of what the station knows: runs, steps, events, products.

One place turns records and events into dicts, so the API, the event stream and the terminal
console agree on every field. Finished runs use the ``pibench.run/1`` document the export and the
inventory sync already use (``edge/store/payload.py``); live events reuse its step and
measurement shapes.
"""

from __future__ import annotations

import copy
from typing import Any

from edge.engine.events import (
    Event,
    Gap,
    Log,
    MeasurementTaken,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from edge.records import Limits, RunMeta
from edge.service.events import HealthChanged, ScanRead, SyncStatusChanged
from edge.store.codec import json_float, value_to_json
from edge.store.payload import _measurement_to_json, _step_to_json, record_to_json

__all__ = ["event_name", "event_view", "limits_view", "meta_view", "record_to_json",
           "step_view"]

step_view = _step_to_json
measurement_view = _measurement_to_json


def meta_view(meta: RunMeta) -> dict[str, Any]:
    # A copy down to ``extra``'s contents, as dataclasses.asdict gave: the view is the caller's.
    return {**meta._asdict(), "extra": copy.deepcopy(meta.extra)}


def limits_view(limits: Limits) -> dict[str, Any]:
    expected_type, expected = value_to_json(limits.expected)
    return {
        "units": limits.units,
        "low": json_float(limits.low),
        "high": json_float(limits.high),
        "marginal_low": json_float(limits.marginal_low),
        "marginal_high": json_float(limits.marginal_high),
        "expected": expected,
        "expected_type": expected_type,
        "text": limits.describe(),
    }


_NAMES: dict[type, str] = {
    RunStarted: "run_started",
    StepStarted: "step_started",
    MeasurementTaken: "measurement",
    StepFinished: "step_finished",
    RunFinished: "run_finished",
    Log: "log",
    Gap: "gap",
    ScanRead: "scan",
    HealthChanged: "health",
    SyncStatusChanged: "sync_status",
}


def event_name(event: Event) -> str:
    return _NAMES.get(type(event), "other")


def event_view(event: Event) -> dict[str, Any]:
    """The ``data`` of an event on the stream (its ``seq`` travels in the event id)."""
    base: dict[str, Any] = {"seq": event.seq, "run_id": event.run_id or None}
    if isinstance(event, RunStarted):
        base.update(meta=meta_view(event.meta), steps=list(event.steps),
                    teardown=list(event.teardown))
    elif isinstance(event, StepStarted):
        base.update(index=event.index, name=event.name, attempt=event.attempt,
                    timeout_s=json_float(event.timeout_s), critical=event.critical,
                    teardown=event.teardown)
    elif isinstance(event, MeasurementTaken):
        base.update(step_index=event.step_index, step_name=event.step_name,
                    measurement=measurement_view(event.measurement))
    elif isinstance(event, StepFinished):
        base.update(result=step_view(event.result))
    elif isinstance(event, RunFinished):
        base.update(record=record_to_json(event.record))
    elif isinstance(event, Log):
        base.update(level=event.level, message=event.message, step_index=event.step_index)
    elif isinstance(event, Gap):
        base.update(first_missed=event.first_missed, last_missed=event.seq)
    elif isinstance(event, ScanRead):
        base.update(source=event.source, raw=event.raw, serial=event.serial,
                    product=event.product, valid=event.valid, reason=event.reason,
                    messages={"fr": event.message_fr, "en": event.message_en}
                    if event.reason else None)
    elif isinstance(event, HealthChanged):
        base.update(health=event.health)
    elif isinstance(event, SyncStatusChanged):
        base.update(status=event.status)
    return base
