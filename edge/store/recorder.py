"""Writing runs as they happen: begin, one durable commit per step, finish plus outbox row.

The contract the engine relies on:

* ``begin_run`` returns once the run is on disk with outcome RUNNING;
* ``record_step`` returns once the step, its attempts and measurements are committed and fsynced
  (one transaction, so a crash leaves the step either wholly there or not there);
* ``finish_run`` writes the verdict *and* the outbox row in one transaction, then returns the
  record as read back from the file, so what the HMI shows is exactly what was stored and what
  the inventory will receive.

A crash at any point leaves a run that is either finished with its outbox row, or RUNNING with
every step committed so far; :func:`edge.store.recovery.recover_interrupted` closes the latter.

Thread rules: one :class:`RunRecorder` (one connection) per process, used by the engine. Calls are
serialised by a lock, so creating it in one thread and using it in another is fine; readers
open their own connections (see :mod:`edge.store.db`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.records import Outcome, RunMeta, RunRecord, StepResult
from edge.run_ids import is_canonical
from edge.store.codec import storable_text, utc_epoch, utc_iso
from edge.store.db import (
    CHECKPOINT_PAGES,
    RunStateError,
    StoreFullError,
    StoreWriteError,
    UnknownRunError,
    classify_sqlite_error,
    database_path,
    is_file_path,
    open_store,
    write_transaction,
)
from edge.store.last_words import LastWordsFile
from edge.store.payload import payload_text
from edge.store.step_codec import step_key, step_row

DEFAULT_TARGET = "inventory"
# The same text on every step, so sqlite3's statement cache hands back the prepared statement.
_INSERT_STEP = "INSERT INTO step_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# Refuse to *start* a run below this much free space: running out mid-run would cost a result.
DEFAULT_MIN_FREE_BYTES = 64 * 1024 * 1024


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _bit(flag: bool) -> int:
    return 1 if flag else 0


def _optional_float(x: float | None) -> float | None:
    return None if x is None else float(x)


def _run_outcome(conn: sqlite3.Connection, run_id: str) -> Outcome:
    row = conn.execute("SELECT outcome FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise UnknownRunError(f"no run {run_id!r} on record")
    return Outcome(row[0])


def enqueue_for_delivery(
    conn: sqlite3.Connection, record: RunRecord, now: datetime, target: str = DEFAULT_TARGET
) -> None:
    """Insert the outbox row of a finished run; call inside the transaction that finishes it.

    The payload is snapshotted now, from the record as stored, so every delivery attempt sends
    the same bytes. ``next_attempt_at`` is now: deliverable at once.
    """
    conn.execute(
        "INSERT INTO outbox (run_id, target, payload, created_utc, state, attempts,"
        " next_attempt_at) VALUES (?, ?, ?, ?, 'pending', 0, ?)",
        (record.meta.run_id, target, payload_text(record), utc_iso(now), utc_epoch(now)),
    )


def close_run(
    conn: sqlite3.Connection,
    run_id: str,
    outcome: Outcome,
    ended_utc: str | None,
    duration_s: float | None,
    error: str | None,
    now: datetime,
) -> RunRecord:
    """Set the verdict of a RUNNING run and queue it for delivery; call inside a write
    transaction (shared by :meth:`RunRecorder.finish_run` and crash recovery)."""
    current = _run_outcome(conn, run_id)
    if current is not Outcome.RUNNING:
        raise RunStateError(f"run {run_id} is already finished ({current}); not finishing it again")
    conn.execute(
        "UPDATE runs SET outcome = ?, ended_utc = ?, duration_s = ?, error = ?"
        " WHERE run_id = ? AND outcome = 'RUNNING'",
        (
            str(outcome),
            ended_utc,
            _optional_float(duration_s),
            None if error is None else storable_text(error),
            run_id,
        ),
    )
    from edge.store.history import load_run  # (reading back: not needed to open the store)

    record = load_run(conn, run_id)  # inside the transaction: sees what we just wrote
    enqueue_for_delivery(conn, record, now)
    return record


def _check_run_id(run_id: str) -> None:
    if not is_canonical(run_id):
        raise ValueError(
            f"run_id {run_id!r} is not a canonical UUID string (use str(uuid.uuid4())): it is "
            "the idempotency key for delivery and must have exactly one spelling"
        )


def _extra_json(extra: dict[str, Any]) -> str:
    """``extra`` as JSON, refusing anything JSON would silently change (tuples, non-str keys):
    better to fail at the start of a run than to store something that reads back different."""
    try:
        text = json.dumps(extra, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"RunMeta.extra must be plain JSON data: {exc}") from exc
    if json.loads(text) != extra:
        raise ValueError("RunMeta.extra must be plain JSON data (no tuples or non-string keys)")
    return text


class RunRecorder:
    """The engine's writer. Build with :meth:`open` (owns its connection) or from a connection
    returned by :func:`edge.store.db.open_store`."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        utc_now: Callable[[], datetime] = _utc_now,
        min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
    ) -> None:
        self._conn = conn
        self._utc_now = utc_now
        self._min_free_bytes = min_free_bytes
        self._path = database_path(conn)
        self._lock = threading.Lock()
        self._owns_conn = False
        self._current: tuple[str | None, int] = (None, 0)  # (run_id, seq) of the last run seen
        # Where the cause of a run the database refused is kept until recovery can write it
        # (see edge.store.last_words); prepared now, while there is room for it.
        self._last_words: LastWordsFile | None = None
        self._last_words_run: str | None = None  # the run whose cause the file now holds
        if is_file_path(self._path):
            self._last_words = LastWordsFile(self._path)
            self._last_words.prepare()

    @classmethod
    def open(cls, path: str | os.PathLike[str], **kwargs: Any) -> RunRecorder:
        recorder = cls(open_store(path), **kwargs)
        recorder._owns_conn = True
        return recorder

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def close(self) -> None:
        if self._last_words is not None:
            self._last_words.close()
        if self._owns_conn:
            with self._lock:
                self._conn.close()

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the engine's interface -----------------------------------------------------------------

    def has_runs_for(self, serial: str, product: str) -> bool:
        """Whether this serial of this product already has any run on record (→ ``retest``)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM runs WHERE serial = ? AND product = ? LIMIT 1", (serial, product)
            ).fetchone()
        return row is not None

    def begin_run(self, meta: RunMeta) -> None:
        """Store the run with outcome RUNNING; durable when this returns.

        Raises ``ValueError`` for a malformed ``run_id``/``started_utc``/``extra``,
        :class:`RunStateError` if the run id exists, :class:`StoreFullError` if the disk is too
        full to run safely.
        """
        _check_run_id(meta.run_id)
        started_epoch = utc_epoch(meta.started_utc)
        extra = _extra_json(meta.extra)
        self._check_free_space()
        with self._lock:
            # No checkpoint while the run records: its steps must not wait for one (see db.py).
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
        with self._lock, self._writing(f"start run {meta.run_id}"):
            if self._exists(meta.run_id):
                raise RunStateError(f"run {meta.run_id} already exists; run ids are single-use")
            self._conn.execute(
                "INSERT INTO runs (run_id, seq, serial, product, revision, batch, operator,"
                " station_id, fixture_id, plan_name, plan_version, plan_hash, software_version,"
                " started_utc, started_epoch, clock_synced, retest, outcome, extra)"
                " VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM runs),"
                " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'RUNNING', ?)",
                (
                    meta.run_id, meta.serial, meta.product, meta.revision, meta.batch,
                    meta.operator, meta.station_id, meta.fixture_id, meta.plan_name,
                    meta.plan_version, meta.plan_hash, meta.software_version, meta.started_utc,
                    started_epoch, _bit(meta.clock_synced), _bit(meta.retest), extra,
                ),
            )

    def record_step(self, run_id: str, step: StepResult) -> None:
        """Commit one finished step with all its attempts and measurements; fsynced on return.

        Raises :class:`UnknownRunError` / :class:`RunStateError` for an unknown or finished run
        or a step index already recorded, :class:`StoreWriteError` if SQLite refuses the write.
        """
        # The step is one INSERT of one row, appended at the end of the table (see migration
        # 3), run in autocommit mode: SQLite makes a lone statement its own transaction and
        # commits it (under synchronous=FULL, fsyncs the WAL) before execute() returns, so the
        # step is as durable and as atomic as with BEGIN IMMEDIATE; INSERT; COMMIT, for one call
        # into SQLite instead of three (the step's fixed cost above its commit, issue 14 goal 2).
        # The schema refuses a finished run (trigger) and a second copy of a step (the key):
        # asking first would cost queries on every step to explain a refusal that almost never
        # happens; the explanation is worked out only when SQLite refuses.
        with self._lock:
            if self._conn.in_transaction:
                # Autocommit only commits outside a transaction; inside one the step would wait
                # for someone else's COMMIT. Never expected: refuse rather than return undurable.
                raise StoreWriteError(f"{self._path}: a transaction is open on the recorder's "
                                      f"connection; step {step.index} of run {run_id} not "
                                      "recorded")
            try:
                row = step_row(self._run_seq(run_id), step)
                try:
                    self._conn.execute(_INSERT_STEP, row)
                except sqlite3.IntegrityError as exc:
                    raise self._step_refused(run_id, row[2], exc) from exc
            except sqlite3.Error as exc:
                raise self._store_error(
                    exc, f"record step {step.index} ({step.name!r}) of run {run_id}", run_id
                ) from exc

    def finish_run(
        self,
        run_id: str,
        outcome: Outcome,
        ended_utc: str,
        duration_s: float,
        error: str | None = None,
    ) -> RunRecord:
        """Write the verdict and the outbox row atomically; return the record as stored.

        Finishing a run twice is a :class:`RunStateError`, never a second outbox row.
        """
        outcome = Outcome(outcome)
        if outcome is Outcome.RUNNING:
            raise ValueError("a run cannot finish with outcome RUNNING")
        utc_epoch(ended_utc)  # malformed timestamps fail here, before anything is written
        with self._lock:
            # The commit of the verdict checkpoints, if the WAL has grown enough since the last.
            self._conn.execute(f"PRAGMA wal_autocheckpoint={int(CHECKPOINT_PAGES)}")
        with self._lock, self._writing(f"finish run {run_id} ({outcome})", run_id):
            return close_run(
                self._conn, run_id, outcome, ended_utc, duration_s, error, self._utc_now()
            )

    def reserve_wal_room(self) -> int:
        """Grow the WAL file before the first run, so steps overwrite blocks it already owns
        (see :mod:`edge.store.wal_room`, and why only a long-lived station does it); returns the
        bytes added. Skipped (0) when the disk would be left below ``min_free_bytes``, the
        space a run needs to start. Raises :class:`StoreWriteError` if SQLite refuses: nothing
        in the store changed, steps just commit as before."""
        from edge.store.wal_room import reserve_wal_room  # (the station's start only)

        with self._lock:
            try:
                return reserve_wal_room(self._conn, keep_free_bytes=self._min_free_bytes)
            except sqlite3.Error as exc:
                raise self._store_error(exc, "reserve room in the WAL file", None) from exc

    def load_run(self, run_id: str) -> RunRecord:
        from edge.store.history import load_run

        with self._lock:
            return load_run(self._conn, run_id)

    # -- helpers ----------------------------------------------------------------------------------

    def _step_refused(self, run_id: str, index: int, exc: sqlite3.IntegrityError) -> Exception:
        """Why SQLite refused a step, as the error the engine expects; called right after the
        refused INSERT, whose statement transaction rolled back, so the run reads as it was
        before this step."""
        current = _run_outcome(self._conn, run_id)  # raises UnknownRunError for an unknown run
        if current is not Outcome.RUNNING:
            return RunStateError(f"run {run_id} is finished ({current}); step {index} "
                                 "cannot be added")
        if self._conn.execute(
            "SELECT 1 FROM step_results WHERE id = ?", (step_key(self._run_seq(run_id), index),)
        ).fetchone():
            return RunStateError(f"step {index} of run {run_id} is already recorded")
        return StoreWriteError(f"{self._path}: could not record step {index} of run {run_id}: "
                               f"{exc}")

    def _run_seq(self, run_id: str) -> int:
        """The run's ``seq`` (the key of its steps): remembered for the run being recorded, so a
        step costs no lookup; raises :class:`UnknownRunError` for a run never begun."""
        if self._current[0] == run_id:
            return self._current[1]
        row = self._conn.execute("SELECT seq FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRunError(f"no run {run_id!r} on record")
        self._current = (run_id, row[0])
        return row[0]

    def _exists(self, run_id: str) -> bool:
        return self._conn.execute(
            "SELECT 1 FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone() is not None

    def _check_free_space(self) -> None:
        if not is_file_path(self._path):
            return
        stat = os.statvfs(Path(self._path).parent)
        free = stat.f_bavail * stat.f_frsize
        if free < self._min_free_bytes:
            raise StoreFullError(
                f"{self._path}: only {free // (1024 * 1024)} MiB free, below the "
                f"{self._min_free_bytes // (1024 * 1024)} MiB needed to start a run safely; "
                "free space before testing (results already stored are kept)"
            )

    @contextlib.contextmanager
    def _writing(self, what: str, run_id: str | None = None) -> Iterator[None]:
        """One write transaction; SQLite's own errors (disk full, I/O, locked too long) become a
        :class:`StoreWriteError` (or its specific subclass) naming the file, the operation and
        the cause. Nothing was half-written: the transaction rolled back."""
        try:
            with write_transaction(self._conn):
                yield
        except sqlite3.Error as exc:
            raise self._store_error(exc, what, run_id) from exc

    def _store_error(self, exc: sqlite3.Error, what: str, run_id: str | None) -> Exception:
        """The store error for SQLite's ``exc`` (see :func:`classify_sqlite_error`).

        For a write of a run already on record, the cause is also kept in the last-words file
        before the error goes up: the engine may never get to write it into the database."""
        error = classify_sqlite_error(exc, Path(self._path), what)
        cause = getattr(error, "cause", None)
        # The first refusal is the true cause; later ones (teardown, verdict) only follow.
        words = self._last_words
        if (run_id is not None and words is not None and self._last_words_run != run_id
                and words.write(run_id, f"{cause or 'store error'} ({what}: {exc})")):
            self._last_words_run = run_id
        return error
