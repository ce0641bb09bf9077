"""The station service layer: the one object (:class:`StationService`) that owns an open
station, runs its runs in one long-lived thread, keeps the current run as a snapshot and publishes
scans, health and delivery changes on the event bus. The local API (``edge/api``) and the
terminal console are both its clients.

* :mod:`edge.service.core` - StationService and the refusals it raises;
* :mod:`edge.service.run_thread` - the one thread every run runs in;
* :mod:`edge.service.tracker` - the current run, rebuilt from events;
* :mod:`edge.service.health` - fixture, scanner, GPIO, clock, disk and database checks;
* :mod:`edge.service.events` - the service's own events (scan, health, sync status);
* :mod:`edge.service.views` - records and events as JSON-ready dicts.
"""

from edge.service.core import (
    NoRunInProgress,
    RevisionRequired,
    RunInProgress,
    ServiceError,
    ServiceSettings,
    StartFailed,
    StationService,
    SyncOff,
    UnknownProductError,
    parse_event_id,
)

__all__ = [
    "NoRunInProgress",
    "RevisionRequired",
    "RunInProgress",
    "ServiceError",
    "ServiceSettings",
    "StartFailed",
    "StationService",
    "SyncOff",
    "UnknownProductError",
    "parse_event_id",
]
