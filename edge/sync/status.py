"""What the HMI, the local API and ``pibench sync status`` show about delivery.

Read-only, from the database, so it works from any process while a worker runs elsewhere. Every
text field is redacted once more on the way out (it was redacted when stored).
"""

import re
import sqlite3
from typing import Any

from drivers.named_tuple import NamedTuple
from edge.store.codec import utc_epoch
from edge.sync.outbox import TOKEN_PAUSE_TEXT, Outbox, iso, target_name
from edge.sync.secrets import REDACTOR

# Notices and watched runs are looked for among this many newest outbox rows (a primary-key
# range: the status costs the same after years of history).
RECENT_ROWS = 20_000
NOTICE_KINDS = ("duplicate-item", "status-not-set", "late-copy-removed")


# (a NamedTuple, not a frozen dataclass: no dataclasses at a station's start, issue 14)
class SyncStatus(NamedTuple):
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
    oldest_parked_reason: str | None  # why the first parked run is parked
    watching_late_copies: int  # delivered runs still watched for a late copy (docs/sync.md)
    # For the shop, from each board's latest delivery: duplicate stock items to merge, a stock
    # status the server refused, late copies the station removed.
    notices: tuple[str, ...]
    message: str  # one line for a technician

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


def _down_text(s: dict[str, Any]) -> str:
    return down_text(s["target"], s["last_error_class"], s["last_error"])


def down_text(target: str, error_class: str | None, error: str | None) -> str:
    """Unreachable, erroring or slow are different problems for whoever fixes them."""
    name = target_name(target)
    found = re.search(r"HTTP (\d{3})", error or "")
    if error_class in ("transient", "ambiguous") and found:
        code = int(found.group(1))
        if code in (429, 503):
            return f"{name} server busy (HTTP {code})"
        return f"{name} server error (HTTP {code})"
    if error_class == "ambiguous" or "timed out" in (error or ""):
        return f"{name} server not answering in time"
    if error_class == "transient":
        return f"{name} server answers with errors"
    return f"{name} unreachable"


def _pause_headline(reason: str) -> str:
    if reason.startswith(TOKEN_PAUSE_TEXT):
        return reason  # the file's problem and the command that fixes it
    return reason.split("; ")[0]


def _message(s: dict[str, Any]) -> str:
    if s["backend"] == "none":
        # Runs still queue in the outbox, so turning sync on later delivers every one of them.
        return (f"inventory sync is off: {s['queue_depth']} results kept on this station, "
                "sent once [sync] is configured") if s["queue_depth"] else "inventory sync is off"
    waiting = s["queue_depth"]
    if s["state"] in ("auth", "incompatible"):
        text = f"{_pause_headline(s['paused_reason'] or s['state'])}; {waiting} results are kept"\
               " waiting"
    elif s["state"] == "down":
        text = f"{_down_text(s)}; {waiting} results waiting, next try {s['next_try_utc']}"
    elif waiting:
        text = f"delivering: {waiting} results waiting"
    elif s["parked"]:
        text = "no result waiting to be sent"  # not "all delivered": some are parked
    else:
        text = "all results delivered"
    if s["parked"]:
        text += (f"; {s['parked']} need attention (pibench sync status --parked, then 'pibench "
                 "sync retry-parked')")
    if s["notices"]:
        text += f"; {len(s['notices'])} notice(s) for the shop"
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
    # A last error older than the last success is history, not the present.
    stale = bool(t.last_error_utc and t.last_success_utc and
                 utc_epoch(t.last_error_utc) < utc_epoch(t.last_success_utc))
    parked_reason = conn.execute(
        "SELECT last_error FROM outbox WHERE target = ? AND state = 'parked'"
        " AND last_error_class <> 'held' ORDER BY id LIMIT 1", (target,)).fetchone()
    (top,) = conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()
    since = top - RECENT_ROWS
    (watching,) = conn.execute(
        "SELECT count(*) FROM outbox WHERE id > ? AND target = ? AND state = 'delivered'"
        " AND needs_reconcile = 1", (since, target)).fetchone()
    notices = tuple(REDACTOR.redact(row[0]) for row in conn.execute(
        "SELECT o.last_error FROM outbox o JOIN runs r ON r.run_id = o.run_id"
        " WHERE o.id > ? AND o.target = ? AND o.state = 'delivered'"
        f" AND o.last_error_class IN ({','.join('?' * len(NOTICE_KINDS))})"
        " AND NOT EXISTS (SELECT 1 FROM runs r2 JOIN outbox o2 ON o2.run_id = r2.run_id"
        "  WHERE r2.serial = r.serial AND o2.target = o.target AND o2.state = 'delivered'"
        "  AND o2.id > o.id) ORDER BY o.id DESC LIMIT 20",
        (since, target, *NOTICE_KINDS)))
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
        "last_error_class": None if stale else t.last_error_class,
        "last_error": REDACTOR.redact(t.last_error) if t.last_error and not stale else None,
        "last_error_utc": None if stale else t.last_error_utc,
        "paused_for_auth": t.state == "auth",
        "paused_reason": REDACTOR.redact(t.paused_reason) if t.paused_reason else None,
        "next_try_utc": iso(t.next_probe_at) if paused_or_down and t.next_probe_at else None,
        "oldest_parked_reason": REDACTOR.redact(parked_reason[0]) if parked_reason and
        parked_reason[0] else None,
        "watching_late_copies": int(watching),
        "notices": notices,
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
