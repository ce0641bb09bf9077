"""Room in the WAL file before the first board, so durable steps overwrite blocks it already owns.

Why. Every step ends in an ``fdatasync`` of the WAL (``synchronous=FULL``). While the WAL file
grows, that ``fdatasync`` must also commit the filesystem's journal: the file's size changed, and
often a block was allocated. Once the file is overwritten in place it only writes the data. A
station's WAL grows until its first checkpoint (``CHECKPOINT_PAGES`` frames, about 18 boards
of 50 steps) and is then reused from its start; but SQLite deletes it when the last connection
closes, so every station start grew it again. Measured on the bench's disk (bench/README.md): a
durable step takes 0.20-0.21 ms in place against 0.28-0.35 ms while the file grows, and the
device receives 9.45 MB for a new store's first 18 boards with the room (its own 2.6 MB
included) against 11.53 MB without (bench_store_writes.py): ~5 KB of filesystem journal per step
that an SD card wears for.

How. Through SQLite, never by writing its file: a write transaction makes more pages dirty than
the connection's page cache holds, so SQLite spills them into the WAL as frames of a
transaction that has not committed, and the transaction is then rolled back. The frames stay in
the file but never in the database: a reader, and recovery after a crash, take WAL frames only
up to the last frame that ends a committed transaction, and these have none. The next commits
write over them from the WAL's current end. The same thing happens whenever any large
transaction rolls back; SQLite is built for it.

The room is filled once, before the station's first run. Its size covers the checkpoint interval
plus a long run, so in normal use the WAL never grows again while the station runs.
"""

from __future__ import annotations

import os
import sqlite3

from edge.store.db import CHECKPOINT_PAGES, database_path, fsync_path, is_file_path

# Frames a run may add after the WAL reached CHECKPOINT_PAGES (the checkpoint only follows the
# verdict's commit): a 300-step run writes about 520.
RUN_HEADROOM_FRAMES = 600
ROOM_FRAMES = CHECKPOINT_PAGES + RUN_HEADROOM_FRAMES
_WAL_HEADER = 32
_FRAME_HEADER = 24
# Page cache while the room is made: SQLite spills what does not fit into the WAL, so a small
# cache makes almost every page of the transaction a frame in the file.
_SPILL_CACHE_PAGES = 8
_SCRATCH_TABLE = "pibench_wal_room"  # created and rolled back: it never exists in the file


def wal_path(conn: sqlite3.Connection) -> str | None:
    """The WAL file of ``conn``'s database, or None for an in-memory one."""
    path = database_path(conn)
    return path + "-wal" if is_file_path(path) else None


def room_bytes(page_size: int, frames: int = ROOM_FRAMES) -> int:
    """Size of a WAL file holding ``frames`` frames of ``page_size``-byte pages."""
    return _WAL_HEADER + frames * (page_size + _FRAME_HEADER)


def reserve_wal_room(conn: sqlite3.Connection, frames: int = ROOM_FRAMES, *,
                     keep_free_bytes: int = 0) -> int:
    """Grow ``conn``'s WAL file to hold ``frames`` frames; return the bytes it grew by.

    0 when the file is already that large, when the database is in memory, or when the disk
    would keep less than ``keep_free_bytes`` free afterwards (results matter more than speed).
    The file is fsynced before returning, so the first step's ``fdatasync`` has nothing else to
    write. Raises ``sqlite3.Error`` if SQLite refuses (the store is unchanged either way) and
    ``RuntimeError`` if ``conn`` has a transaction open. Call with no other writer on ``conn``.
    """
    wal = wal_path(conn)
    if wal is None:
        return 0
    if conn.in_transaction:
        raise RuntimeError("reserve_wal_room needs a connection with no transaction open")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    before = _size(wal)
    missing = room_bytes(page_size, frames) - before
    if missing <= 0:
        return 0
    stat = os.statvfs(os.path.dirname(wal) or ".")
    if stat.f_bavail * stat.f_frsize - missing < keep_free_bytes:
        return 0
    cache_size = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size={_SPILL_CACHE_PAGES}")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"CREATE TABLE {_SCRATCH_TABLE} (b BLOB)")
            # One zero-filled blob: its overflow pages are the frames (SQLite does not hold the
            # blob in memory). The pages left in the cache at the rollback are never written.
            pages = -(-missing // (page_size + _FRAME_HEADER)) + _SPILL_CACHE_PAGES
            conn.execute(f"INSERT INTO {_SCRATCH_TABLE} VALUES (zeroblob(?))",
                         (pages * page_size,))
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
    finally:
        conn.execute(f"PRAGMA cache_size={int(cache_size)}")
    # Opening and closing the WAL file here is safe: SQLite holds no POSIX lock on it (its
    # locks are on the database and -shm files, which closing another descriptor would drop).
    fsync_path(wal)  # the new blocks durable now, not in the first step's fdatasync
    return _size(wal) - before


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
