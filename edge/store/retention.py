"""Retention: delete old results that the inventory already has, by age or by count.

A run may be deleted only when every outbox row it has is ``delivered`` (the sync marks a row
delivered in the same transaction that records the inventory's answer; ``pending`` and
``parked`` rows are still waiting) and it has at least one such row. A run still RUNNING, a
run waiting or parked for delivery, and every run of a station whose sync is off (its rows stay
pending) are never deleted. The choice and the deletion happen in one write transaction, so a
run cannot become a candidate between being chosen and being deleted.

Deleting old runs changes what "first pass" means for a serial tested before the cut: a board
retested after its first run was deleted counts as first-tested again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from edge.store.db import read_snapshot, write_transaction
from edge.store.migrations import STEP_KEY_SPAN

_DELIVERED_ONLY = """
    r.outcome <> 'RUNNING'
    AND EXISTS (SELECT 1 FROM outbox o WHERE o.run_id = r.run_id)
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.run_id = r.run_id AND o.state <> 'delivered')
"""


@dataclass(frozen=True)
class RetentionResult:
    deleted: tuple[str, ...]  # run ids, oldest first
    kept_undelivered: int  # runs the rule selected but that wait for delivery: never deleted

    @property
    def count(self) -> int:
        return len(self.deleted)


def _selected(conn: sqlite3.Connection, older_than_epoch: float | None,
              keep_last: int | None) -> list[tuple[str, bool]]:
    """(run_id, deletable) of the runs the rule reaches, oldest first."""
    clauses, params = [], []
    if older_than_epoch is not None:
        clauses.append("r.started_epoch < ?")
        params.append(older_than_epoch)
    if keep_last is not None:
        clauses.append("r.seq NOT IN (SELECT seq FROM runs ORDER BY seq DESC LIMIT ?)")
        params.append(keep_last)
    where = " AND ".join(clauses) if clauses else "0"
    rows = conn.execute(
        f"SELECT r.run_id, ({_DELIVERED_ONLY}) FROM runs r WHERE {where} ORDER BY r.seq",
        params,
    ).fetchall()
    return [(run_id, bool(ok)) for run_id, ok in rows]


def apply_retention(conn: sqlite3.Connection, *, older_than_epoch: float | None = None,
                    keep_last: int | None = None, dry_run: bool = False) -> RetentionResult:
    """Delete delivered runs started before ``older_than_epoch`` and/or beyond the newest
    ``keep_last`` runs (both given: a run must match both). ``dry_run``: only say which."""
    if older_than_epoch is None and keep_last is None:
        raise ValueError("give an age, a count, or both")
    if keep_last is not None and keep_last < 0:
        raise ValueError("keep_last must be 0 or more")
    with read_snapshot(conn) if dry_run else write_transaction(conn):
        selected = _selected(conn, older_than_epoch, keep_last)
        doomed = [run_id for run_id, ok in selected if ok]
        if not dry_run:
            for run_id in doomed:
                # A run's steps are the key range run_seq * STEP_KEY_SPAN + step_index of
                # step_results (schema 3): deleted by that range, then its outbox row and itself.
                conn.execute(
                    "DELETE FROM step_results WHERE id >= (SELECT seq FROM runs WHERE run_id = ?)"
                    " * ? AND id < ((SELECT seq FROM runs WHERE run_id = ?) + 1) * ?",
                    (run_id, STEP_KEY_SPAN, run_id, STEP_KEY_SPAN))
                conn.execute("DELETE FROM outbox WHERE run_id = ?", (run_id,))
                conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
    return RetentionResult(tuple(doomed), sum(1 for _r, ok in selected if not ok))
