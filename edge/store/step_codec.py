"""A step's attempts and measurements as the compact JSON of ``step_results.attempts``.

One durable step is one row (see migration 3 in :mod:`edge.store.migrations`): the step's own
fields are columns, its attempts with their measurements are one JSON array, positional to keep
the row small (a smaller row is fewer pages written per commit on the SD card)::

    [[number, outcome, duration_s, error,
      [[name, outcome, units, value_type, value, low, high, marginal_low, marginal_high,
        expected_type, expected], ...]], ...]

Values use the exact JSON forms of :mod:`edge.store.codec` (``value_to_json``: Python's shortest
exact float text, NaN and infinities as ``"nan"``/``"inf"``/``"-inf"``, any integer exactly), so a
step reads back bit for bit. Text that UTF-8 cannot hold (lone surrogates from a serial port) is
kept as visible ``\\udcXX`` escapes, as :func:`edge.store.codec.storable_text` does everywhere.
A new field is appended at the end of its array; readers take what they know.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from edge.records import Attempt, Limits, Measurement, Outcome, StepResult
from edge.store.codec import (
    compact_json_encoder,
    decode_value,
    json_float,
    storable_text,
    value_from_json,
    value_to_json,
)
from edge.store.migrations import STEP_KEY_SPAN


def step_key(run_seq: int, step_index: int) -> int:
    """The ``step_results`` row id of a step: grows with every step of every run."""
    return run_seq * STEP_KEY_SPAN + step_index


def run_key_range(run_seq: int) -> tuple[int, int]:
    """``[low, high)`` of the row ids of one run's steps."""
    return run_seq * STEP_KEY_SPAN, (run_seq + 1) * STEP_KEY_SPAN


def _text(x: str | None) -> str | None:
    return None if x is None else storable_text(str(x))


_encode = compact_json_encoder()


def _measurement(m: Measurement) -> list[Any]:
    value_type, value = value_to_json(m.value)
    lim = m.limits
    expected_type, expected = value_to_json(lim.expected)
    return [_text(m.name), str(m.outcome), _text(lim.units), value_type, value,
            json_float(lim.low), json_float(lim.high), json_float(lim.marginal_low),
            json_float(lim.marginal_high), expected_type, expected]


def attempts_to_json(step: StepResult) -> str:
    doc = [
        [int(a.number), str(a.outcome), json_float(a.duration_s), _text(a.error),
         [_measurement(m) for m in a.measurements]]
        for a in step.attempts
    ]
    return _encode(doc)


# Outcome by its stored text: a dict lookup instead of the Enum constructor, which costs a
# Python call per outcome read back (a step's, its attempts', its measurements'); an unknown
# text still gets the Enum's own ValueError.
_OUTCOMES = {o.value: o for o in Outcome}


def _outcome(text: str) -> Outcome:
    found = _OUTCOMES.get(text)
    return found if found is not None else Outcome(text)


# Limits read back, by their stored JSON values. A plan's steps carry the same limits run after
# run, so most reads find them here instead of building (and validating) a new frozen object
# per measurement: decoding is a share of finishing a run that grows with its steps (issue 14
# goal 2). Sharing one immutable object between records is safe. The key is exact: values that
# compare equal decode to the same floats, except 0.0 and -0.0 (and False, equal to 0), so any
# key holding a zero is not cached. Cleared when full: a station's plans hold a few hundred.
_LIMITS: dict[tuple[Any, ...], Limits] = {}
_LIMITS_MAX = 1024


def _limits_from(units: str, key: tuple[Any, ...]) -> Limits:
    low, high, marginal_low, marginal_high, expected_type, expected = key
    return Limits(None if low is None else float(low), None if high is None else float(high),
                  units, None if marginal_low is None else float(marginal_low),
                  None if marginal_high is None else float(marginal_high),
                  value_from_json(expected_type, expected))


