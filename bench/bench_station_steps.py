"""Goal 2 on the real station process: a durable step of `pibench station` vs a one-row commit.

Run:  .venv/bin/python bench/bench_station_steps.py              (about 10 s)
      .venv/bin/python bench/bench_station_steps.py --rounds 15  (quicker, noisier)

``bench_engine.py`` times the engine and the store in bench workers that do what a station does;
this bench times the process a user runs. The process is this venv's ``pibench`` script,
``station --no-console``, as systemd runs it (simulated hardware, its local API on a free loopback
port, bytecode cached in the temp dir), its data directory on the bench's disk. Its plans
directory holds two products built for the bench: ``Bench-50``, 50 steps, and ``Bench-1``, one
step, each step measuring 5.0 V against 4.5..5.5 V through a shop step module (the engine
bench's plan). Runs are started with ``POST /runs``, as the HMI starts them, in two phases:

1. **no client**: nobody reads the event stream; a run's time is from the POST to the moment its
   outbox row (the verdict's commit) can be read, by a read-only connection of this process
   polling the database every 0.2 ms: the station's own durable step, printed, not judged;
2. **with an event stream open**, as the HMI always has one (``GET /events``, read by
   ``edge.api.client`` in a thread of this process): a run's time is from the POST to its
   ``run_finished`` event. The goal is judged on this phase: every step's events are then
   also serialised and sent, which is part of what a station does per step.

Paired as in bench_engine.py: in each round, one 50-step run, one 1-step run and blocks of 49
one-row commits (``_engine_plans.OneRowCommits``, beside the station's database, WAL +
synchronous=FULL; see ``References``), timed by this process right next to each other (the blocks
after the runs in even rounds, before them in odd ones). A round's ratio is the station's
marginal step, (T50 - T1) / 49, over the mean commit of the block into a growing table; the goal
is judged on the median of the rounds' ratios. The same against the cheapest in-place commit is
printed, not judged. Also printed: the step period seen on the stream
(``step_started`` of step 0 to that of step 49, / 49: the steps alone, without the end of the run
whose work grows with its steps) and the WAL's size before and after the timed rounds (the
station gives it its room once it serves: edge/store/wal_room.py).

Goal (issue 14, goal 2): a durable step <= 1.2x a one-row SQLite WAL/FULL commit. No timing
asserts: this is a measurement, not a test. ``PIBENCH_BENCH_DIR`` chooses the disk (default:
``var/`` of the checkout; on tmpfs fsync is free and the figure would mean nothing).
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, ROOT)
sys.path.insert(0, BENCH_DIR)

from _disk import bench_root  # noqa: E402
from _engine_plans import HIGH, LOW, VOLTS, OneRowCommits  # noqa: E402

from edge.api.client import ApiClient  # noqa: E402
from edge.store.wal_room import room_bytes  # noqa: E402

PIBENCH = os.path.join(os.path.dirname(sys.executable), "pibench")
GOAL = 1.2
STEPS = 50
MS = 1000.0
STEP_MODULE = f'''"""The bench's step: the engine bench's simulated meter, as a shop's step type."""

from edge.plans import step_type


@step_type("bench_meter", measurements=("voltage",))
def bench_meter(ctx):
    ctx.measure("voltage", {VOLTS!r})
