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

import logging
import random
from collections.abc import Callable
from dataclasses import replace

from edge.sync.backends.base import Backend, OutboxItem
from edge.sync.clock import SyncClock
from edge.sync.http_classify import RETRY_AFTER_MAX_S
from edge.sync.outbox import MAX_SCHEDULE_AHEAD_S, Outbox, TargetState, iso
from edge.sync.outcomes import Outcome, OutcomeClass
from edge.sync.secrets import REDACTOR, TokenError, describe_error
from edge.sync.settings import SyncSettings

log = logging.getLogger(__name__)

AUTH_PAUSE_TEXT = "inventory login expired"


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
        head = self.outbox.head()
        if head is None:
            return None
        item, due_at = head
        if not Outbox.is_due(due_at, now, self._horizon):
            return due_at
        held = self.outbox.parked_before(item)
        if held is not None:
            self.outbox.park(
                item, "held",
                f"held behind parked run {held[1]} of serial {item.serial}: sent after it, once "
                "it is retried", spend_attempt=False)
            return now
        problem = self._ensure_backend()
        if problem is not None:
            self._pause(state, problem, now)
            return self.clock.time()
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
        return self.clock.time()

    def _before_send(self, item: OutboxItem) -> None:
        assert self.backend is not None
        if self.backend.needs_presend_mark and not item.needs_reconcile:
            self.outbox.mark_sending(item)

    # ---- applying outcomes ---------------------------------------------------------------------

    def _failed_state(
        self, current: TargetState, outcome: Outcome, now: float, **changes: object
    ) -> TargetState:
        return replace(current, last_error_class=str(outcome.cls), last_error=outcome.reason[:500],
                       last_error_utc=iso(now), **changes)

    def _backoff(self, state: TargetState, outcome: Outcome, now: float) -> TargetState:
        failures = state.failures + 1
        delay = self.settings.backoff.delay(failures, self.rng, outcome.retry_after_s)
        return self._failed_state(state, outcome, now, state="down", failures=failures,
                                  next_probe_at=now + delay, paused_reason=None)

    def _pause(self, state: TargetState, outcome: Outcome, now: float) -> None:
        kind = "auth" if outcome.cls is OutcomeClass.AUTH else "incompatible"
        reason = f"{AUTH_PAUSE_TEXT}: {outcome.reason}" if kind == "auth" else outcome.reason
        if state.state != kind:
            log.warning("sync to %s paused: %s", self.outbox.target, reason)
        self.outbox.save_state(self._failed_state(
            state, outcome, now, state=kind, next_probe_at=now + self.settings.auth_retry_s,
            paused_reason=reason[:500]))

    def _apply(self, item: OutboxItem, outcome: Outcome, state: TargetState, now: float) -> None:
        cls = outcome.cls
        if cls is OutcomeClass.DELIVERED:
            self.outbox.mark_delivered(item, outcome, now, replace(
                state, state="up", failures=0, next_probe_at=0.0, paused_reason=None,
                last_success_utc=iso(now)))
        elif cls.target_is_down:
            new_state = self._backoff(state, outcome, now)
            if state.state != "down":
                log.warning("inventory %s unreachable (%s): backing off", self.outbox.target,
                            outcome.reason)
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
            self.outbox.save_state(replace(state, state="up", next_probe_at=0.0))
            log.info("inventory %s reachable again", self.outbox.target)
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
            log.info("sync to %s resumed", self.outbox.target)
            self.outbox.save_state(replace(state, state="up", next_probe_at=0.0,
                                           paused_reason=None))
        elif outcome.cls.pauses_target:
            self._pause(state, outcome, now)
        else:
            # Unreachable while paused: stay paused (the reason is still true as far as we
            # know) and look again later.
            self.outbox.save_state(replace(state, next_probe_at=now + self.settings.auth_retry_s))
        return now
