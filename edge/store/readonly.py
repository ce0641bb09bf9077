"""Opening the result database read-only, as a technician's account or a backup does.

The station writes the file as the ``pibench`` user; technicians read it through the
``pibench`` group (file mode 0640, directory 0750), so they cannot write the ``-shm`` index
SQLite keeps beside a WAL database. SQLite still opens such a file read-only while the station
runs (the ``-shm`` and ``-wal`` files exist). When the station is stopped they do not exist and
cannot be created by a reader; nobody writes then, so the file is opened ``immutable``: SQLite
reads it as it is, without locks.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from edge.store.db import BUSY_TIMEOUT_MS, NotAResultStoreError
from edge.store.migrations import APPLICATION_ID


def _uri(path: Path, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(str(path.resolve()))}?{query}"


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to an existing result database (never creates or migrates it)."""
    db = Path(path)
    if not db.exists():
        raise FileNotFoundError(f"{db}: no result database here")
    try:
        conn = sqlite3.connect(_uri(db, mode="ro"), uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # No -shm we may create: the station is not running, nobody writes the file.
        conn = sqlite3.connect(_uri(db, mode="ro", immutable="1"), uri=True,
                               isolation_level=None)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise NotAResultStoreError(f"{db}: not usable as a SQLite database ({exc})") from exc
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise NotAResultStoreError(f"{db}: not usable as a SQLite database ({exc})") from exc
    if app_id != APPLICATION_ID:
        conn.close()
        raise NotAResultStoreError(f"{db}: not a pibench result database")
    return conn
