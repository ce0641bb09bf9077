"""``python -m edge.sync [--config station.toml] [--database FILE]``: the worker as a process.

For stations that prefer delivery outside the station process (systemd unit of its own). Exits
cleanly on SIGTERM; SIGUSR1 makes it look at the outbox at once.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from edge.config import load_config
from edge.console import EXIT_CONFIG
from edge.errors import SettingsFileError
from edge.sync.secrets import REDACTOR, install_redaction
from edge.sync.settings import from_station_config
from edge.sync.worker import SyncBusyError, SyncWorker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.sync")
    parser.add_argument("--config", default=None)
    parser.add_argument("--database", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    install_redaction()
    try:
        config = load_config(Path(args.config) if args.config else None)
        settings = from_station_config(config)
        if not settings.enabled:
            print("sync is off ([sync] backend = 'none'); nothing to do", file=sys.stderr)
            return 0
        worker = SyncWorker(args.database or config.database, settings)
    except SettingsFileError as exc:  # the file and key are named; systemd must not restart
        print(f"pibench sync: {REDACTOR.redact(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    signal.signal(signal.SIGTERM, lambda *_: worker.stop(timeout=0))
    signal.signal(signal.SIGUSR1, lambda *_: worker.wake())
    try:
        worker.run()
    except SyncBusyError as exc:
        print(f"pibench sync: {exc}", file=sys.stderr)
        return 2
    finally:
        worker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
