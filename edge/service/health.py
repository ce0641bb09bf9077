"""The station's health as one JSON-ready dict: what the HMI shows at all times.

Each check says what it found and, when something is wrong, what to do, in the station's words.
Fixture checks talk to the hardware (they also switch every fixture output, DUT power included,
to its inactive level), so the service only runs them while no run holds the fixtures.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from drivers.gpio.errors import PiGPIOUnavailableError
from edge.engine.context import StationError

LOW_DISK_BYTES = 256 * 1024 * 1024  # shown as "disk low" well before runs are refused (64 MiB)


class FixtureHealth:
    """What the last check of one fixture found, filled in by :func:`check_fixture`. (A plain
    class, not a dataclass: no dataclasses at a station's start, issue 14.)"""

    def __init__(self, fixture_id: str, kind: str, products: list[str]) -> None:
        self.fixture_id = fixture_id
        self.kind = kind
        self.products = products
        self.present: bool | None = None  # every fixture expander answers (None: not checked)
        self.identified: bool | None = None  # the identity straps read what the file expects
        self.gpio_available: bool | None = None
        self.message = ""

    def view(self) -> dict[str, Any]:
        return {"fixture_id": self.fixture_id, "kind": self.kind, "products": self.products,
                "present": self.present, "identified": self.identified,
                "gpio_available": self.gpio_available, "message": self.message}


def check_fixture(station: Any, spec: Any, entry: FixtureHealth) -> None:
    """Build (once) and check one fixture, filling ``entry``. Never raises for hardware faults."""
    try:
        fixture = station.fixture_for(spec)
    except StationError as exc:
        cause = exc.__cause__
        entry.present = False if isinstance(cause, OSError) else None
        entry.identified = None
        entry.gpio_available = not isinstance(cause, PiGPIOUnavailableError)
        entry.message = str(exc)
        return
    entry.gpio_available = True
    try:
        handles = [h for h in fixture.handles.values() if h.role == "fixture"]
        entry.present = all(h.present() for h in handles)
    except OSError as exc:
        entry.present, entry.identified, entry.message = False, None, f"I2C fault: {exc}"
        return
    try:
        report = fixture.check()
    except StationError as exc:
        entry.identified = False if entry.present else None
        entry.message = str(exc)
        return
    except OSError as exc:
        entry.identified, entry.message = None, f"I2C fault: {exc}"
        return
    entry.identified = True
    entry.message = report.describe()


def disk_view(data_dir: Path) -> dict[str, Any]:
    # What shutil.disk_usage() computes (free: what an unprivileged process may still use),
    # without importing shutil (fnmatch, bz2, lzma: ~1.7 ms of every station start here).
    try:
        st = os.statvfs(data_dir)
    except OSError as exc:
        return {"free_bytes": None, "total_bytes": None, "low": True,
                "message": f"cannot read free space of {data_dir}: {exc.strerror}"}
    free, total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
    low = free < LOW_DISK_BYTES
    return {"free_bytes": free, "total_bytes": total, "low": low,
            "message": (f"disk low: {free // (1024 * 1024)} MiB free in {data_dir}"
                        if low else "")}


def database_view(conn: sqlite3.Connection, data_dir: Path, database: Path) -> dict[str, Any]:
    """Writable means a write transaction can begin: the file and its directory accept writes
    and no other writer holds the database for longer than the busy timeout."""
    for path in (data_dir, database):
        if path.exists() and not os.access(path, os.W_OK):
            return {"writable": False, "message": f"{path} is not writable by this process"}
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return {"writable": False, "message": f"database not writable: {exc}"}
    return {"writable": True, "message": ""}


def overall(health: dict[str, Any]) -> bool:
    """Can a board be tested right now, as far as the station knows?"""
    fixtures = health["fixtures"]
    return (bool(fixtures) and all(f["present"] is not False and f["identified"] is not False
                                   and f["gpio_available"] is not False for f in fixtures)
            and health["database"]["writable"] and not health["disk"]["low"])


def signature(health: dict[str, Any]) -> tuple:
    """What a change event is about: states, not the free-byte count or the time of the check."""
    return (
        tuple((f["fixture_id"], f["present"], f["identified"], f["gpio_available"], f["message"])
              for f in health["fixtures"]),
        health["scanner"]["state"],
        health["clock_synced"],
        health["disk"]["low"],
        health["database"]["writable"],
        health["ok"],
    )
