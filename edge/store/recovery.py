"""Closing runs that a crash or power cut left RUNNING.

Call :func:`recover_interrupted` once at station start, *before* any engine begins a run: at that
moment every RUNNING run belongs to a process that no longer exists. Each becomes ABORTED with
the steps it had, and gets its outbox row so the shop learns about it like any other run.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from edge.records import Outcome
from edge.store.codec import parse_utc
from edge.store.db import database_path, is_file_path, write_transaction
from edge.store.last_words import clear_last_words, read_last_words
from edge.store.recorder import close_run
from edge.store.step_codec import run_key_range

INTERRUPTED_ERROR = "interrupted: station stopped during the run (crash or power loss)"
# A run whose cause the station knew but could not write into the database (disk full, locked):
# kept in the last-words file (edge.store.last_words), recorded here.
STORE_FAILED_ERROR = "interrupted: the result database refused a write: {cause}"


def _last_sign_of_life(conn: sqlite3.Connection, run_id: str) -> str:
    """When the run was last known to be alive: the end of its last recorded step, or its start.

    Used as ``ended_utc`` because the restart time can be days after a power cut, which would
    be a false end time. The duration stays NULL: the monotonic clock did not survive.
    """
    seq, started_utc = conn.execute(
        "SELECT seq, started_utc FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    low, high = run_key_range(seq)
    last = conn.execute(
        "SELECT ended_utc FROM step_results WHERE id >= ? AND id < ? ORDER BY id DESC LIMIT 1",
        (low, high),
    ).fetchone()
    return started_utc if last is None else last[0]


def recover_interrupted(conn: sqlite3.Connection, now_utc: datetime | str) -> list[str]:
    """Mark every RUNNING run ABORTED (keeping its steps) and queue it; return their ids.

    Each run is closed in its own transaction, oldest first, so a second crash during recovery
    loses nothing and the next start finishes the job. Running it again changes nothing.
    """
    now = parse_utc(now_utc) if isinstance(now_utc, str) else now_utc
    db_path = database_path(conn)
    words = read_last_words(db_path) if is_file_path(db_path) else None
    running = [
        run_id
        for (run_id,) in conn.execute(
            "SELECT run_id FROM runs WHERE outcome = 'RUNNING' ORDER BY seq"
        ).fetchall()
    ]
    recovered: list[str] = []
    for run_id in running:
        with write_transaction(conn):
            # Re-check under the write lock: another opener may have recovered it meanwhile.
            still_running = conn.execute(
                "SELECT 1 FROM runs WHERE run_id = ? AND outcome = 'RUNNING'", (run_id,)
            ).fetchone()
            if not still_running:
                continue
            close_run(
                conn,
                run_id,
                Outcome.ABORTED,
                ended_utc=_last_sign_of_life(conn, run_id),
                duration_s=None,
                error=(STORE_FAILED_ERROR.format(cause=words.cause)
                       if words is not None and words.run_id == run_id else INTERRUPTED_ERROR),
                now=now,
            )
        recovered.append(run_id)
    if words is not None:
        # Recorded (or about a run that got finished after all): no longer needed.
        clear_last_words(db_path)
    return recovered
