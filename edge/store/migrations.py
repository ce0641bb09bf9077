"""The schema of the result database, as an ordered list of migrations.

``PRAGMA user_version`` holds the number of the last migration applied; ``PRAGMA application_id``
marks the file as a pibench store. :func:`edge.store.db.open_store` applies what is missing, one
transaction per migration. To change the schema, append a migration; never edit a released one
(stations in the field have already applied it).

Deliberate choices in migration 1:

* No CHECK on outcome columns: if ``Outcome`` gains a value, the store must keep accepting
  results rather than reject them until a migration ships.
* No uniqueness on attempt numbers or measurement names: a quirky plan must not make a result
  unsavable. Rows are keyed by their *position* instead, which also restores tuple order exactly.
* ``runs.seq``: the order in which this station started its runs. The wall clock of a Pi without
  RTC can be hours off until NTP syncs, so "the first run of a serial" is decided by ``seq``, not
  by timestamps. (ROWID would not do: VACUUM may renumber it.)
* Triggers keep a finished run and an outbox payload immutable, so a bug elsewhere (sync, API)
  cannot rewrite a verdict or change the bytes a retry sends.
* SQLite ≥ 3.25 features only (window functions in history queries); no STRICT tables, which
  Raspberry Pi OS Bullseye's SQLite 3.34 cannot read.
"""

import sqlite3
from collections.abc import Callable

from drivers.named_tuple import NamedTuple

# 'pibR' (pibench Results) in ASCII: identifies our files in the SQLite header.
APPLICATION_ID = 0x70696252


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class Migration(NamedTuple):
    """One schema version: the statements (and conversion) that reach it."""

    version: int
    description: str
    statements: tuple[str, ...]
    # Data a statement cannot move exactly (floats through SQLite's JSON functions lose digits):
    # a function run after ``statements`` in the same transaction.
    convert: Callable[[sqlite3.Connection], None] | None = None
    after: tuple[str, ...] = ()  # statements run after ``convert``


