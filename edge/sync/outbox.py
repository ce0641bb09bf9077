"""The sync's access to the store's outbox and its per-target state (``sync_targets``).

Ordering: strictly FIFO per target by outbox ``id`` (the order runs were finished in), so results
of one serial reach the inventory in the order they were measured: InvenTree takes the newest
*received* result as the verdict, and an old FAIL arriving late would override a newer PASS. A
parked run therefore holds back the later runs of the *same serial*: they are parked too, as
"held", and a retry re-drives them all in their original order.

Durability (why two ``synchronous`` levels):

* the *pre-send mark* (``needs_reconcile = 1``) is committed with ``synchronous=FULL`` before a
  request that may store the run: after a crash or power cut the next attempt must know to look
  for the run on the server instead of posting it again;
* every other write (delivered, failure bookkeeping) uses ``NORMAL``: in WAL mode a power cut can
  only lose the newest such commits, and losing one means one more idempotent attempt (a 409 from
  the generic endpoint, a marker found on InvenTree), never a lost or duplicated result. On a Pi's
  SD card this halves the fsyncs per delivered run.

Late copies (docs/sync.md, "Exactly once"): a run delivered after an attempt that may have
reached the server stays ``needs_reconcile = 1`` once delivered, and its ``next_attempt_at`` says
when to look next for a copy that the earlier request committed late. Clearing the flag ends the
watch.

Notices: a delivered run whose delivery needs a person's attention (a duplicate stock item, a
stock status the server refused, late copies removed) keeps it in ``last_error_class`` /
``last_error``; :mod:`edge.sync.status` shows those of each serial's latest delivery.

Nothing here ever deletes an outbox row.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from drivers.named_tuple import NamedTuple
from edge.store.db import write_transaction
from edge.sync.backends.base import OutboxItem
from edge.sync.outcomes import Outcome

# A row due further in the future than any backoff or Retry-After could put it was scheduled
# under a wall clock that has since stepped back (a Pi without RTC before NTP): treat it as due.
MAX_SCHEDULE_AHEAD_S = 2 * 3600.0

_ITEM_COLUMNS = (
    "o.id, o.run_id, o.target, o.payload, o.created_utc, o.attempts, o.needs_reconcile, "
    "o.next_attempt_at, r.serial"
)


def _item(row: tuple) -> OutboxItem:
    return OutboxItem(id=row[0], run_id=row[1], target=row[2], payload=row[3],
                      created_utc=row[4], attempts=row[5], needs_reconcile=bool(row[6]),
                      serial=row[8])


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


# (a NamedTuple, not a frozen dataclass: no dataclasses at a station's start, issue 14)
class TargetState(NamedTuple):
    target: str
    state: str  # 'up' | 'down' | 'auth' | 'incompatible'
    failures: int  # consecutive failed deliveries/probes since the last delivery
    next_probe_at: float  # epoch: when a down/paused target is tried again
    paused_reason: str | None
    last_success_utc: str | None
    last_error_class: str | None
    last_error: str | None
    last_error_utc: str | None

    @property
    def paused(self) -> bool:
        return self.state in ("auth", "incompatible")


_NEW_TARGET = ("up", 0, 0.0, None, None, None, None, None)
_STATE_COLUMNS = (
    "state, failures, next_probe_at, paused_reason, last_success_utc, last_error_class,"
    " last_error, last_error_utc"
)


class Outbox:
    """One target's view of the outbox. Owns no connection: the caller's thread does."""

    def __init__(self, conn: sqlite3.Connection, target: str) -> None:
        self.conn = conn
        self.target = target

    @contextmanager
    def _tx(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        self.conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        try:
            with write_transaction(self.conn) as c:
                yield c
        finally:
            # Leave the connection as the store configured it, whatever happened.
            self.conn.execute("PRAGMA synchronous=FULL")

    # ---- reading -------------------------------------------------------------------------------

    def head(self) -> tuple[OutboxItem, float] | None:
        """The oldest pending run of this target and when it is due (epoch), or None."""
        row = self.conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM outbox o JOIN runs r ON r.run_id = o.run_id"
            " WHERE o.target = ? AND o.state = 'pending' ORDER BY o.id LIMIT 1",
            (self.target,),
        ).fetchone()
        if row is None:
            return None
        return _item(row), float(row[7])

    @staticmethod
    def is_due(due_at: float, now: float, horizon: float = MAX_SCHEDULE_AHEAD_S) -> bool:
        """``horizon``: the furthest ahead anything is ever scheduled; beyond it the wall clock
        must have stepped back since, and waiting would be wrong."""
        return due_at <= now or due_at > now + horizon

    def item(self, outbox_id: int) -> OutboxItem | None:
        row = self.conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM outbox o JOIN runs r ON r.run_id = o.run_id"
            " WHERE o.id = ?", (outbox_id,)).fetchone()
        return None if row is None else _item(row)

    def pending_ids(self) -> list[int]:
        """Every pending run of this target, oldest first (``sync now`` tries each once)."""
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM outbox WHERE target = ? AND state = 'pending' ORDER BY id",
            (self.target,))]

    def next_audit(self) -> tuple[OutboxItem, float] | None:
        """The delivered run watched for late copies that is due first, and when."""
        row = self.conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM outbox o JOIN runs r ON r.run_id = o.run_id"
            " WHERE o.target = ? AND o.state = 'delivered' AND o.needs_reconcile = 1"
            " ORDER BY o.next_attempt_at LIMIT 1", (self.target,)).fetchone()
        return None if row is None else (_item(row), float(row[7]))

    def delivered_epoch(self, item: OutboxItem) -> float | None:
        row = self.conn.execute("SELECT delivered_utc FROM outbox WHERE id = ?",
                                (item.id,)).fetchone()
        if not row or not row[0]:
            return None
        return datetime.fromisoformat(row[0]).timestamp()

    def parked_before(self, item: OutboxItem) -> tuple[int, str] | None:
        """An earlier parked run of the same serial (id, run_id), which ``item`` must wait for."""
        row = self.conn.execute(
            "SELECT o.id, o.run_id FROM outbox o JOIN runs r ON r.run_id = o.run_id"
            " WHERE o.target = ? AND o.state = 'parked' AND o.id < ? AND r.serial = ?"
            " ORDER BY o.id LIMIT 1",
            (self.target, item.id, item.serial),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def target_state(self) -> TargetState:
        row = self.conn.execute(
            f"SELECT {_STATE_COLUMNS} FROM sync_targets WHERE target = ?",
            (self.target,),
        ).fetchone()
        return TargetState(self.target, *(row or _NEW_TARGET))

    # ---- writing -------------------------------------------------------------------------------

    def _save_state(self, c: sqlite3.Connection, s: TargetState) -> None:
        c.execute(
            f"INSERT INTO sync_targets (target, {_STATE_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (target) DO UPDATE SET"
            " state = excluded.state, failures = excluded.failures,"
            " next_probe_at = excluded.next_probe_at, paused_reason = excluded.paused_reason,"
            " last_success_utc = excluded.last_success_utc,"
            " last_error_class = excluded.last_error_class, last_error = excluded.last_error,"
            " last_error_utc = excluded.last_error_utc",
            (s.target, s.state, s.failures, s.next_probe_at, s.paused_reason,
             s.last_success_utc, s.last_error_class, s.last_error, s.last_error_utc),
        )

    def save_state(self, s: TargetState) -> None:
        with self._tx() as c:
            self._save_state(c, s)

    def mark_sending(self, item: OutboxItem, settled_at: float) -> None:
        """Durably note that a request which may store ``item`` is about to leave, and that the
        server may be working on it until ``settled_at``: no look for the run before then, even
        after a crash (a look too early finds nothing and would post the run twice)."""
        with self._tx(durable=True) as c:
            c.execute("UPDATE outbox SET needs_reconcile = 1, next_attempt_at = ?"
                      " WHERE id = ? AND state = 'pending'", (settled_at, item.id))

    def mark_delivered(self, item: OutboxItem, outcome: Outcome, now: float,
                       state: TargetState, audit_at: float | None = None) -> None:
        """``audit_at``: an earlier attempt may still commit a late copy; look for one then."""
        with self._tx() as c:
            c.execute(
                "UPDATE outbox SET state = 'delivered', attempts = attempts + 1,"
                " delivered_utc = ?, remote_ref = ?, needs_reconcile = ?,"
                " next_attempt_at = coalesce(?, next_attempt_at),"
                " last_error_class = coalesce(?, last_error_class),"
                " last_error = coalesce(?, last_error)"
                " WHERE id = ? AND state = 'pending'",
                (iso(now), (outcome.remote_ref or "")[:500] or None,
                 0 if audit_at is None else 1, audit_at,
                 outcome.notice_kind if outcome.notice else None,
                 outcome.notice[:500] if outcome.notice else None, item.id),
            )
            self._save_state(c, state)

    def audited(self, item: OutboxItem, removed: tuple[int, ...],
                next_at: float | None) -> None:
        """Record a look for late copies: the next look (``None`` ends the watch) and, if copies
        were removed, a notice saying so."""
        with self._tx() as c:
            c.execute("UPDATE outbox SET needs_reconcile = ?, next_attempt_at = coalesce(?,"
                      " next_attempt_at) WHERE id = ? AND state = 'delivered'",
                      (0 if next_at is None else 1, next_at, item.id))
            if removed:
                c.execute(
                    "UPDATE outbox SET last_error_class = 'late-copy-removed', last_error = ?"
                    " WHERE id = ?",
                    (f"an earlier timed-out request stored the run again later; the station "
                     f"deleted the extra copies (results {', '.join(map(str, removed))})"[:500],
                     item.id))

    def mark_failed(self, item: OutboxItem, outcome: Outcome, next_attempt_at: float,
                    spend_attempt: bool, state: TargetState) -> None:
        """Keep ``item`` pending, record why, and schedule it (with the target's state)."""
        with self._tx() as c:
            c.execute(
                # An earlier request may still be at work on the server: never look before
                # the time mark_sending stored (see there).
                "UPDATE outbox SET attempts = attempts + ?, next_attempt_at = CASE WHEN"
                " needs_reconcile = 1 THEN max(next_attempt_at, ?) ELSE ? END,"
                " last_error_class = ?, last_error = ?,"
                " needs_reconcile = max(needs_reconcile, ?) WHERE id = ? AND state = 'pending'",
                (1 if spend_attempt else 0, next_attempt_at, next_attempt_at, str(outcome.cls),
                 outcome.reason[:500], 1 if outcome.may_have_committed else 0, item.id),
            )
            self._save_state(c, state)

    def park(self, item: OutboxItem, error_class: str, reason: str, spend_attempt: bool,
             state: TargetState | None = None) -> None:
        """Move ``item`` to 'parked' with the reason: kept, visible, re-driven by retry_parked."""
        with self._tx() as c:
            c.execute(
                "UPDATE outbox SET state = 'parked', attempts = attempts + ?,"
                " last_error_class = ?, last_error = ? WHERE id = ? AND state = 'pending'",
                (1 if spend_attempt else 0, error_class, reason[:500], item.id),
            )
            if state is not None:
                self._save_state(c, state)

    def retry_parked(self, now: float, run_id: str | None = None) -> int:
        """Make parked runs pending again (all, or one run and the runs held behind it)."""
        with self._tx() as c:
            if run_id is None:
                cur = c.execute(
                    "UPDATE outbox SET state = 'pending', next_attempt_at = ?"
                    " WHERE target = ? AND state = 'parked'", (now, self.target))
            else:
                cur = c.execute(
                    "UPDATE outbox SET state = 'pending', next_attempt_at = ?"
                    " WHERE target = ? AND state = 'parked' AND (run_id = ? OR"
                    " (last_error_class = 'held' AND last_error LIKE '%' || ? || '%'))",
                    (now, self.target, run_id, run_id))
            return cur.rowcount

    def wake(self, now: float, keep_settling: bool = True) -> None:
        """``sync now``: forget the backoff of the target and of its waiting runs (but, with
        ``keep_settling``, not the wait before looking for an uncertain InvenTree run)."""
        with self._tx() as c:
            self._save_state(c, self.target_state()._replace(next_probe_at=now))
            # Forget the backoff, not the wait for a server that may still be storing an earlier
            # request (needs_reconcile): looking too early is what posts a run twice.
            c.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE target = ? AND state = 'pending'"
                " AND (needs_reconcile = 0 OR ?) AND next_attempt_at > ?",
                (now, self.target, 0 if keep_settling else 1, now))


# What a target is called and why it is paused, as the worker stores it and the status (the API,
# `sync status`) reads it back: here, so the status does not load the worker (issue 14).
TOKEN_PAUSE_TEXT = "inventory token not usable"  # (a word of 6+ after "token" is redacted)


def target_name(target: str) -> str:
    """"inventory" for the default target, "inventory 'x'" for another (never "inventory
    inventory")."""
    return "inventory" if target == "inventory" else f"inventory '{target}'"
