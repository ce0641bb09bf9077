"""``pibench sync status | retry-parked | now``: functions taking parsed arguments.

Each takes an ``argparse.Namespace`` with ``config`` (station.toml path or None), optionally
``data_dir`` (pibench's global option) or ``database`` (overrides the configured one), ``json``
(status: machine output) and ``run_id`` (retry-parked: one run and the runs held behind it).
Each returns a process exit code and prints to ``out`` (stdout by default).
:func:`add_arguments` builds the sub-parser for ``edge/cli.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from edge.config import ConfigError, load_config
from edge.store.db import open_store
from edge.sync.secrets import REDACTOR, TokenError
from edge.sync.settings import SyncSettingsError, from_station_config

# The outbox, status and worker modules (and through them the HTTP stack) are imported by the
# sub-commands that use them, not here: edge/cli.py builds this parser for every pibench command.

EXIT_OK, EXIT_USAGE, EXIT_PENDING = 0, 2, 3


def _load(args: argparse.Namespace):
    config = load_config(Path(args.config) if getattr(args, "config", None) else None)
    if getattr(args, "data_dir", None):  # pibench's global --data-dir
        config = replace(config, data_dir=Path(args.data_dir))
    settings = from_station_config(config)
    database = Path(getattr(args, "database", None) or config.database)
    return settings, database


def _guard(fn):
    def wrapper(args: argparse.Namespace, out: TextIO | None = None) -> int:
        from edge.sync.worker import SyncBusyError

        out = out or sys.stdout
        try:
            return fn(args, out)
        except (ConfigError, SyncSettingsError, TokenError, SyncBusyError) as exc:
            print(f"pibench sync: {REDACTOR.redact(str(exc))}", file=out)
            return EXIT_USAGE

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_guard
def sync_status(args: argparse.Namespace, out: TextIO) -> int:
    """Print the delivery status; exit 0 when nothing waits, 3 when results wait or are parked."""
    from edge.sync.status import parked_runs, read_status
    from edge.sync.worker import WorkerLock

    settings, database = _load(args)
    conn = open_store(database)
    try:
        status = read_status(conn, settings.target, settings.backend, time.time())
        parked = parked_runs(conn, settings.target) if getattr(args, "parked", False) else []
    finally:
        conn.close()
    holder = WorkerLock(database)
    doc = status.to_dict()
    if getattr(args, "json", False):
        if parked:
            doc["parked_runs"] = parked
        print(REDACTOR.redact(json.dumps(doc, indent=2)), file=out)
    else:
        print(status.message, file=out)
        for key in ("backend", "state", "queue_depth", "parked", "oldest_undelivered_utc",
                    "last_success_utc", "last_error_class", "last_error", "next_try_utc"):
            if doc[key] is not None:
                print(f"  {key.replace('_', ' ')}: {doc[key]}", file=out)
        if not settings.enabled:
            print("  sync is off ([sync] backend = 'none')", file=out)
        pid = holder.holder_pid() if holder.path.exists() else None
        if pid:
            print(f"  worker pid (last holder of the lock): {pid}", file=out)
        for run in parked:
            print(f"  parked {run['run_id']} serial {run['serial']}: {run['error']}", file=out)
    return EXIT_OK if status.queue_depth == 0 and status.parked == 0 else EXIT_PENDING


@_guard
def sync_retry_parked(args: argparse.Namespace, out: TextIO) -> int:
    """Put parked runs back in the queue (after fixing the configuration or the inventory)."""
    from edge.sync.outbox import Outbox

    settings, database = _load(args)
    conn = open_store(database)
    try:
        outbox = Outbox(conn, settings.target)
        count = outbox.retry_parked(time.time(), getattr(args, "run_id", None))
        outbox.wake(time.time())
    finally:
        conn.close()
    print(f"{count} parked result(s) queued again", file=out)
    return EXIT_OK


@_guard
def sync_now(args: argparse.Namespace, out: TextIO) -> int:
    """Forget the backoff and deliver now: in this process if no worker runs, else by the
    running worker within its next poll."""
    from edge.sync.outbox import Outbox
    from edge.sync.worker import SyncBusyError, SyncWorker

    settings, database = _load(args)
    if not settings.enabled:
        print("sync is off ([sync] backend = 'none')", file=out)
        return EXIT_USAGE
    conn = open_store(database)
    try:
        Outbox(conn, settings.target).wake(time.time())
    finally:
        conn.close()
    worker = SyncWorker(database, settings)
    try:
        worker.run(until_idle=True)
    except SyncBusyError:
        print("a sync worker is running; it will try within 30 s", file=out)
        return EXIT_OK
    finally:
        worker.close()
    return sync_status(argparse.Namespace(config=getattr(args, "config", None),
                                          database=str(database)), out)


def add_arguments(subparsers: argparse._SubParsersAction,
                  parents: tuple[argparse.ArgumentParser, ...] = ()) -> None:
    """Add ``sync status|retry-parked|now`` to a parent CLI's sub-parsers; ``parents`` carry
    the parent CLI's common options (``--config``…) so they work after the sub-command too."""
    sync = subparsers.add_parser("sync", help="inventory delivery", parents=list(parents))
    sync.add_argument("--database", default=None, help="result database (default: configured)")
    sub = sync.add_subparsers(dest="sync_command", required=True)
    p = sub.add_parser("status", parents=list(parents),
                       help="queue depth, oldest waiting result, last error")
    p.add_argument("--json", action="store_true")
    p.add_argument("--parked", action="store_true", help="list parked runs and reasons")
    p.set_defaults(func=sync_status)
    p = sub.add_parser("retry-parked", parents=list(parents),
                       help="queue parked results again after a fix")
    p.add_argument("--run-id", dest="run_id", default=None)
    p.set_defaults(func=sync_retry_parked)
    p = sub.add_parser("now", parents=list(parents), help="forget the backoff and deliver now")
    p.set_defaults(func=sync_now)