_V1_RESULTS_AND_OUTBOX = (
    """
    CREATE TABLE runs (
        run_id           TEXT PRIMARY KEY NOT NULL,
        seq              INTEGER NOT NULL UNIQUE,
        serial           TEXT NOT NULL,
        product          TEXT NOT NULL,
        revision         TEXT NOT NULL,
        batch            TEXT NOT NULL,
        operator         TEXT NOT NULL,
        station_id       TEXT NOT NULL,
        fixture_id       TEXT NOT NULL,
        plan_name        TEXT NOT NULL,
        plan_version     TEXT NOT NULL,
        plan_hash        TEXT NOT NULL,
        software_version TEXT NOT NULL,
        started_utc      TEXT NOT NULL,
        started_epoch    REAL NOT NULL,   -- parsed started_utc, for sorting and date ranges
        ended_utc        TEXT,
        duration_s       REAL,            -- monotonic clock; NULL while running or if unknown
        clock_synced     INTEGER NOT NULL CHECK (clock_synced IN (0, 1)),
        retest           INTEGER NOT NULL CHECK (retest IN (0, 1)),
        outcome          TEXT NOT NULL,   -- an Outcome value; RUNNING until finished
        error            TEXT,
        extra            TEXT NOT NULL DEFAULT '{}'  -- JSON object
    )
    """,
    "CREATE INDEX runs_by_serial ON runs (serial, started_epoch)",
    "CREATE INDEX runs_by_started ON runs (started_epoch)",
    "CREATE INDEX runs_by_product ON runs (product, started_epoch)",
    # Recovery looks for unfinished runs at every start; a partial index keeps that instant.
    "CREATE INDEX runs_running ON runs (outcome) WHERE outcome = 'RUNNING'",
    """
    CREATE TABLE steps (
        run_id      TEXT NOT NULL REFERENCES runs (run_id),
        step_index  INTEGER NOT NULL CHECK (step_index >= 0),
        name        TEXT NOT NULL,
        outcome     TEXT NOT NULL,
        started_utc TEXT NOT NULL,
        ended_utc   TEXT NOT NULL,
        duration_s  REAL NOT NULL,
        critical    INTEGER NOT NULL CHECK (critical IN (0, 1)),
        PRIMARY KEY (run_id, step_index)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE attempts (
        run_id      TEXT NOT NULL,
        step_index  INTEGER NOT NULL,
        position    INTEGER NOT NULL,  -- order within the step's attempts tuple
        number      INTEGER NOT NULL,
        outcome     TEXT NOT NULL,
        duration_s  REAL NOT NULL,
        error       TEXT,
        PRIMARY KEY (run_id, step_index, position),
        FOREIGN KEY (run_id, step_index) REFERENCES steps (run_id, step_index)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE measurements (
        run_id           TEXT NOT NULL,
        step_index       INTEGER NOT NULL,
        attempt_position INTEGER NOT NULL,
        position         INTEGER NOT NULL,  -- order within the attempt's measurements tuple
        name             TEXT NOT NULL,
        value            REAL,              -- numeric view (NULL for strings, None and NaN)
        value_type       TEXT NOT NULL,     -- none | bool | int | float | str
        value_text       TEXT,              -- exact form the value is rebuilt from
        units            TEXT NOT NULL,
        low              REAL,
        high             REAL,
        marginal_low     REAL,
        marginal_high    REAL,
        expected_type    TEXT NOT NULL,
        expected_text    TEXT,
        outcome          TEXT NOT NULL,
        marginal         INTEGER NOT NULL CHECK (marginal IN (0, 1)),
        PRIMARY KEY (run_id, step_index, attempt_position, position),
        FOREIGN KEY (run_id, step_index, attempt_position)
            REFERENCES attempts (run_id, step_index, position)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE outbox (
        id               INTEGER PRIMARY KEY,  -- FIFO order of creation
        run_id           TEXT NOT NULL REFERENCES runs (run_id),  -- the idempotency key
        target           TEXT NOT NULL DEFAULT 'inventory',
        payload          TEXT NOT NULL,        -- pibench.run/1 JSON, the exact bytes to send
        created_utc      TEXT NOT NULL,
        state            TEXT NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'delivered', 'parked')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  REAL NOT NULL,        -- UTC epoch seconds
        last_error_class TEXT,
        last_error       TEXT,
        delivered_utc    TEXT,
        remote_ref       TEXT,
        UNIQUE (run_id, target)
    )
    """,
    "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)",
    """
    CREATE TRIGGER runs_finished_are_final BEFORE UPDATE ON runs
    WHEN OLD.outcome <> 'RUNNING'
    BEGIN
        SELECT RAISE(ABORT, 'pibench: a finished run cannot be changed');
    END
    """,
    """
    CREATE TRIGGER steps_only_while_running BEFORE INSERT ON steps
    WHEN (SELECT outcome FROM runs WHERE run_id = NEW.run_id) <> 'RUNNING'
    BEGIN
        SELECT RAISE(ABORT, 'pibench: steps can only be added to a running run');
    END
    """,
    """
    CREATE TRIGGER outbox_payload_is_frozen BEFORE UPDATE OF run_id, target, payload ON outbox
    BEGIN
        SELECT RAISE(ABORT, 'pibench: an outbox payload is never rewritten');
    END
    """,
)

# Migration 2 belongs to the inventory sync (edge/sync, issue 5); see edge/sync/outbox.py.
# * outbox.needs_reconcile: set durably *before* a request that may store the run leaves, so
#   after a crash or power cut the sync looks for the run on the server (InvenTree has no
#   idempotency keys) instead of posting it twice.
# * partial indexes: picking the next run and counting parked ones cost the same with 10 or
#   100 000 delivered rows behind them.
# * sync_targets: each target's circuit (up / down / paused for auth or an old server), its
#   backoff and its last success/error, in the file so `pibench sync status` in another process
#   and a restarted worker see the same state.
_V2_SYNC_STATE = (
    "ALTER TABLE outbox ADD COLUMN needs_reconcile INTEGER NOT NULL DEFAULT 0"
    " CHECK (needs_reconcile IN (0, 1))",
    "CREATE INDEX outbox_pending_fifo ON outbox (target, id) WHERE state = 'pending'",
    "CREATE INDEX outbox_parked_fifo ON outbox (target, id) WHERE state = 'parked'",
    """
    CREATE TABLE sync_targets (
        target           TEXT PRIMARY KEY NOT NULL,
        state            TEXT NOT NULL DEFAULT 'up',  -- up | down | auth | incompatible
        failures         INTEGER NOT NULL DEFAULT 0,  -- consecutive, since the last delivery
        next_probe_at    REAL NOT NULL DEFAULT 0,     -- UTC epoch: next probe / pause re-check
        paused_reason    TEXT,
        last_success_utc TEXT,
        last_error_class TEXT,
        last_error       TEXT,                        -- redacted before it is written
        last_error_utc   TEXT
    )
    """,
)

