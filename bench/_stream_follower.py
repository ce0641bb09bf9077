"""A client process reading a station's event stream, as the HMI does (bench_station_steps.py).

Run as ``python bench/_stream_follower.py URL``. It parses every event off ``GET /events`` with
``edge.api.client`` and writes one line to stdout: ``ready`` at its first event, then, for each
``run_finished``, ``<time.perf_counter()> <run_id> <outcome> <steps stored>``. On Linux,
``perf_counter`` is CLOCK_MONOTONIC, the same clock in every process: the bench compares it with
the moment it POSTed the run.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edge.api.client import ApiClient


def main(url: str) -> None:
    clock, out = time.perf_counter, sys.stdout
    ready = False
    for event in ApiClient(url).events(timeout=None):
        if not ready:
            out.write("ready\n")
            out.flush()
            ready = True
        if event.name == "run_finished":
            record = event.data["record"]
            out.write(f"{clock():.9f} {record['run_id']} {record['outcome']} "
                      f"{len(record['steps'])}\n")
            out.flush()


if __name__ == "__main__":
    main(sys.argv[1])
