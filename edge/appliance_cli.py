"""``pibench doctor | backup | retention``: looking after an installed station.

:func:`add_arguments` adds the sub-commands to ``edge/cli.py``'s parser (one line there).
Each command takes parsed arguments, prints to ``out`` and returns an exit code; configuration
errors propagate to the CLI's single handler (exit 78).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from edge.config import StationConfig, load_config
from edge.console import EXIT_STORAGE

EXIT_OK, EXIT_FAILED, EXIT_NO_PERMISSION = 0, 1, 77


def _config(args: argparse.Namespace) -> StationConfig:
    config = load_config(Path(args.config) if getattr(args, "config", None) else None)
    if getattr(args, "data_dir", None):
        config = config._replace(data_dir=Path(args.data_dir))
    return config


def cmd_doctor(args: argparse.Namespace, out: TextIO) -> int:
    from edge.doctor import doctor

    return doctor(_config(args), out)


def cmd_backup(args: argparse.Namespace, out: TextIO) -> int:
    from edge.store import StoreError
    from edge.store.backup import BackupError, backup_database, usb_destination

    config = _config(args)
    try:
        if args.usb:
            dest = usb_destination()
        elif args.destination:
            dest = Path(args.destination)
        else:
            print("pibench backup: give a destination (a file or a folder) or --usb",
                  file=sys.stderr)
            return 64
        if not config.database.exists():
            print(f"pibench backup: no result database at {config.database}", file=sys.stderr)
            return EXIT_FAILED
        result = backup_database(config.database, dest, station_id=config.station_id)
    except BackupError as exc:
        print(f"pibench backup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (StoreError, FileNotFoundError) as exc:  # the source database cannot be read
        print(f"pibench backup: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    print(f"{result.runs} run(s) backed up and verified: {result.path} "
          f"({result.size_bytes // 1024} KiB)", file=out)
    return EXIT_OK


def cmd_retention(args: argparse.Namespace, out: TextIO) -> int:
    from edge.store import StoreError, open_store
    from edge.store.retention import apply_retention

    if args.older_than_days is None and args.keep_last is None:
        print("pibench retention: give --older-than-days N and/or --keep-last N",
              file=sys.stderr)
        return 64
    config = _config(args)
    if not config.database.exists():
        print(f"pibench retention: no result database at {config.database}", file=sys.stderr)
        return EXIT_FAILED
    if not os.access(config.database, os.W_OK):
        print(f"pibench retention: {config.database} is the station's; run it as root "
              "(sudo pibench retention ...)", file=sys.stderr)
        return EXIT_NO_PERMISSION
    cutoff = (time.time() - args.older_than_days * 86400
              if args.older_than_days is not None else None)
    try:
        conn = open_store(config.database)
        try:
            result = apply_retention(conn, older_than_epoch=cutoff, keep_last=args.keep_last,
                                     dry_run=not args.apply)
        finally:
            conn.close()
    except StoreError as exc:
        print(f"pibench retention: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    verb = "deleted" if args.apply else "would delete (add --apply to delete)"
    print(f"{result.count} delivered run(s) {verb}", file=out)
    if result.kept_undelivered:
        print(f"{result.kept_undelivered} older run(s) kept: not delivered to the inventory yet "
              "(pibench sync status)", file=out)
    return EXIT_OK


def add_arguments(subparsers: argparse._SubParsersAction,
                  parents: tuple[argparse.ArgumentParser, ...] = ()) -> None:
    p = subparsers.add_parser("doctor", parents=list(parents),
                              help="is this station ready? one line per check")
    p.set_defaults(func=cmd_doctor)

    p = subparsers.add_parser("backup", parents=list(parents),
                              help="a verified copy of the result database")
    p.add_argument("destination", nargs="?", help="a file, or a folder for a dated file")
    p.add_argument("--usb", action="store_true", help="to the one USB stick mounted under /media")
    p.set_defaults(func=cmd_backup)

    p = subparsers.add_parser("retention", parents=list(parents),
                              help="delete old results the inventory already has")
    p.add_argument("--older-than-days", type=float, default=None, metavar="N")
    p.add_argument("--keep-last", type=int, default=None, metavar="N",
                   help="keep the newest N runs")
    p.add_argument("--apply", action="store_true", help="delete (default: only say what)")
    p.set_defaults(func=cmd_retention)