# Migration 3: one row, one page, per durable step (issue 14: bytes written to the SD card).
# v1 wrote a step as rows in three WITHOUT ROWID tables keyed by the run's 36-character UUID:
# every step commit touched at least three b-tree leaves (steps, attempts, measurements), placed
# at random spots of the file because UUIDs are random, and each split half-filled pages. Now:
# * a step is one row of ``step_results``; its attempts and measurements are a compact JSON array
#   in that row (format in ``edge/store/step_codec.py``), written and read back exactly;
# * the row's key is ``run_seq * 2**20 + step_index`` (runs.seq is this station's run counter):
#   one integer that grows with every step of every run, so a step is appended at the end of the
#   table's b-tree (one leaf page per commit, a split adds one page and its parent), and the key
#   itself refuses a step recorded twice; no secondary index to update;
# * ``steps`` stays readable as a view (run_id, step_index, name, outcome, ...), for ad-hoc SQL.
STEP_KEY_SPAN = 1 << 20  # step indexes per run in the packed key (a plan has a few hundred)

_V3_ONE_ROW_PER_STEP = (
    f"""
    CREATE TABLE step_results (
        id          INTEGER PRIMARY KEY,  -- run_seq * {STEP_KEY_SPAN} + step_index
        run_seq     INTEGER NOT NULL REFERENCES runs (seq),
        step_index  INTEGER NOT NULL CHECK (step_index >= 0 AND step_index < {STEP_KEY_SPAN}),
        name        TEXT NOT NULL,
        outcome     TEXT NOT NULL,
        started_utc TEXT NOT NULL,
        ended_utc   TEXT NOT NULL,
        duration_s  REAL NOT NULL,
        critical    INTEGER NOT NULL CHECK (critical IN (0, 1)),
        attempts    TEXT NOT NULL,        -- JSON, see edge/store/step_codec.py
        CHECK (id = run_seq * {STEP_KEY_SPAN} + step_index)
    )
    """,
)

_V3_AFTER_CONVERSION = (
    "DROP TABLE measurements",
    "DROP TABLE attempts",
    "DROP TABLE steps",  # drops its trigger too
    f"""
    CREATE VIEW steps AS
    SELECT r.run_id AS run_id, s.step_index, s.name, s.outcome, s.started_utc, s.ended_utc,
           s.duration_s, s.critical
    FROM runs AS r JOIN step_results AS s  -- a range of the key: no index on run_seq needed
      ON s.id >= r.seq * {STEP_KEY_SPAN} AND s.id < (r.seq + 1) * {STEP_KEY_SPAN}
    """,
    """
    CREATE TRIGGER step_results_only_while_running BEFORE INSERT ON step_results
    WHEN (SELECT outcome FROM runs WHERE seq = NEW.run_seq) <> 'RUNNING'
    BEGIN
        SELECT RAISE(ABORT, 'pibench: steps can only be added to a running run');
    END
    """,
)


def _convert_v1_steps(conn: sqlite3.Connection) -> None:
    from edge.store.step_codec import convert_v1_steps  # only an upgrading station needs it

    convert_v1_steps(conn)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, steps, attempts, measurements and the delivery outbox",
              _V1_RESULTS_AND_OUTBOX),
    Migration(2, "sync: reconcile flag, FIFO indexes, per-target delivery state",
              _V2_SYNC_STATE),
    Migration(3, "one row per step (attempts and measurements as JSON), keyed to append",
              _V3_ONE_ROW_PER_STEP, _convert_v1_steps, _V3_AFTER_CONVERSION),
)

LATEST_VERSION = MIGRATIONS[-1].version
