"""Station events that are not the engine's: scans, health and delivery-status changes.

They travel on the same :class:`~edge.engine.events.EventBus` as the engine's events, so every
client sees one ordered stream with one sequence, one replay buffer and one gap mechanism. The
engine's own subscribers (the terminal printer) ignore classes they do not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.engine.events import Event


@dataclass(frozen=True, slots=True)
class ScanRead(Event):
    """A serial read: from the station's serial-port scanner or submitted by a client. Its
    ``run_id`` is the run it started (``start_on_scan``), else empty."""

    source: str  # "scanner" (the station's serial port) | "client" (keyboard wedge on a client)
    raw: str
    serial: str | None  # the cleaned serial when valid
    product: str | None  # the product it was checked against (None: could not tell)
    valid: bool
    reason: str | None = None  # SerialRejected reason code
    message_fr: str | None = None
    message_en: str | None = None


@dataclass(frozen=True, slots=True)
class HealthChanged(Event):
    health: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SyncStatusChanged(Event):
    status: dict[str, Any]


__all__ = ["HealthChanged", "ScanRead", "SyncStatusChanged"]
