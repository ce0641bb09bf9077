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


def main() -> None:
    db, url, token_file = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    kill_probability, seed = float(sys.argv[4]), int(sys.argv[5])
    rng = random.Random(seed)

    def maybe_die(item, outcome) -> None:
        if (outcome.delivered or outcome.may_have_committed) and rng.random() < kill_probability:
            os.kill(os.getpid(), signal.SIGKILL)

    settings = inventree_settings(url, token_file=token_file, backoff_base_s=0.05,
                                  backoff_cap_s=0.5, poll_s=0.05, read_timeout_s=2.0,
                                  # every run, even one aborted before its first step, leaves
                                  # a result on the server: the test can then count all of them
                                  run_template="pibenchrun", reconcile_after_s=0.3)
    SyncWorker(db, settings, after_outcome=maybe_die).run()


if __name__ == "__main__":
    main()
