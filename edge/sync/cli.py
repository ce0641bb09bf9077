"""``pibench sync status | retry-parked | now | setup``: functions taking parsed arguments.

Each takes an ``argparse.Namespace`` with ``config`` (station.toml path or None), optionally
``data_dir`` (pibench's global option) or ``database`` (overrides the configured one), ``json``
(status: machine output) and ``run_id`` (retry-parked: one run and the runs held behind it).
Each returns a process exit code and prints to ``out`` (stdout by default).
:func:`add_arguments` builds the sub-parser for ``edge/cli.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from edge.config import load_config
from edge.console import EXIT_CONFIG, EXIT_STORAGE
from edge.errors import SettingsFileError
from edge.sync.secrets import REDACTOR, TokenError

if TYPE_CHECKING:
    from edge.sync.settings import SyncSettings
    from edge.sync.worker import SyncWorker

# The store, the sync settings, the outbox, status and worker modules (and through them the HTTP
# stack) are imported by the sub-commands that use them, not here: edge/cli.py builds this
# parser for every pibench command (`pibench run` included).

EXIT_OK, EXIT_USAGE, EXIT_PENDING, EXIT_SETUP_PROBLEMS = 0, 2, 3, 1


def _load(args: argparse.Namespace):
    from edge.sync.settings import from_station_config

    config = load_config(Path(args.config) if getattr(args, "config", None) else None)
    if getattr(args, "data_dir", None):  # pibench's global --data-dir
        config = config._replace(data_dir=Path(args.data_dir))
    settings = from_station_config(config)
    database = Path(getattr(args, "database", None) or config.database)
    return settings, database


def _quiet_stdout() -> None:
    """The reader went away (``pibench sync status | head -1``): send the rest of our output
    nowhere, so neither this print nor the interpreter's final flush raises again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _guard(fn):
    def wrapper(args: argparse.Namespace, out: TextIO | None = None) -> int:
        from edge.store.db import StoreError
        from edge.sync.worker import SyncBusyError

        out = out or sys.stdout
        try:
            code = fn(args, out)
            out.flush()  # a closed pipe shows here, inside the guard, not at interpreter exit
            return code
        except BrokenPipeError:
            if out is sys.stdout:
                _quiet_stdout()
            return EXIT_OK
        except (SettingsFileError, TokenError) as exc:
            # A broken [sync] table or token file: the installer's to fix, like any
            # configuration error (exit 78, the file and key named).
            print(f"pibench sync: {REDACTOR.redact(str(exc))}", file=sys.stderr)
            return EXIT_CONFIG
        except SyncBusyError as exc:
            print(f"pibench sync: {REDACTOR.redact(str(exc))}", file=out)
            return EXIT_USAGE
        except StoreError as exc:
            # The result database cannot be used (read-only or full disk, locked, not a pibench
            # database): its own message and exit code, as for every pibench command.
            print(f"pibench sync: {exc}", file=sys.stderr)
            return EXIT_STORAGE

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_guard
def sync_status(args: argparse.Namespace, out: TextIO) -> int:
    """Print the delivery status; exit 0 when nothing waits, 3 when results wait or are parked."""
    from edge.store.db import open_store, open_store_read_only
    from edge.sync.status import parked_runs, read_status
    from edge.sync.worker import WorkerLock

    settings, database = _load(args)
    if not database.exists():  # a status read must not create an empty database (wrong dir?)
        print(f"no result database at {database} yet: nothing was tested, nothing to deliver",
              file=out)
        return 0
    # On a read-only filesystem nobody can be writing the database: read it as it is there,
    # as `pibench history` does (open_store would need to create its -shm file).
    read_only = database.exists() and bool(os.statvfs(database).f_flag & os.ST_RDONLY)
    conn = open_store_read_only(database) if read_only else open_store(database)
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
                    "last_success_utc", "last_error_class", "last_error", "next_try_utc",
                    "oldest_parked_reason"):
            if doc[key] is not None:
                print(f"  {key.replace('_', ' ')}: {doc[key]}", file=out)
        if status.watching_late_copies:
            print(f"  watched for late copies: {status.watching_late_copies}", file=out)
        for notice in status.notices:
            print(f"  notice: {notice}", file=out)
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
    from edge.store.db import open_store
    from edge.sync.outbox import Outbox

    settings, database = _load(args)
    conn = open_store(database)
    try:
        outbox = Outbox(conn, settings.target)
        count = outbox.retry_parked(time.time(), getattr(args, "run_id", None))
        outbox.wake(time.time(), settings.waits_before_reconcile)
    finally:
        conn.close()
    print(f"{count} parked result(s) queued again", file=out)
    return EXIT_OK


