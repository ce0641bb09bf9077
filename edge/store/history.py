"""Reading results back: one whole run, lists of runs, and yield per product.

Every function takes a connection; readers (HMI, API, exports) should open their own with
:func:`edge.store.db.open_store` rather than share the engine's. All SQL is constant text with
``?`` parameters; filters only choose among fixed clauses.

Lists are newest first by start time. Date filters are UTC days and half-open ranges
``[start, end)`` on the run's start time.
"""

import json
import sqlite3
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from drivers.named_tuple import NamedTuple
from edge.records import Measurement, Outcome, RunMeta, RunRecord
from edge.store.codec import day_bounds, utc_epoch
from edge.store.db import UnknownRunError, read_snapshot
from edge.store.migrations import STEP_KEY_SPAN
from edge.store.step_codec import STEP_COLUMNS, run_key_range, step_from_row

Moment = datetime | str  # an aware datetime or an ISO-8601 string (naive means UTC)

_RUN_COLUMNS = (
    "run_id, serial, product, revision, batch, operator, station_id, fixture_id, plan_name, "
    "plan_version, plan_hash, software_version, started_utc, clock_synced, retest, extra, "
    "outcome, ended_utc, duration_s, error"
)
_PASSED = tuple(o.value for o in Outcome if o.passed)


# NamedTuples, not frozen dataclasses: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class RunSummary(NamedTuple):
    """A run without its steps, for lists. ``load_run(conn, meta.run_id)`` gives the rest."""

    meta: RunMeta
    outcome: Outcome
    ended_utc: str | None
    duration_s: float | None
    error: str | None
    step_count: int


class ProductYield(NamedTuple):
    """Runs of one product in a period, and its first-pass yield.

    ``serials``: serials whose first finished run (in the order this station ran them) started
    in the period; ``first_pass``: how many of those passed that first run (PASS or
    PASS-MARGINAL). A first run that ended ERROR or ABORTED counts as not passed: the unit
    needed another run either way.
    """

    product: str
    runs: int
    outcomes: dict[str, int]  # outcome -> runs
    serials: int = 0
    first_pass: int = 0

    @property
    def first_pass_yield(self) -> float | None:
        return self.first_pass / self.serials if self.serials else None


def _meta_from_row(row: sqlite3.Row | tuple[Any, ...]) -> RunMeta:
    (run_id, serial, product, revision, batch, operator, station_id, fixture_id, plan_name,
     plan_version, plan_hash, software_version, started_utc, clock_synced, retest, extra) = row[:16]
    return RunMeta(
        run_id=run_id,
        serial=serial,
        product=product,
        revision=revision,
        plan_name=plan_name,
        plan_version=plan_version,
        plan_hash=plan_hash,
        station_id=station_id,
        fixture_id=fixture_id,
        software_version=software_version,
        started_utc=started_utc,
        clock_synced=bool(clock_synced),
        operator=operator,
        batch=batch,
        retest=bool(retest),
        extra=json.loads(extra),
    )


