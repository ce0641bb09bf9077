"""The station for the HMI's end-to-end tests: the real station service and its HTTP API in this
process, on simulated hardware, with one test-only change: simulated time is *paced*
(``--pace S``: each simulated second takes S real seconds), so a run lasts long enough for a
test to act in the middle of it (abort, kill the HMI, kill the station). Nothing else is
replaced, and the tests never sleep for simulated time: they wait for what the screen shows.

    python tests/hmi/station_proc.py --data-dir D [--pace 0.05] [--start-on-scan] [--port N]

Prints ``api: <url>`` once serving; stops on SIGTERM (a run in progress is left to finish
first, as the service does).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path


def install_pacing(pace: float) -> None:
    from drivers.clock import SimClock

    original = SimClock._run_next_before

    def paced_next(self, limit):
        before = self._now
        ran = original(self, limit)
        if ran and self._now > before:
            time.sleep((self._now - before) * pace)
        return ran

    def jump(self, t):  # time passing with no event in it is paced too
        if t > self._now:
            time.sleep((t - self._now) * pace)
            with self._lock:
                self._now = max(self._now, t)

    def paced_wait(self, predicate, deadline):
        while not predicate():
            if not self._run_next_before(deadline):
                jump(self, deadline)
                return predicate()
        return True

    def paced_advance_to(self, t):
        while self._run_next_before(t):
            pass
        jump(self, t)

    SimClock._run_next_before = paced_next
    SimClock.wait_until = paced_wait
    SimClock.advance_to = paced_advance_to


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--pace", type=float, default=0.0)
    p.add_argument("--start-on-scan", action="store_true")
    p.add_argument("--station-id", default="banc-essai")
    p.add_argument("--token-file", default=None)
    p.add_argument("--sim-fault", action="append", default=[])
    args = p.parse_args()
    if args.pace > 0:
        install_pacing(args.pace)

    from edge.api.server import ApiServer
    from edge.api.settings import ApiSettings
    from edge.config import StationConfig
    from edge.service import ServiceSettings, StationService
    from edge.station import Station

    token = Path(args.token_file).read_text().strip() if args.token_file else None
    config = StationConfig(station_id=args.station_id, data_dir=Path(args.data_dir),
                           sim_faults=tuple(args.sim_fault))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Station(config) as station:
        service = StationService(station, ServiceSettings(start_on_scan=args.start_on_scan))
        service.start()
        server = ApiServer(service, ApiSettings("127.0.0.1", args.port, token=token,
                                                start_on_scan=args.start_on_scan))
        try:
            print(f"api: {server.start()}", flush=True)
            stop.wait()
        finally:
            server.stop()
            service.close(run_timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
