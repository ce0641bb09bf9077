"""Chaos-test sync side: the real worker against the fake InvenTree, which also kills itself
(SIGKILL) at random right after the server stored a run and before the run is marked delivered,
the window where a naive sync would post the run again after restart."""

from __future__ import annotations

import os
import random
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from sync_helpers import inventree_settings

from edge.sync.worker import SyncWorker

# How long a run delivered after an uncertain attempt is watched for late copies (7 days in a
# shop). Here the server holds a request at most a few seconds (a thread of the fake starved by a
# loaded CI box), and the test waits for every watch to end before it counts.
LATE_COPY_WATCH_S = 4.0


def main() -> None:
    db, url, token_file = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    kill_probability, seed = float(sys.argv[4]), int(sys.argv[5])
    rng = random.Random(seed)

    def maybe_die(item, outcome) -> None:
        if (outcome.delivered or outcome.may_have_committed) and rng.random() < kill_probability:
            os.kill(os.getpid(), signal.SIGKILL)

    settings = inventree_settings(url, token_file=token_file, backoff_base_s=0.05,
                                  backoff_cap_s=0.5, poll_s=0.05, read_timeout_s=2.0,
                                  # a PASS/FAIL run also leaves its overall result; a run the
                                  # writer's kill aborted leaves only the measurements of its
                                  # completed steps (none before the first: nothing to count)
                                  run_template="pibenchrun", reconcile_after_s=0.3,
                                  late_copy_watch_s=LATE_COPY_WATCH_S)
    worker = SyncWorker(db, settings, after_outcome=maybe_die)
    print("ready", flush=True)  # the test kills at random points of the work, not of start-up
    worker.run()


if __name__ == "__main__":
    main()