'''


def plan_toml(steps: int) -> str:
    head = (f'[plan]\nname = "Bench {steps}"\nversion = "1"\nproduct = "Bench-{steps}"\n'
            f'revision = "A"\nserial_pattern = "B{steps:02d}-[0-9]{{6}}"\n'
            'fixture = "powerbank-v1"\n')
    step = ('\n[[step]]\nname = "v_{i:03d}"\ntype = "bench_meter"\n[[step.measurement]]\n'
            f'name = "voltage"\nlow = {LOW}\nhigh = {HIGH}\nunits = "V"\n')
    return head + "".join(step.format(i=i) for i in range(steps))


class StationProcess:
    """The real station, its API and one event-stream reader (a thread of this process)."""

    def __init__(self, root: str, env: dict[str, str]) -> None:
        plans = os.path.join(root, "plans")
        os.makedirs(plans)
        with open(os.path.join(plans, "bench_steps.py"), "w", encoding="utf-8") as f:
            f.write(STEP_MODULE)
        for n in (STEPS, 1):
            with open(os.path.join(plans, f"bench-{n}.toml"), "w", encoding="utf-8") as f:
                f.write(plan_toml(n))
        self.data = os.path.join(root, "data")
        cfg = os.path.join(root, "station.toml")
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(f"[station]\ndata_dir = '{self.data}'\nplans_dirs = ['{plans}']\n\n"
                    "[api]\nlisten = \"127.0.0.1:0\"\n")
        self.proc = subprocess.Popen([PIBENCH, "--config", cfg, "--lang", "en", "station",
                                      "--no-console"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        url = None
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip().startswith("api: "):
                url = line.split("api: ", 1)[1].strip()
                break
        if url is None:
            raise SystemExit(f"the station did not serve:\n{self.proc.stderr.read()[-3000:]}")
        self.url = url
        self.api = ApiClient(url)
        self.finished: queue.Queue = queue.Queue()
        self.step_starts: dict[tuple[str, int], float] = {}
        self.streaming = False
        self._serial = 0
        self._db = sqlite3.connect(f"file:{self.data}/results.sqlite3?mode=ro", uri=True,
                                   isolation_level=None)

    def open_stream(self) -> None:
        """From now on, a client reads the event stream, as the HMI does."""
        threading.Thread(target=self._follow, args=(self.url,), daemon=True).start()
        self.streaming = True

    def _follow(self, url: str) -> None:
        clock = time.perf_counter
        for event in ApiClient(url).events(timeout=None):
            if event.name == "step_started":
                self.step_starts[(event.data["run_id"], event.data["index"])] = clock()
            elif event.name == "run_finished":
                self.finished.put((clock(), event.data["record"]))

    def run(self, steps: int) -> tuple[float, str]:
        """Wall seconds from the POST to the run's end, and its id. The end is its
        ``run_finished`` event once the stream is open; before, the moment its outbox row (the
        verdict's commit) can be read from the database, by a read-only connection of this
        process polling it: nobody then reads the stream."""
        self._serial += 1
        t0 = time.perf_counter()
        status, doc = self.api.post("/runs", {"product": f"Bench-{steps}",
                                              "serial": f"B{steps:02d}-{self._serial:06d}"})
        if status != 202:
            raise SystemExit(f"POST /runs refused: {status} {doc}")
        run_id = doc["run_id"]
        if self.streaming:
            t1, record = self.finished.get(timeout=60)
            outcome, stored = record["outcome"], len(record["steps"])
            if record["run_id"] != run_id:
                raise SystemExit(f"run_finished of another run: {record['run_id']}")
        else:
            t1 = self._outbox_row(run_id)
            outcome = self._db.execute("SELECT outcome FROM runs WHERE run_id = ?",
                                       (run_id,)).fetchone()[0]
            stored = self._db.execute("SELECT count(*) FROM steps WHERE run_id = ?",
                                      (run_id,)).fetchone()[0]
            # Its verdict is stored; the run thread still has the run's last events to give
            # before the next POST is taken (untimed).
            while self.api.get("/runs/current")[1]["state"] != "idle":
                time.sleep(0.001)
        if outcome != "PASS" or stored != steps:
            raise SystemExit(f"not the expected PASS of {steps} steps: {outcome}, {stored}")
        return t1 - t0, run_id

    def _outbox_row(self, run_id: str, timeout: float = 60.0) -> float:
        deadline = time.perf_counter() + timeout
        query = "SELECT 1 FROM outbox WHERE run_id = ?"
        while (now := time.perf_counter()) < deadline:
            if self._db.execute(query, (run_id,)).fetchone():
                return now
            time.sleep(0.0002)
        raise SystemExit(f"run {run_id} did not finish within {timeout} s")

    def wal_size(self) -> int:
        return os.path.getsize(os.path.join(self.data, "results.sqlite3-wal"))

    def stop(self) -> int:
        self._db.close()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code


class References:
    """The two kinds of one-row commit each round is compared with, timed in this process on the
    station's disk: into a growing table of a fresh database with SQLite's defaults (goal 2's
    reference, as in bench_engine.py; a new database every ``FRESH_EVERY`` rounds, so its WAL
    is still growing as in the engine bench's workers, which never reach SQLite's checkpoint at
    1,000 pages), and the cheapest in-place one (checkpoint every 100 pages, WAL reused): the
    like-for-like figure for a station whose WAL has its room."""

    FRESH_EVERY = 10

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self._made = 0
        self.growing = self._fresh()
        self.in_place = OneRowCommits(os.path.join(directory, "in-place.sqlite"), 100)
        self.in_place.block(3 * STEPS)  # past its first checkpoints: the WAL is reused

    def _fresh(self) -> OneRowCommits:
        self._made += 1
        commits = OneRowCommits(os.path.join(self._directory, f"growing-{self._made}.sqlite"))
        commits.block(STEPS)  # untimed, as bench_engine.py's first block
        return commits

    def blocks(self, round_index: int) -> tuple[float, float]:
        if round_index and not round_index % self.FRESH_EVERY:
            self.growing.close()
            self.growing = self._fresh()
        return self.growing.block(STEPS - 1), self.in_place.block(STEPS - 1)

    def close(self) -> None:
        self.growing.close()
        self.in_place.close()


def measure(station: StationProcess, references: References, rounds: int) -> dict:
    marginal, growing, in_place, ratios, like, periods, one_step = [], [], [], [], [], [], []
    for i in range(rounds):
        if i % 2:
            blocks = references.blocks(i)
        t50, run_id = station.run(STEPS)
        t1, _ = station.run(1)
        if not i % 2:
            blocks = references.blocks(i)
        m = (t50 - t1) / (STEPS - 1)
        grow, place = (b / (STEPS - 1) for b in blocks)
        marginal.append(m)
        growing.append(grow)
        in_place.append(place)
        ratios.append(m / grow)
        like.append(m / place)
        one_step.append(t1)
        if station.streaming:
            starts = station.step_starts
            periods.append((starts[(run_id, STEPS - 1)] - starts[(run_id, 0)]) / (STEPS - 1))
            starts.clear()
    ratios.sort()
    med = statistics.median
    return {"ratio": med(ratios), "ratios": ratios, "like": med(like), "marginal": med(marginal),
            "growing": med(growing), "in_place": med(in_place),
            "period": med(periods) if periods else None, "one_step": med(one_step)}


def report(label: str, r: dict, judged: bool) -> bool:
    rs, n = r["ratios"], len(r["ratios"])
    end = "run_finished" if r["period"] is not None else "the outbox row"
    print(f"\n{label}: {n} rounds, medians (ms per step unless marked)")
    print(f"  station, marginal step (T50 - T1)/{STEPS - 1}, POST to {end:<16}"
          f"{r['marginal'] * MS:8.3f}")
    if r["period"] is not None:
        print(f"  station, step period on the event stream (step_started 0 to {STEPS - 1})"
              f"{r['period'] * MS:8.3f}")
    print(f"  station, a 1-step run, POST to {end} (ms per run){'':<{17 - len(end)}}"
          f"{r['one_step'] * MS:8.2f}")
    print(f"  one-row commit into a growing table (this process, same disk)      "
          f"{r['growing'] * MS:8.3f}")
    print(f"  cheapest in-place one-row commit (WAL reused; same)                "
          f"{r['in_place'] * MS:8.3f}")
    ok = r["ratio"] <= GOAL
    verdict = ("goal met" if ok else "goal NOT met") if judged else "not judged"
    print(f"  durable step / one-row commit into a growing table, paired median: "
          f"{r['ratio']:.2f}x (p10 {rs[n // 10]:.2f}, p90 {rs[n * 9 // 10]:.2f}; min "
          f"{rs[0]:.2f}, max {rs[-1]:.2f}) -> {verdict}")
    print(f"  (like for like, against the in-place commit: {r['like']:.2f}x, not judged)")
    return ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="timed rounds per phase")
    args = parser.parse_args(argv)

    root = bench_root("pibench-station-steps-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = os.path.join(root, "pycache")
    station = None
    try:
        print(f"Station step bench: the real `pibench station --no-console`, {STEPS}-step and "
              f"1-step plans started through its API\ndata in {root}")
        station = StationProcess(root, env)
        deadline = time.monotonic() + 30
        while station.wal_size() < room_bytes(1024) and time.monotonic() < deadline:
            time.sleep(0.05)  # the WAL's room, made in the background once the station serves
        references = References(station.data)
        try:
            for _ in range(3):  # warm: plans and TOML cache read, fixture built and checked
                station.run(STEPS)
                station.run(1)
            wal_before = station.wal_size()
            alone = measure(station, references, args.rounds)
            station.open_stream()
            watched = measure(station, references, args.rounds)
            wal_after = station.wal_size()
        finally:
            references.close()
        code = station.stop()
        station = None
        report("no client: the end seen in the database", alone, judged=False)
        ok = report("with an event stream open, as the HMI has (the goal's figure)", watched,
                    judged=True)
        print(f"\nWAL file: {wal_before} bytes before the timed rounds, {wal_after} after"
              + (" (every step overwrote it in place)" if wal_after == wal_before else "")
              + f"; station exit code after SIGTERM: {code}")
        print(f"goal (issue 14, goal 2), the real station process with an event stream open: "
              f"durable step <= {GOAL}x a one-row commit: {watched['ratio']:.2f}x -> "
              + ("goal met" if ok else "goal NOT met")
              + f" (without a client: {alone['ratio']:.2f}x)")
    finally:
        if station is not None:
            station.proc.kill()
            station.proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
