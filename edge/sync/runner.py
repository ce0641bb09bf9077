"""One target's delivery state machine: what to do next, one request at a time.

Each :meth:`TargetRunner.step` does at most one unit of work and says when it next has work:

* target **paused** (auth, incompatible server): every ``auth_retry_s``, re-read the token and ask
  the server once; nothing is attempted, nothing is dropped;
* target **down** (after a network/transient failure): one cheap probe when the backoff expires;
  a long outage therefore costs one probe per interval, not one request per queued run;
* target **up**: deliver the oldest pending run (see :mod:`edge.sync.outbox` for the ordering),
  then apply the outcome's class (see :mod:`edge.sync.outcomes`).

All state lives in the database, re-read every step, so ``pibench sync now`` / ``retry-parked``
from another process take effect at the next step and a killed worker resumes where it was.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from edge import lazylog
from edge.sync.backends.base import Backend, OutboxItem
from edge.sync.clock import SyncClock
from edge.sync.outbox import (
    MAX_SCHEDULE_AHEAD_S,
    TOKEN_PAUSE_TEXT,
    Outbox,
    TargetState,
    iso,
    target_name,
)
from edge.sync.outcomes import RETRY_AFTER_MAX_S, Outcome, OutcomeClass
from edge.sync.secrets import REDACTOR, TokenError, describe_error
from edge.sync.settings import SyncSettings

log = lazylog.getLogger(__name__)

AUTH_PAUSE_TEXT = "inventory login expired"
FORBIDDEN_PAUSE_TEXT = "inventory account not allowed"
# Watched runs are looked at with growing gaps (the age of the delivery), at most this far apart.
AUDIT_GAP_MAX_S = 6 * 3600.0


def pause_text(outcome: Outcome) -> str:
    """What a paused target tells a technician: three causes, three different fixes."""
    if outcome.cls is OutcomeClass.INCOMPATIBLE:
        return outcome.reason
    if outcome.http_status == 403:
        return (f"{FORBIDDEN_PAUSE_TEXT} (HTTP 403): give the station's InvenTree user the "
                f"roles listed in docs/sync.md; {outcome.reason}")
    if outcome.http_status == 401:
        return f"{AUTH_PAUSE_TEXT}: put a new token in the token file; {outcome.reason}"
    return f"{TOKEN_PAUSE_TEXT}: {outcome.reason}"


class PassReport:
    """What ``sync now`` did in the foreground: every waiting run tried once. (A plain class,
    not a dataclass: no dataclasses at a station's start, issue 14.)"""

    def __init__(self) -> None:
        self.delivered = 0
        self.parked = 0
        self.failed = 0
        # not tried: behind a failed run of the same board, or the server may still be storing
        # an earlier attempt
        self.waiting = 0
        self.stopped: str | None = None  # why the pass ended early (server unreachable, login)
        self.failures: list[str] = []

    def __repr__(self) -> str:
        return f"PassReport({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class TargetRunner:
    def __init__(
        self,
        outbox: Outbox,
        backend: Backend | None,
        settings: SyncSettings,
        clock: SyncClock,
        *,
        rng: random.Random | None = None,
        load_token: Callable[[], str] | None = None,
        make_backend: Callable[[str], Backend] | None = None,
        after_outcome: Callable[[OutboxItem, Outcome], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.backend = backend
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self._load_token = load_token
        self._make_backend = make_backend
        # Test seam: runs after the server answered and before the outcome is recorded (the
        # chaos test kills the process here).
        self._after_outcome = after_outcome
        self._token: str | None = None
        # Nothing is ever scheduled further ahead than the longest of these; see Outbox.is_due.
        self._horizon = 2 * max(settings.backoff.cap_s, RETRY_AFTER_MAX_S,
                                settings.auth_retry_s, MAX_SCHEDULE_AHEAD_S / 2)
        # The first step probes the server whatever the queue holds: an InvenTree too old for
        # bulk results, or a server that is down, shows in the status from start-up on.
        self._checked_at_start = False
        self.probes = 0  # cheap probes sent (the benchmark reports the rate while down)
        self.deliveries = 0
        self._next_audit: float | None = None  # None: not known yet (ask the outbox)

    # ---- token and backend ---------------------------------------------------------------------

    def _refresh_token(self) -> Outcome | None:
        """Load (or re-load) the token; an unusable token is an auth pause with the reason."""
        if self._load_token is None:
            return None
        try:
            token = self._load_token()
        except TokenError as exc:
            return Outcome(OutcomeClass.AUTH, reason=REDACTOR.redact(str(exc)))
        if token != self._token:
            self._token = token
            if self.backend is None and self._make_backend is not None:
                self.backend = self._make_backend(token)
            elif self.backend is not None:
                self.backend.set_token(token)
        return None

    def _ensure_backend(self) -> Outcome | None:
        if self.backend is None or self._token is None:
            return self._refresh_token()
        return None

    # ---- the step ------------------------------------------------------------------------------

    def step(self) -> float | None:
        """Do at most one unit of work. Returns when there is more to do (epoch; <= now means
        "at once"), or None when the queue is empty."""
        now = self.clock.time()
        state = self.outbox.target_state()
        if not self._checked_at_start:
            self._checked_at_start = True
            if state.state == "up":
                return self._probe(state, now)
        if state.paused or state.state == "down":
            if not Outbox.is_due(state.next_probe_at, now, self._horizon):
                return state.next_probe_at
            return self._recheck_pause(state, now) if state.paused else self._probe(state, now)
        audit_due = self._audit_due()
        if audit_due is not None and audit_due <= now:
            return self._audit(state, now)
        head = self.outbox.head()
        if head is None:
            return audit_due
        item, due_at = head
        if not Outbox.is_due(due_at, now, self._horizon):
            return due_at if audit_due is None else min(due_at, audit_due)
        if self._hold_if_parked_before(item):
            return now
        self._deliver_one(item, state, now)
        return self.clock.time()

    def _hold_if_parked_before(self, item: OutboxItem) -> bool:
        held = self.outbox.parked_before(item)
        if held is None:
            return False
        self.outbox.park(
            item, "held",
            f"held behind parked run {held[1]} of serial {item.serial}: sent after it, once "
            "it is retried", spend_attempt=False)
        return True

    def _deliver_one(self, item: OutboxItem, state: TargetState, now: float) -> Outcome:
        problem = self._ensure_backend()
        if problem is not None:
            self._pause(state, problem, now)
            return problem
        assert self.backend is not None
        try:
            outcome = self.backend.deliver(item, now, lambda: self._before_send(item))
        except Exception as exc:  # a bug in a backend must not kill the worker or lose the run
            log.exception("delivery of run %s failed unexpectedly", item.run_id)
            outcome = Outcome(OutcomeClass.TRANSIENT, reason=f"internal: {describe_error(exc)}",
                              may_have_committed=True)
        self.deliveries += 1
        if self._after_outcome is not None:
            self._after_outcome(item, outcome)
        self._apply(item, outcome, state, self.clock.time())
        return outcome

    def _before_send(self, item: OutboxItem) -> None:
        assert self.backend is not None
        if self.backend.needs_presend_mark:
            self.outbox.mark_sending(item, self.clock.time() + self.settings.reconcile_after_s)

    # ---- late copies ---------------------------------------------------------------------------

    def _audit_due(self) -> float | None:
        if self._next_audit is None:
            found = self.outbox.next_audit()
            self._next_audit = (found[1] if found else math.inf)
        return None if self._next_audit == math.inf else self._next_audit

    def _audit(self, state: TargetState, now: float) -> float:
        """Look once for late copies of the watched run that is due (docs/sync.md)."""
        self._next_audit = None
        found = self.outbox.next_audit()
        problem = self._ensure_backend()
        if found is None or problem is not None or self.backend is None:
            if problem is not None:
                self._pause(state, problem, now)
            return self.clock.time()
        item, _ = found
        result = self.backend.audit(item, now)
        now = self.clock.time()
        delivered_at = self.outbox.delivered_epoch(item) or now
        age = max(0.0, now - delivered_at)
        if result.error is not None:
            log.warning("look for late copies of run %s failed: %s", item.run_id,
                        result.error.reason)
            next_at: float | None = now + max(self.settings.reconcile_after_s,
                                              self.settings.backoff.cap_s)
        elif age >= self.settings.late_copy_watch_s:
            next_at = None  # watched long enough: no server keeps a request for days
        else:
            next_at = now + min(max(self.settings.reconcile_after_s, age), AUDIT_GAP_MAX_S)
        if result.removed:
            log.warning("run %s: removed %d late copies from %s", item.run_id,
                        len(result.removed), target_name(self.outbox.target))
        self.outbox.audited(item, result.removed, next_at)
        return now

    # ---- applying outcomes ---------------------------------------------------------------------

    def _failed_state(
        self, current: TargetState, outcome: Outcome, now: float, **changes: object
    ) -> TargetState:
        return current._replace(last_error_class=str(outcome.cls),
                                last_error=outcome.reason[:500], last_error_utc=iso(now),
                                **changes)

    def _backoff(self, state: TargetState, outcome: Outcome, now: float) -> TargetState:
        failures = state.failures + 1
        delay = self.settings.backoff.delay(failures, self.rng, outcome.retry_after_s)
        return self._failed_state(state, outcome, now, state="down", failures=failures,
                                  next_probe_at=now + delay, paused_reason=None)

    def _pause(self, state: TargetState, outcome: Outcome, now: float) -> None:
        kind = "auth" if outcome.cls is OutcomeClass.AUTH else "incompatible"
        reason = pause_text(outcome)
        if state.state != kind:
            log.warning("delivery to %s paused: %s", target_name(self.outbox.target), reason)
        self.outbox.save_state(self._failed_state(
            state, outcome, now, state=kind, next_probe_at=now + self.settings.auth_retry_s,
            paused_reason=reason[:500]))

    def _apply(self, item: OutboxItem, outcome: Outcome, state: TargetState, now: float) -> None:
        cls = outcome.cls
        if cls is OutcomeClass.DELIVERED:
            # An earlier attempt of this run may still be stored late by the server: watch it.
            watch = item.needs_reconcile and self.backend is not None and (
                self.backend.needs_presend_mark)
            audit_at = now + self.settings.reconcile_after_s if watch else None
            self.outbox.mark_delivered(item, outcome, now, state._replace(
                state="up", failures=0, next_probe_at=0.0, paused_reason=None,
                last_success_utc=iso(now), last_error_class=None, last_error=None,
                last_error_utc=None), audit_at)
            if audit_at is not None:
                self._next_audit = None
        elif cls.target_is_down:
            new_state = self._backoff(state, outcome, now)
            if state.state != "down":
                # The words `pibench sync status` uses: a 500, a 429 or a timeout is not
                # "unreachable", and whoever reads the log fixes each differently.
                from edge.sync.status import down_text  # (status imports this module)

                log.warning("%s (%s): backing off", down_text(
                    self.outbox.target, str(outcome.cls), outcome.reason), outcome.reason)
            self.outbox.mark_failed(item, outcome, new_state.next_probe_at, spend_attempt=True,
                                    state=new_state)
        elif cls.pauses_target:
            # No attempt spent and the run stays first in line: the token or server is at
            # fault, not the run.
            self._pause(state, outcome, now)
            self.outbox.mark_failed(item, outcome, now, spend_attempt=False,
                                    state=self.outbox.target_state())
        else:  # PERMANENT
            log.warning("run %s parked: %s", item.run_id, outcome.reason)
            self.outbox.park(item, str(cls), outcome.reason, spend_attempt=True,
                             state=self._failed_state(state, outcome, now, state="up",
                                                      failures=0))
            if self.backend is not None:
                self.backend.forget_cache()  # a fixed configuration must be seen on retry

    def _probe(self, state: TargetState, now: float) -> float:
        problem = self._ensure_backend()
        if problem is not None:
            self._pause(state, problem, now)
            return self.clock.time()
        assert self.backend is not None
        self.probes += 1
        outcome = self.backend.probe(now)
        now = self.clock.time()
        if outcome.delivered:
            # Reachable again: deliver at once. The failure count stays, so a server that
            # answers probes but still fails deliveries keeps backing off further.
            self.outbox.save_state(state._replace(state="up", next_probe_at=0.0))
            log.info("%s reachable again", target_name(self.outbox.target))
        elif outcome.cls.pauses_target:
            self._pause(state, outcome, now)
        else:
            self.outbox.save_state(self._backoff(state, outcome, now))
        return now

    def _recheck_pause(self, state: TargetState, now: float) -> float:
        problem = self._refresh_token()
        if problem is not None:
            self._pause(state, problem, now)
            return self.clock.time()
        if self.backend is None:
            self._pause(state, Outcome(OutcomeClass.AUTH, "no token"), now)
            return self.clock.time()
        if state.state == "incompatible":
            outcome = self.backend.probe(now)
        else:
            outcome = self.backend.check_auth(now)
            if outcome is None:  # no cheap check: let the next delivery find out
                outcome = Outcome(OutcomeClass.DELIVERED)
        now = self.clock.time()
        if outcome.delivered:
            log.info("delivery to %s resumed", target_name(self.outbox.target))
            self.outbox.save_state(state._replace(state="up", next_probe_at=0.0,
                                                  paused_reason=None))
        elif outcome.cls.pauses_target:
            self._pause(state, outcome, now)
        else:
            # Unreachable while paused: stay paused (the reason is still true as far as we
            # know) and look again later.
            self.outbox.save_state(state._replace(next_probe_at=now + self.settings.auth_retry_s))
        return now

    # ---- sync now, in the foreground -----------------------------------------------------------

    def run_pass(self) -> PassReport:
        """Try every waiting run once, oldest first, and say what happened to each. A failure
        holds back only the later runs of the *same* board (their order matters); the pass
        stops early only when the server is unreachable or the login is refused."""
        report = PassReport()
        now = self.clock.time()
        state = self.outbox.target_state()
        if state.paused:
            self._recheck_pause(state, now)
        elif state.state == "down":
            self._probe(state, now)
        state = self.outbox.target_state()
        if state.paused or state.state == "down":
            report.stopped = state.paused_reason or state.last_error or state.state
            report.waiting = len(self.outbox.pending_ids())
            return report
        blocked: set[str] = set()
        ids = self.outbox.pending_ids()
        for position, outbox_id in enumerate(ids):
            item = self.outbox.item(outbox_id)
            if item is None:
                continue
            now = self.clock.time()
            head = self.outbox.conn.execute(
                "SELECT next_attempt_at FROM outbox WHERE id = ? AND state = 'pending'",
                (outbox_id,)).fetchone()
            if head is None:
                continue
            settling = (item.needs_reconcile and self.settings.waits_before_reconcile
                        and head[0] > now)
            if item.serial in blocked or settling:
                blocked.add(item.serial)
                report.waiting += 1
                continue
            if self._hold_if_parked_before(item):
                report.parked += 1
                continue
            outcome = self._deliver_one(item, self.outbox.target_state(), now)
            if outcome.delivered:
                report.delivered += 1
                continue
            if outcome.cls is OutcomeClass.PERMANENT:
                report.parked += 1
                report.failures.append(f"{item.serial} parked: {outcome.reason}")
                continue
            report.failed += 1
            report.failures.append(f"{item.serial}: {outcome.reason}")
            blocked.add(item.serial)
            if outcome.cls is OutcomeClass.NOTHING_SENT or outcome.cls.pauses_target:
                report.stopped = pause_text(outcome) if outcome.cls.pauses_target else (
                    outcome.reason)
                report.waiting += len(ids) - position - 1
                break
        return report
