"""Instructions per durable step's CPU work, counted by valgrind: a figure the machine's load does
not move, to compare versions of the engine and store where wall and CPU times are too noisy.

Run:  .venv/bin/python bench/_engine_instructions.py [pibench-nosync|pibench-memory|pibench-durable]
      (about 1 min; needs valgrind: apt-get install valgrind)

It runs ``_engine_plans``' bench plan under ``valgrind --tool=callgrind`` twice, 20 runs of 50
steps and 20 runs of 1 step after the same warm-up, and prints (I50 - I1) / (20 x 49): the
instructions of one marginal step, start-up and per-run costs removed. The default configuration
is sync=OFF: the store's CPU work without the disk (user-space instructions only either way; the
kernel's share of a fdatasync is not counted). A helper, not one of ``./dev bench``'s benches: it
prints no goal, only the figure bench/README.md quotes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

RUNS = 20
STEPS = 50
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
WORKER = """
import sys, tempfile
sys.path.insert(0, sys.argv[1])
from _engine_plans import SERIAL, STEPS, pibench_setup
mode, steps, runs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
runners, _recorder, _conn, _ = pibench_setup(mode, tempfile.mkdtemp(dir=sys.argv[5]))
for _ in range(3):
    runners[STEPS].run(SERIAL)
    runners[1].run(SERIAL)
for _ in range(runs):
    runners[steps].run(SERIAL)
"""


def instructions(mode: str, steps: int, workdir: str) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c",
         WORKER, BENCH_DIR, mode, str(steps), str(RUNS), workdir],
        capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no instruction count:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "pibench-nosync"
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(dir=os.environ.get("PIBENCH_BENCH_DIR")) as workdir:
        many, one = instructions(mode, STEPS, workdir), instructions(mode, 1, workdir)
    print(f"{mode}: {(many - one) // (RUNS * (STEPS - 1))} instructions per marginal step "
          f"(valgrind callgrind, {RUNS} runs of {STEPS} steps minus {RUNS} runs of 1)")


if __name__ == "__main__":
    main()
