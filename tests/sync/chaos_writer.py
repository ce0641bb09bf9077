"""Chaos-test station side: closes runs a previous kill interrupted, then writes runs forever
through the real store (begin, steps, finish + outbox row). Killed at random by the test; when
asked (argv[3] == "1") it also kills itself between its first run's start and that run's first
step: the run is closed ABORTED with no step and gives InvenTree nothing (docs/sync.md), a case
the test's random kills hit too rarely to be seen in every chaos run."""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from sync_helpers import write_run

from edge.records import Outcome
from edge.store import RunRecorder, recover_interrupted


def main() -> None:
    db, seed, die_before_first_step = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
    rng = random.Random(seed)
    recorder = RunRecorder.open(db)
    recover_interrupted(recorder.connection, datetime.now(UTC))
    record_step = recorder.record_step

    def maybe_die_then_record(run_id, step) -> None:
        if die_before_first_step and step.index == 0:
            os.kill(os.getpid(), signal.SIGKILL)  # this process's first run: begun, no step
        record_step(run_id, step)

    recorder.record_step = maybe_die_then_record  # type: ignore[method-assign]
    print("ready", flush=True)  # the test kills at random points of the work, not of start-up
    while True:
        serial = f"PB-{rng.randrange(8):05d}"
        outcome = Outcome.FAIL if rng.random() < 0.25 else Outcome.PASS
        write_run(recorder, serial, outcome, steps=("Power rails", "Blink frequency"),
                  started=datetime.now(UTC).timestamp())
        time.sleep(rng.uniform(0.0, 0.02))  # pace like a (very fast) operator, not a tight loop


if __name__ == "__main__":
    main()