def load_run(conn: sqlite3.Connection, run_id: str) -> RunRecord:
    """The run exactly as recorded, steps in index order (raises :class:`UnknownRunError`)."""
    with read_snapshot(conn):
        row = conn.execute(
            f"SELECT {_RUN_COLUMNS}, seq FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise UnknownRunError(f"no run {run_id!r} on record")
        low, high = run_key_range(row[20])
        steps = tuple(
            step_from_row(r)
            for r in conn.execute(
                f"SELECT {STEP_COLUMNS} FROM step_results WHERE id >= ? AND id < ? ORDER BY id",
                (low, high),
            )
        )
    outcome, ended_utc, duration_s, error = row[16:20]
    return RunRecord(_meta_from_row(row), Outcome(outcome), ended_utc, duration_s, steps, error)


def _where(
    *,
    serial: str | None = None,
    product: str | None = None,
    day: date | str | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
    outcome: str | None = None,
) -> tuple[str, list[Any]]:
    """A WHERE clause chosen from fixed fragments, and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if outcome is not None:
        clauses.append("outcome = ?")
        params.append(outcome)
    if serial is not None:
        clauses.append("serial = ?")
        params.append(serial)
    if product is not None:
        clauses.append("product = ?")
        params.append(product)
    if day is not None:
        day_start, day_end = day_bounds(day)
        clauses.append("started_epoch >= ? AND started_epoch < ?")
        params += [day_start, day_end]
    if start is not None:
        clauses.append("started_epoch >= ?")
        params.append(utc_epoch(start))
    if end is not None:
        clauses.append("started_epoch < ?")
        params.append(utc_epoch(end))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def find_runs(
    conn: sqlite3.Connection,
    *,
    serial: str | None = None,
    product: str | None = None,
    day: date | str | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
    limit: int | None = None,
    outcome: str | None = None,
    offset: int = 0,
) -> list[RunSummary]:
    """Runs matching every filter given, newest first; ``offset`` skips that many (paging)."""
    where, params = _where(serial=serial, product=product, day=day, start=start, end=end,
                           outcome=outcome)
    rows = conn.execute(
        f"SELECT {_RUN_COLUMNS},"
        f" (SELECT count(*) FROM step_results WHERE id >= seq * {STEP_KEY_SPAN}"
        f"  AND id < (seq + 1) * {STEP_KEY_SPAN})"
        f" FROM runs{where} ORDER BY started_epoch DESC, seq DESC LIMIT ? OFFSET ?",
        [*params, -1 if limit is None else int(limit), int(offset)],
    ).fetchall()
    return [
        RunSummary(_meta_from_row(r), Outcome(r[16]), r[17], r[18], r[19], r[20]) for r in rows
    ]


class RunMeasurement(NamedTuple):
    """One measurement of a stored run, with the run and step it belongs to."""

    run_id: str
    serial: str
    started_utc: str
    run_outcome: Outcome
    step_index: int
    step: str
    measurement: Measurement


def find_measurements(
    conn: sqlite3.Connection,
    *,
    product: str,
    day: date | str,
    name: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[RunMeasurement]:
    """The measurements of a product's runs started on ``day`` (UTC), ``name`` only if given:
    each step's deciding (last) attempt, oldest run first, then plan order. One query over
    the day's runs and their step rows; what a plot of the day needs without loading every
    run one by one."""
    where, params = _where(product=product, day=day)
    step_columns = ", ".join(f"s.{c.strip()}" for c in STEP_COLUMNS.split(","))
    rows = conn.execute(
        f"SELECT r.run_id, r.serial, r.started_utc, r.outcome, {step_columns}"
        " FROM runs AS r JOIN step_results AS s"
        f" ON s.id >= r.seq * {STEP_KEY_SPAN} AND s.id < (r.seq + 1) * {STEP_KEY_SPAN}"
        f"{where} ORDER BY r.started_epoch, r.seq, s.id",
        params,
    ).fetchall()
    found = [
        RunMeasurement(run_id, serial, started, Outcome(run_outcome), step.index, step.name, m)
        for run_id, serial, started, run_outcome, *step_row in rows
        for step in (step_from_row(tuple(step_row)),)
        for m in step.measurements
        if name is None or m.name == name
    ]
    end = None if limit is None else offset + int(limit)
    return found[int(offset):end]


def find_run_ids(
    conn: sqlite3.Connection,
    *,
    serial: str | None = None,
    product: str | None = None,
    day: date | str | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
) -> list[str]:
    """Ids of matching runs, oldest first (the order exports are written in)."""
    where, params = _where(serial=serial, product=product, day=day, start=start, end=end)
    return [
        r[0]
        for r in conn.execute(
            f"SELECT run_id FROM runs{where} ORDER BY started_epoch, seq", params
        )
    ]


def runs_for_serial(
    conn: sqlite3.Connection, serial: str, *, product: str | None = None, limit: int | None = None
) -> list[RunSummary]:
    return find_runs(conn, serial=serial, product=product, limit=limit)


def runs_on_day(
    conn: sqlite3.Connection, day: date | str, *, product: str | None = None
) -> list[RunSummary]:
    """Runs started on the UTC day ``day`` (a date or 'YYYY-MM-DD')."""
    return find_runs(conn, day=day, product=product)


def runs_between(
    conn: sqlite3.Connection, start: Moment, end: Moment, *, product: str | None = None
) -> list[RunSummary]:
    """Runs started in ``[start, end)``."""
    return find_runs(conn, start=start, end=end, product=product)


def last_runs(
    conn: sqlite3.Connection, n: int = 20, *, product: str | None = None
) -> list[RunSummary]:
    return find_runs(conn, product=product, limit=n)


def yield_by_product(
    conn: sqlite3.Connection,
    *,
    product: str | None = None,
    day: date | str | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
) -> dict[str, ProductYield]:
    """Outcome counts and first-pass yield per product for runs started in the period.

    Outcome counts include runs still RUNNING; first-pass yield ignores them (no verdict yet).
    A serial's first run is its first *ever* on this station, not its first in the period, so a
    unit that failed last week and passed today is not counted as passing first time.
    """
    where, params = _where(product=product, day=day, start=start, end=end)
    outcomes: dict[str, dict[str, int]] = defaultdict(dict)
    for prod, outcome, count in conn.execute(
        f"SELECT product, outcome, count(*) FROM runs{where} GROUP BY product, outcome", params
    ):
        outcomes[prod][outcome] = count
    passed_marks = ", ".join("?" for _ in _PASSED)
    firsts = {
        prod: (serials, first_pass)
        for prod, serials, first_pass in conn.execute(
            "WITH firsts AS ("
            "  SELECT product, serial, outcome, started_epoch,"
            "         row_number() OVER (PARTITION BY product, serial ORDER BY seq) AS nth"
            "  FROM runs WHERE outcome <> 'RUNNING')"
            f" SELECT product, count(*), total(outcome IN ({passed_marks}))"
            f" FROM (SELECT * FROM firsts WHERE nth = 1){where} GROUP BY product",
            [*_PASSED, *params],
        )
    }
    return {
        prod: ProductYield(
            product=prod,
            runs=sum(counts.values()),
            outcomes=dict(sorted(counts.items())),
            serials=firsts.get(prod, (0, 0))[0],
            first_pass=int(firsts.get(prod, (0, 0))[1]),
        )
        for prod, counts in sorted(outcomes.items())
    }
