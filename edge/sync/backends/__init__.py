"""Delivery backends: one per kind of inventory, chosen by ``[sync] backend``."""

from __future__ import annotations

from edge.sync.backends.base import Backend, OutboxItem
from edge.sync.settings import SyncSettings


def make_backend(settings: SyncSettings, token: str) -> Backend:
    if settings.backend == "generic":
        from edge.sync.backends.generic import GenericBackend

        return GenericBackend(settings, token)
    if settings.backend == "inventree":
        from edge.sync.backends.inventree import InvenTreeBackend

        return InvenTreeBackend(settings, token)
    raise ValueError(f"no delivery backend {settings.backend!r}")


__all__ = ["Backend", "OutboxItem", "make_backend"]
