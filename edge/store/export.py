"""Exports for people and other tools: CSV for spreadsheets, JSON in the ``pibench.run/1`` shape.

CSV is flat: one row per measurement (every attempt's, with ``final_attempt`` = 1 on the attempt
that decided the step), repeating the run and step columns. A step without measurements, and a
run without steps, still get one row, so an aborted run or a fixture failure is never invisible.
Numbers are written without locale: ``.`` as decimal point, no grouping, floats as Python's
shortest exact form (``0.1``, ``1e-06``, ``nan``); flags as ``1``/``0``; missing as empty.
A CSV written to a path is UTF-8 with a byte-order mark, which spreadsheet programs need to
recognise UTF-8 (read it back with ``encoding="utf-8-sig"``).

Files are written to a temporary name and renamed, so a crash never leaves a truncated export
that looks complete.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from edge.records import Attempt, Measurement, RunRecord, StepResult
from edge.store.codec import encode_value
from edge.store.db import read_snapshot
from edge.store.history import Moment, find_run_ids, load_run
from edge.store.payload import record_to_json

Destination = str | os.PathLike[str] | TextIO

RUN_COLUMNS = (
    "run_id", "serial", "product", "revision", "batch", "operator", "station_id", "fixture_id",
    "plan_name", "plan_version", "plan_hash", "software_version", "run_started_utc",
    "run_ended_utc", "run_duration_s", "run_outcome", "run_error", "retest", "clock_synced",
)
STEP_COLUMNS = (
    "step_index", "step_name", "step_outcome", "step_critical", "step_started_utc",
    "step_ended_utc", "step_duration_s",
)
ATTEMPT_COLUMNS = (
    "attempt_number", "attempt_outcome", "attempt_duration_s", "attempt_error", "final_attempt",
)
MEASUREMENT_COLUMNS = (
    "measurement", "value", "value_type", "units", "low", "high", "marginal_low",
    "marginal_high", "expected", "measurement_outcome", "marginal",
)
CSV_COLUMNS = RUN_COLUMNS + STEP_COLUMNS + ATTEMPT_COLUMNS + MEASUREMENT_COLUMNS


def _cell(x: Any) -> str:
    """One CSV cell, the same on every machine whatever its locale."""
    if x is None:
        return ""
    if isinstance(x, bool):
        return "1" if x else "0"
    if isinstance(x, float):
        return repr(x)
    return str(x)


def _run_cells(record: RunRecord) -> list[str]:
    m = record.meta
    return [_cell(x) for x in (
        m.run_id, m.serial, m.product, m.revision, m.batch, m.operator, m.station_id,
        m.fixture_id, m.plan_name, m.plan_version, m.plan_hash, m.software_version,
        m.started_utc, record.ended_utc, record.duration_s, record.outcome, record.error,
        m.retest, m.clock_synced,
    )]


def _step_cells(step: StepResult | None) -> list[str]:
    if step is None:
        return [""] * len(STEP_COLUMNS)
    return [_cell(x) for x in (
        step.index, step.name, step.outcome, step.critical, step.started_utc, step.ended_utc,
        step.duration_s,
    )]


def _attempt_cells(attempt: Attempt | None, final: bool) -> list[str]:
    if attempt is None:
        return [""] * len(ATTEMPT_COLUMNS)
    return [_cell(x) for x in (
        attempt.number, attempt.outcome, attempt.duration_s, attempt.error, final,
    )]


def _measurement_cells(m: Measurement | None) -> list[str]:
    if m is None:
        return [""] * len(MEASUREMENT_COLUMNS)
    value_type, value_text, _ = encode_value(m.value)
    _, expected_text, _ = encode_value(m.limits.expected)
    lim = m.limits
    return [_cell(x) for x in (
        m.name, value_text, value_type, lim.units, lim.low, lim.high, lim.marginal_low,
        lim.marginal_high, expected_text, m.outcome, m.marginal,
    )]


def csv_rows(record: RunRecord) -> Iterator[list[str]]:
    """The CSV rows of one run (no header), in step / attempt / measurement order."""
    run = _run_cells(record)
    if not record.steps:
        yield run + _step_cells(None) + _attempt_cells(None, False) + _measurement_cells(None)
        return
    for step in record.steps:
        stepc = _step_cells(step)
        wrote = False
        for pos, attempt in enumerate(step.attempts):
            attc = _attempt_cells(attempt, pos == len(step.attempts) - 1)
            for m in attempt.measurements:
                yield run + stepc + attc + _measurement_cells(m)
                wrote = True
        if not wrote:  # keep the step visible even without any measurement
            last = step.attempts[-1] if step.attempts else None
            yield run + stepc + _attempt_cells(last, last is not None) + _measurement_cells(None)


@contextlib.contextmanager
def _text_destination(dest: Destination, encoding: str) -> Iterator[TextIO]:
    """A stream passes through; a path gets a temporary file renamed into place when complete."""
    if hasattr(dest, "write"):
        yield dest  # type: ignore[misc]
        return
    path = Path(dest)  # type: ignore[arg-type]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def export_csv(
    conn: sqlite3.Connection,
    dest: Destination,
    *,
    serial: str | None = None,
    product: str | None = None,
    day: date | str | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
) -> int:
    """Write matching runs (oldest first) as CSV to a path or text stream; return the run count."""
    with read_snapshot(conn):  # one consistent view for the whole file
        run_ids = find_run_ids(conn, serial=serial, product=product, day=day, start=start, end=end)
        with _text_destination(dest, "utf-8-sig") as out:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(CSV_COLUMNS)
            for run_id in run_ids:
                writer.writerows(csv_rows(load_run(conn, run_id)))
    return len(run_ids)


def export_json(
    conn: sqlite3.Connection,
    dest: Destination,
    *,
    serial: str | None = None,
    product: str | None = None,
    day: date | str | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
) -> int:
    """Write matching runs (oldest first) as a JSON list of ``pibench.run/1`` documents; return
    the run count. Runs are written one at a time, so memory stays flat for large exports."""
    with read_snapshot(conn):
        run_ids = find_run_ids(conn, serial=serial, product=product, day=day, start=start, end=end)
        with _text_destination(dest, "utf-8") as out:
            out.write("[")
            for n, run_id in enumerate(run_ids):
                doc = record_to_json(load_run(conn, run_id))
                out.write(",\n" if n else "\n")
                out.write(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False))
            out.write("\n]\n")
    return len(run_ids)
