"""Station events that are not the engine's: scans, health and delivery-status changes.

They travel on the same :class:`~edge.engine.events.EventBus` as the engine's events, so every
client sees one ordered stream with one sequence, one replay buffer and one gap mechanism. The
engine's own subscribers (the terminal printer) ignore classes they do not know.
"""

from __future__ import annotations

from typing import Any

from edge.engine.events import Event, _set


# Plain immutable classes like the engine's events (see Event: no dataclasses at start).
class ScanRead(Event):
    """A serial read: from the station's serial-port scanner or submitted by a client. Its
    ``run_id`` is the run it started (``start_on_scan``), else empty."""

    __slots__ = (
        "message_en",
        "message_fr",
        "product",
        "raw",
        "reason",
        "serial",
        "source",
        "valid",
    )
    source: str  # "scanner" (the station's serial port) | "client" (keyboard wedge on a client)
    raw: str
    serial: str | None  # the cleaned serial when valid
    product: str | None  # the product it was checked against (None: could not tell)
    valid: bool
    reason: str | None  # SerialRejected reason code
    message_fr: str | None
    message_en: str | None

    def __init__(self, seq: int, run_id: str, source: str, raw: str, serial: str | None,
                 product: str | None, valid: bool, reason: str | None = None,
                 message_fr: str | None = None, message_en: str | None = None) -> None:
        _set(self, "seq", seq)
        _set(self, "run_id", run_id)
        _set(self, "source", source)
        _set(self, "raw", raw)
        _set(self, "serial", serial)
        _set(self, "product", product)
        _set(self, "valid", valid)
        _set(self, "reason", reason)
        _set(self, "message_fr", message_fr)
        _set(self, "message_en", message_en)


class HealthChanged(Event):
    __slots__ = ("health",)
    health: dict[str, Any]

    def __init__(self, seq: int, run_id: str, health: dict[str, Any]) -> None:
        _set(self, "seq", seq)
        _set(self, "run_id", run_id)
        _set(self, "health", health)


class SyncStatusChanged(Event):
    __slots__ = ("status",)
    status: dict[str, Any]

    def __init__(self, seq: int, run_id: str, status: dict[str, Any]) -> None:
        _set(self, "seq", seq)
        _set(self, "run_id", run_id)
        _set(self, "status", status)


__all__ = ["HealthChanged", "ScanRead", "SyncStatusChanged"]