def _progress(database: Path, target: str) -> tuple[int, int, int]:
    from edge.store.db import open_store

    conn = open_store(database)
    try:
        return conn.execute(
            "SELECT coalesce(sum(state = 'delivered'), 0), coalesce(sum(attempts), 0),"
            " coalesce(sum(state = 'parked'), 0) FROM outbox WHERE target = ?",
            (target,)).fetchone()
    finally:
        conn.close()


@_guard
def sync_now(args: argparse.Namespace, out: TextIO) -> int:
    """Forget the backoff and deliver now: in this process, every waiting run tried once, when
    no worker runs; else the running worker is asked and watched for a few seconds."""
    from edge.store.db import open_store
    from edge.sync.outbox import Outbox
    from edge.sync.worker import SyncBusyError, SyncWorker

    settings, database = _load(args)
    if not settings.enabled:
        print("sync is off ([sync] backend = 'none')", file=out)
        return EXIT_USAGE
    # Taken before anything is woken: a running worker may deliver while this command is still
    # opening the database, and that delivery is one the user asked for.
    before = _progress(database, settings.target)
    conn = open_store(database)
    try:
        Outbox(conn, settings.target).wake(time.time(), settings.waits_before_reconcile)
    finally:
        conn.close()
    worker = SyncWorker(database, settings)
    try:
        report = worker.run_pass()
    except SyncBusyError:
        return _nudge_running_worker(args, database, settings, worker, before, out)
    finally:
        worker.close()
    print(f"tried every waiting result: {report.delivered} delivered, {report.failed} failed, "
          f"{report.parked} parked, {report.waiting} still waiting", file=out)
    if report.stopped:
        print(f"  stopped: {REDACTOR.redact(report.stopped)}", file=out)
    for failure in report.failures[:20]:
        print(f"  {REDACTOR.redact(failure)}", file=out)
    return sync_status(argparse.Namespace(config=getattr(args, "config", None),
                                          database=str(database)), out)


def _nudge_running_worker(args: argparse.Namespace, database: Path, settings: SyncSettings,
                          worker: SyncWorker, before: tuple[int, int, int], out: TextIO) -> int:
    """The running worker looks at the database at least every MAX_WAIT_S: watch it do so
    instead of promising something it may not do."""
    from edge.sync.worker import MAX_WAIT_S

    pid = worker.lock.holder_pid()
    print(f"a sync worker (pid {pid}) is running; it looks at the queue at least every "
          f"{MAX_WAIT_S:g} s", file=out)
    deadline = time.monotonic() + 2 * MAX_WAIT_S + 1
    while time.monotonic() < deadline and _progress(database, settings.target) == before:
        time.sleep(0.2)
    after = _progress(database, settings.target)
    if after == before:
        print(f"  it has not tried anything in {2 * MAX_WAIT_S + 1:g} s (nothing due, or it is "
              "stuck: see its log)", file=out)
    else:
        print(f"  it delivered {after[0] - before[0]} result(s) since", file=out)
    return sync_status(argparse.Namespace(config=getattr(args, "config", None),
                                          database=str(database)), out)


@_guard
def sync_setup(args: argparse.Namespace, out: TextIO) -> int:
    """Find or create, for each configured product, the test templates its plan's results
    need on InvenTree (``--dry-run``: only say what would be done)."""
    from edge.sync.backends.inventree import InvenTreeBackend
    from edge.sync.secrets import load_token
    from edge.sync.setup import run_setup

    settings, _ = _load(args)
    if settings.backend != "inventree":
        print(f"sync setup prepares an InvenTree server; [sync] backend is "
              f"'{settings.backend}'", file=out)
        return EXIT_USAGE
    backend = InvenTreeBackend(settings, load_token(settings.token_file, settings.token_env))
    try:
        report = run_setup(backend, settings, time.time(),
                           dry_run=getattr(args, "dry_run", False))
    finally:
        backend.close()
    for line in report.lines:
        print(REDACTOR.redact(line), file=out)
    done = "would create" if getattr(args, "dry_run", False) else "created"
    print(f"{done} {report.created} template(s); {report.problems} problem(s)", file=out)
    return EXIT_SETUP_PROBLEMS if report.problems else EXIT_OK


def add_arguments(subparsers: argparse._SubParsersAction,
                  parents: tuple[argparse.ArgumentParser, ...] = ()) -> None:
    """Add ``sync status|retry-parked|now`` to a parent CLI's sub-parsers; ``parents`` carry
    the parent CLI's common options (``--config``…) so they work after the sub-command too."""
    sync = subparsers.add_parser("sync", help="inventory delivery", parents=list(parents))
    sync.add_argument("--database", default=None, help="result database (default: configured)")
    sub = sync.add_subparsers(dest="sync_command", required=True, prog="pibench sync")
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
    p = sub.add_parser("setup", parents=list(parents),
                       help="create the InvenTree test templates the plans need")
    p.add_argument("--dry-run", dest="dry_run", action="store_true",
                   help="only print what would be created or refused")
    p.set_defaults(func=sync_setup)
