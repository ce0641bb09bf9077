"""What one delivery attempt (or probe) came to, in the terms the scheduler acts on.

Every outcome of talking to an inventory lands in exactly one :class:`OutcomeClass`; the runner's
reaction is a function of the class alone (see docs/sync.md):

=============  ==========================================  =====================================
class          examples                                    reaction
=============  ==========================================  =====================================
DELIVERED      2xx, 409 from the generic endpoint,         mark delivered, close the circuit
               the run's marker found on InvenTree
NOTHING_SENT   connection refused, DNS, connect timeout    back off, retry (no reconcile needed)
AMBIGUOUS      read timeout, reset after send, 502, 504    back off, reconcile before re-sending
TRANSIENT      408, 425, 429, 500, 503, HTML for JSON      back off (Retry-After as a floor)
AUTH           401, 403                                    pause the target; spend no attempt
PERMANENT      other 4xx, missing part/template            park with the reason
INCOMPATIBLE   server API too old for bulk results         pause the target until it is upgraded
=============  ==========================================  =====================================
"""

from enum import StrEnum

from drivers.named_tuple import NamedTuple

# Clamp a server's Retry-After: a misconfigured proxy saying "come back in a year" must not
# silence a station for a year (about an hour is the usual advice). Here rather than in
# http_classify so the runner (and the status every station reads) need not import requests.
RETRY_AFTER_MAX_S = 3600.0


class OutcomeClass(StrEnum):
    DELIVERED = "delivered"
    NOTHING_SENT = "nothing-sent"
    AMBIGUOUS = "ambiguous"
    TRANSIENT = "transient"
    AUTH = "auth"
    PERMANENT = "permanent"
    INCOMPATIBLE = "incompatible"

    @property
    def target_is_down(self) -> bool:
        """Outcomes that say the *target* (not this run) is unhealthy: back off the whole target."""
        return self in (OutcomeClass.NOTHING_SENT, OutcomeClass.AMBIGUOUS, OutcomeClass.TRANSIENT)

    @property
    def pauses_target(self) -> bool:
        return self in (OutcomeClass.AUTH, OutcomeClass.INCOMPATIBLE)


# (a NamedTuple, not a frozen dataclass: no dataclasses at a station's start, issue 14)
class Outcome(NamedTuple):
    cls: OutcomeClass
    reason: str = ""  # human text, already redacted; stored as last_error
    retry_after_s: float | None = None  # server-requested floor under the backoff
    remote_ref: str | None = None  # what the server calls the delivered thing
    # True when the server may have stored the run although we did not see success: the next
    # attempt must reconcile (look for the run) before sending again.
    may_have_committed: bool = False
    http_status: int | None = None  # the answer's status code, when there was one
    # Something delivered but worth a person's attention (a duplicate stock item, a stock status
    # the server refused): kept with the delivered run and shown by `pibench sync status`.
    notice: str | None = None
    notice_kind: str | None = None  # "duplicate-item" | "status-not-set" | "late-copy-removed"

    @property
    def delivered(self) -> bool:
        return self.cls is OutcomeClass.DELIVERED


def delivered(remote_ref: str | None = None, reason: str = "", notice: str | None = None,
              notice_kind: str | None = None) -> Outcome:
    return Outcome(OutcomeClass.DELIVERED, reason=reason, remote_ref=remote_ref, notice=notice,
                   notice_kind=notice_kind)


def nothing_sent(reason: str) -> Outcome:
    return Outcome(OutcomeClass.NOTHING_SENT, reason=reason)


def ambiguous(reason: str, retry_after_s: float | None = None) -> Outcome:
    return Outcome(
        OutcomeClass.AMBIGUOUS, reason=reason, retry_after_s=retry_after_s, may_have_committed=True
    )


def transient(
    reason: str, retry_after_s: float | None = None, may_have_committed: bool = False
) -> Outcome:
    return Outcome(
        OutcomeClass.TRANSIENT,
        reason=reason,
        retry_after_s=retry_after_s,
        may_have_committed=may_have_committed,
    )


def auth(reason: str) -> Outcome:
    return Outcome(OutcomeClass.AUTH, reason=reason)


def permanent(reason: str) -> Outcome:
    return Outcome(OutcomeClass.PERMANENT, reason=reason)


def incompatible(reason: str) -> Outcome:
    return Outcome(OutcomeClass.INCOMPATIBLE, reason=reason)
