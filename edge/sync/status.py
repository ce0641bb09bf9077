"""What the HMI, the local API and ``pibench sync status`` show about delivery.

Read-only, from the database, so it works from any process while a worker runs elsewhere. Every
text field is redacted once more on the way out (it was redacted when stored).
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from edge.store.codec import utc_epoch
from edge.sync.outbox import Outbox, iso
from edge.sync.runner import AUTH_PAUSE_TEXT
from edge.sync.secrets import REDACTOR


@dataclass(frozen=True)
class SyncStatus:
    target: str
    backend: str
    state: str  # up | down | auth | incompatible
    queue_depth: int  # pending runs (waiting to be delivered)
    parked: int  # runs needing attention (permanent errors and the runs held behind them)
    held: int  # of the parked: waiting behind an earlier parked run of the same serial
    delivered: int
    oldest_undelivered_utc: str | None
    oldest_undelivered_age_s: float | None
    last_success_utc: str | None
    last_error_class: str | None
    last_error: str | None
    last_error_utc: str | None
    paused_for_auth: bool
    paused_reason: str | None
    next_try_utc: str | None  # when a down or paused target is tried again
    message: str  # one line for a technician

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _message(s: dict[str, Any]) -> str:
    if s["backend"] == "none":
        # Runs still queue in the outbox, so turning sync on later delivers every one of them.
        return (f"inventory sync is off: {s['queue_depth']} results kept on this station, "
                "sent once [sync] is configured") if s["queue_depth"] else "inventory sync is off"
    if s["state"] == "auth":
        text = f"{AUTH_PAUSE_TEXT}: renew the token; {s['queue_depth']} results are kept waiting"
    elif s["state"] == "incompatible":
        text = f"inventory server too old; {s['queue_depth']} results are kept waiting"
    elif s["state"] == "down":
        text = (f"inventory unreachable; {s['queue_depth']} results waiting, "
                f"next try {s['next_try_utc']}")
    elif s["queue_depth"]:
        text = f"delivering: {s['queue_depth']} results waiting"
    else:
        text = "all results delivered"
    if s["parked"]:
        text += (f"; {s['parked']} need attention (see last error, then 'pibench sync "
                 "retry-parked')")
    return text


def read_status(conn: sqlite3.Connection, target: str, backend: str, now: float) -> SyncStatus:
    counts = dict(conn.execute(
        "SELECT state, count(*) FROM outbox WHERE target = ? GROUP BY state", (target,)))
    (held,) = conn.execute(
        "SELECT count(*) FROM outbox WHERE target = ? AND state = 'parked'"
        " AND last_error_class = 'held'", (target,)).fetchone()
    # The oldest waiting run is the first pending or the first parked one (ids are FIFO); each
    # is one step down a partial index, however long the history.
    firsts = [conn.execute(
        f"SELECT created_utc FROM outbox WHERE target = ? AND state = '{state}'"
        " ORDER BY id LIMIT 1", (target,)).fetchone() for state in ("pending", "parked")]
    waiting = [row[0] for row in firsts if row is not None]
    oldest = min(waiting, key=utc_epoch) if waiting else None
    t = Outbox(conn, target).target_state()
    paused_or_down = t.state in ("down", "auth", "incompatible")
    fields: dict[str, Any] = {
        "target": target,
        "backend": backend,
        "state": t.state,
        "queue_depth": int(counts.get("pending", 0)),
        "parked": int(counts.get("parked", 0)),
        "held": int(held),
        "delivered": int(counts.get("delivered", 0)),
        "oldest_undelivered_utc": oldest,
        "oldest_undelivered_age_s": None if oldest is None else max(0.0, now - utc_epoch(oldest)),
        "last_success_utc": t.last_success_utc,
        "last_error_class": t.last_error_class,
        "last_error": REDACTOR.redact(t.last_error) if t.last_error else None,
        "last_error_utc": t.last_error_utc,
        "paused_for_auth": t.state == "auth",
        "paused_reason": REDACTOR.redact(t.paused_reason) if t.paused_reason else None,
        "next_try_utc": iso(t.next_probe_at) if paused_or_down and t.next_probe_at else None,
    }
    fields["message"] = REDACTOR.redact(_message(fields))
    return SyncStatus(**fields)


def parked_runs(conn: sqlite3.Connection, target: str, limit: int = 50) -> list[dict[str, Any]]:
    """The parked runs with their reasons, oldest first, for ``pibench sync status --parked``."""
    rows = conn.execute(
        "SELECT o.run_id, r.serial, o.created_utc, o.attempts, o.last_error_class, o.last_error"
        " FROM outbox o JOIN runs r ON r.run_id = o.run_id WHERE o.target = ?"
        " AND o.state = 'parked' ORDER BY o.id LIMIT ?", (target, limit)).fetchall()
    keys = ("run_id", "serial", "created_utc", "attempts", "error_class", "error")
    out = []
    for row in rows:
        doc = dict(zip(keys, row, strict=True))
        doc["error"] = REDACTOR.redact(doc["error"] or "")
        out.append(doc)
    return out
