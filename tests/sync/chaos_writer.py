"""Chaos-test station side: closes runs a previous kill interrupted, then writes runs forever
through the real store (begin, steps, finish + outbox row). Killed at random by the test."""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from sync_helpers import write_run

from edge.records import Outcome
from edge.store import RunRecorder, recover_interrupted


def main() -> None:
    db, seed = Path(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    recorder = RunRecorder.open(db)
    recover_interrupted(recorder.connection, datetime.now(UTC))
    while True:
        serial = f"PB-{rng.randrange(8):05d}"
        outcome = Outcome.FAIL if rng.random() < 0.25 else Outcome.PASS
        write_run(recorder, serial, outcome, steps=("Power rails", "Blink frequency"),
                  started=datetime.now(UTC).timestamp())
        time.sleep(rng.uniform(0.0, 0.02))  # pace like a (very fast) operator, not a tight loop


if __name__ == "__main__":
    main()
