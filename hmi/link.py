"""The one long-lived link to the station: snapshot, then the live stream, forever.

Plain async code with a ``post`` callback, so the app runs it in a Textual worker and tests
and the bench run it bare. The rules:

* after every (re)connection, GET the whole state first; the stream then resumes right after
  the snapshot (``Last-Event-ID`` = the snapshot's event id), so nothing falls in between;
* a stream event from another boot of the station, a ``resync`` or a ``gap`` marker means
  "what you hold is not the truth any more": fetch the snapshot again;
* no answer: say so at once (``LinkDown``) and retry with a capped backoff, forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.message import Message

from hmi.client import StationClient, StationRefused, StationUnreachable
from hmi.messages import LinkDown, LinkUp, StationEvent

# The station's event names, and the HMI's names for them. Both the engine's class names and
# snake_case are accepted, so a renamed event is a one-line change here.
KINDS = {
    "RunStarted": "run_started", "run_started": "run_started", "run.started": "run_started",
    "StepStarted": "step_started", "step_started": "step_started",
    "step.started": "step_started",
    "MeasurementTaken": "measurement", "measurement": "measurement",
    "measurement_taken": "measurement", "measurement.taken": "measurement",
    "StepFinished": "step_finished", "step_finished": "step_finished",
    "step.finished": "step_finished",
    "RunFinished": "run_finished", "run_finished": "run_finished",
    "run.finished": "run_finished",
    "Log": "log", "log": "log",
    "scan": "scan", "Scan": "scan", "scanned": "scan",
    "health": "health", "Health": "health", "health_changed": "health",
    "sync": "sync", "Sync": "sync", "sync_status": "sync", "sync_changed": "sync",
    "settings": "settings",
}
RESYNC = {"gap", "Gap"}
RESYNC_DOC = {"resync", "Resync", "hello"}
BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0)


def snapshot_event_id(snapshot: dict) -> str | None:
    if snapshot.get("event_id"):
        return str(snapshot["event_id"])
    if snapshot.get("boot") is not None and snapshot.get("seq") is not None:
        return f"{snapshot['boot']}:{snapshot['seq']}"
    return None


def resynced(snapshot: dict, doc: dict) -> dict:
    """A resync document from the stream ({boot, seq, current, health, sync}) laid over the last
    full snapshot (which keeps the station's identity and products)."""
    current = doc.get("current") or {}
    merged = dict(snapshot)
    merged.update(boot=doc.get("boot", snapshot.get("boot")), seq=doc.get("seq", 0),
                  run=current.get("run"), last_run=current.get("last_run"),
                  product=current.get("product", snapshot.get("product")),
                  revision=current.get("revision", snapshot.get("revision")))
    if doc.get("health") is not None:
        merged["health"] = doc["health"]
    if doc.get("sync") is not None:
        merged["sync"] = doc["sync"]
    return merged


async def follow_station(
    client: StationClient,
    post: Callable[[Message], object],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    backoff: tuple[float, ...] = BACKOFF_S,
    rediscover: Callable[[], str | None] | None = None,
) -> None:
    """``rediscover``: where the station says it is now (its owner record), asked after each
    failed connection when the address was not given explicitly: a station that started after
    this HMI, or restarted on another free port, is found again."""
    failures = 0
    while True:
        try:
            snapshot = await client.snapshot()
            boot = snapshot.get("boot")
            post(LinkUp(snapshot))
            failures = 0
            last_id = snapshot_event_id(snapshot)
            async for event in client.events(last_id):
                if event.kind in RESYNC or (boot and event.boot and event.boot != str(boot)):
                    break  # the truth moved on without us: start again from a snapshot
                if event.kind in RESYNC_DOC:
                    # The station's own state document, exact at its seq: take it as the truth.
                    snapshot = resynced(snapshot, event.data)
                    post(LinkUp(snapshot))
                    continue
                kind = KINDS.get(event.kind)
                if kind is None:
                    continue
                post(StationEvent(kind, event.data, event.seq))
            # The stream ended (the station closed it, or asked for a resync): reconnect now.
        except StationUnreachable as exc:
            post(LinkDown(str(exc)))
            await sleep(backoff[min(failures, len(backoff) - 1)])
            failures += 1
            moved = rediscover() if rediscover is not None else None
            if moved and moved != client.base_url:
                client.rebase(moved)
        except StationRefused as exc:  # a wrong token, a station too old for this HMI
            post(LinkDown(exc.text("en")))
            await sleep(backoff[-1])
            failures += 1