def _measurement_from(doc: list[Any]) -> Measurement:
    name, outcome, units, value_type, value = doc[:5]
    key = (units, *doc[5:11])
    limits = _LIMITS.get(key)
    if limits is None:
        limits = _limits_from(units, key[1:])
        if 0.0 not in key:
            if len(_LIMITS) >= _LIMITS_MAX:
                _LIMITS.clear()
            _LIMITS[key] = limits
    return Measurement(name, value_from_json(value_type, value), limits, _outcome(outcome))


def attempts_from_json(text: str) -> tuple[Attempt, ...]:
    # List comprehensions, not generators, inside tuple(): measurably cheaper per step read back.
    return tuple([
        Attempt(a[0], _outcome(a[1]), float(a[2]), tuple([_measurement_from(m) for m in a[4]]),
                a[3])
        for a in json.loads(text)  # [number, outcome, duration_s, error, measurements, ...]
    ])


def step_row(run_seq: int, step: StepResult) -> tuple[Any, ...]:
    """The ``step_results`` row of ``step`` (columns in table order)."""
    index = int(step.index)  # plain int: SQLite cannot bind e.g. a numpy integer
    return (step_key(run_seq, index), run_seq, index, _text(step.name), str(step.outcome),
            step.started_utc, step.ended_utc, float(step.duration_s), 1 if step.critical else 0,
            attempts_to_json(step))


STEP_COLUMNS = "step_index, name, outcome, started_utc, ended_utc, duration_s, critical, attempts"


def step_from_row(row: tuple[Any, ...]) -> StepResult:
    """A StepResult from the columns of :data:`STEP_COLUMNS`."""
    index, name, outcome, started, ended, duration_s, critical, attempts = row
    return StepResult(index, name, _outcome(outcome), started, ended, duration_s,
                      attempts_from_json(attempts), bool(critical))


# -- migration 3: the v1 tables (steps, attempts, measurements) into step_results -----------------

def _v1_limits(row: tuple[Any, ...]) -> Limits:
    units, low, high, marginal_low, marginal_high, expected_type, expected_text = row
    return Limits(low=low, high=high, units=units, marginal_low=marginal_low,
                  marginal_high=marginal_high, expected=decode_value(expected_type, expected_text))


def convert_v1_steps(conn: sqlite3.Connection) -> None:
    """Rewrite every v1 step as one ``step_results`` row, inside the migration's transaction.
    Read run by run so a large store never sits in memory at once."""
    runs = conn.execute("SELECT run_id, seq FROM runs ORDER BY seq").fetchall()
    for run_id, seq in runs:
        measurements: dict[tuple[int, int], list[Measurement]] = {}
        for step_index, attempt_pos, name, value_type, value_text, outcome, *limits in conn.execute(
            "SELECT step_index, attempt_position, name, value_type, value_text, outcome, units,"
            " low, high, marginal_low, marginal_high, expected_type, expected_text"
            " FROM measurements WHERE run_id = ? ORDER BY step_index, attempt_position, position",
            (run_id,),
        ):
            measurements.setdefault((step_index, attempt_pos), []).append(Measurement(
                name, decode_value(value_type, value_text), _v1_limits(limits), Outcome(outcome)))
        attempts: dict[int, list[Attempt]] = {}
        for step_index, position, number, outcome, duration_s, error in conn.execute(
            "SELECT step_index, position, number, outcome, duration_s, error FROM attempts"
            " WHERE run_id = ? ORDER BY step_index, position",
            (run_id,),
        ):
            attempts.setdefault(step_index, []).append(Attempt(
                number, Outcome(outcome), duration_s,
                tuple(measurements.get((step_index, position), ())), error))
        rows = [
            step_row(seq, StepResult(index, name, Outcome(outcome), started, ended, duration_s,
                                     tuple(attempts.get(index, ())), bool(critical)))
            for index, name, outcome, started, ended, duration_s, critical in conn.execute(
                "SELECT step_index, name, outcome, started_utc, ended_utc, duration_s, critical"
                " FROM steps WHERE run_id = ? ORDER BY step_index",
                (run_id,),
            ).fetchall()
        ]
        conn.executemany(
            "INSERT INTO step_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
