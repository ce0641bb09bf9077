"""The contract between the scheduler (:mod:`edge.sync.runner`) and a delivery backend.

A backend turns one outbox row into requests and the answers into one
:class:`~edge.sync.outcomes.Outcome`. It never raises for anything the network or server does;
it never touches the database; it holds at most one request in flight (the runner calls it from
one thread per target).
"""

import json
from collections.abc import Callable
from functools import cached_property
from typing import Any, Protocol

from drivers.named_tuple import NamedTuple
from edge.sync.outcomes import Outcome


# NamedTuples, not frozen dataclasses: no dataclasses at a station's start (issue 14).
class _OutboxItemFields(NamedTuple):
    id: int  # FIFO position
    run_id: str  # idempotency key
    target: str
    payload: str  # the exact bytes to send (pibench.run/1 JSON)
    created_utc: str
    attempts: int
    needs_reconcile: bool  # an earlier attempt may have reached the server
    serial: str


class OutboxItem(_OutboxItemFields):
    """One outbox row as the sync sees it."""

    # (no __slots__ here: the instance keeps a __dict__, where cached_property keeps `record`)

    @cached_property
    def record(self) -> dict[str, Any]:
        return json.loads(self.payload)


class AuditResult(NamedTuple):
    """What one look for late copies of a delivered run found (see Backend.audit)."""

    removed: tuple[int, ...] = ()  # results deleted on the server (the station's own copies)
    error: Outcome | None = None  # the look could not finish: try again later


class Backend(Protocol):
    # Whether a crash between sending and recording "delivered" could lead to a duplicate unless
    # the runner durably notes "sending" first (InvenTree: no idempotency keys).
    needs_presend_mark: bool

    def set_token(self, token: str) -> None:
        """Use a (re-read) token from now on."""
        ...

    def probe(self, now: float) -> Outcome:
        """One cheap request saying whether the target is reachable: DELIVERED means "up"."""
        ...

    def check_auth(self, now: float) -> Outcome | None:
        """A cheap authenticated request (DELIVERED means accepted), or None if the backend has
        none and the runner should simply try the next delivery."""
        ...

    def deliver(self, item: OutboxItem, now: float, before_send: Callable[[], None]) -> Outcome:
        """Deliver ``item`` exactly once: reconcile first when ``item.needs_reconcile``; call
        ``before_send()`` right before the request that may store the run."""
        ...

    def audit(self, item: OutboxItem, now: float) -> AuditResult:
        """For a delivered run whose earlier attempt may still commit late: remove the extra
        copies that attempt stored. Backends whose server de-duplicates return at once."""
        ...

    def forget_cache(self) -> None:
        """Drop cached lookups (after a parked run, so a configuration fix takes effect)."""
        ...

    def close(self) -> None: ...
