"""Run-engine overhead: pibench vs OpenHTF 1.6.3 on the same 50-step plan, side by side.

Run:  .venv/bin/python bench/bench_engine.py        (about 15 s; needs the ``bench`` extra)
      .venv/bin/python bench/bench_engine.py --processes 3 --warm 5   (quicker, noisier)

The plan: 50 steps, each reading a simulated meter (5.0 V) and judging it against 4.5..5.5 V,
one measurement per step. It runs in four configurations, each in several fresh worker processes
(``_engine_plans.worker_main`` in a new interpreter of this venv), visited round-robin so drift on
the machine hits every configuration alike:

* ``pibench durable``: the real plan loader (TOML file in a temp dir, a ``meter_voltage`` step type
  in a private Registry reading the meter from the fixture's resources), the real Runner with its
  default event bus, and the real ``edge.store.RunRecorder`` on a SQLite file in WAL mode with
  synchronous=FULL: every step is committed and fsynced before the next one starts. The WAL file
  is given its room first, as ``pibench station`` does once it serves (edge/store/wal_room.py),
  so the steps overwrite it in place (the report says whether the file grew during the runs);
* ``pibench sync=OFF``: the same, with the connection switched to synchronous=OFF. A diagnostic,
  never a station setting: the difference to the durable row is what the fsyncs cost, the
  difference to the in-memory row is the store's own CPU work;
* ``pibench in-memory``: the Runner with a recorder that keeps records in a dict: the engine alone;
* ``OpenHTF``: 50 phases, each ``@htf.plug(meter=...)`` + ``htf.Measurement(...).in_range(4.5,
  5.5).with_units(units.VOLT)``, ``test.execute(test_start=lambda: "SN-0001")``, console output
  off (OpenHTF's own ``--quiet`` switch: it skips the work rather than discarding its output, so
  if anything it flatters OpenHTF): OpenHTF's usual way of running a test, without its
  station server or web GUI.

Each worker process: imports, builds the plan/test (not timed as a run), then 1 first run of 50
steps, one untimed warm-up of the 1-step variant, then ``--warm`` rounds of (50-step run, 1-step
run) interleaved so both see the same noise; a durable worker also times a block of 49 reference
commits in each round (after the two runs in even rounds, before them in odd ones). Every run's
record is checked (PASS, 50 steps, every measurement PASS) outside the timed region. Reported, as
medians: first-run per step (T/50), warm per step (T/50), and warm marginal per step ((T50 - T1)/49,
the fixed per-run cost removed); the ratio pibench/OpenHTF; commits and WAL pages per run (read from
the WAL file after one extra, untimed run: a commit is a frame marked as a transaction's last,
however the SQL was issued; then a second connection reads every step back); and each process's peak
RSS (``VmHWM``: the high-water mark ``ru_maxrss`` reports, except that on Linux ru_maxrss also
carries the parent's peak over fork + exec). The pibench worker imports only what a station process
would (engine, plans, store, drivers.clock; not the textual HMI).

Workers run with bytecode caching on, into a cache in the temp dir (``PYTHONPYCACHEPREFIX``), and
an untimed first round of every configuration fills it: an installed station has its .pyc files,
and without this a ``PYTHONDONTWRITEBYTECODE`` environment would make each worker compile pibench
from source (time and peak RSS) while OpenHTF's wheel came compiled.

The raw ``os.fsync`` cost of the disk under the temp dir is printed too (after a 512 B write, and
after writing one average commit's WAL pages), and so is the cheapest durable SQLite commit on
the same disk (one short row, WAL + synchronous=FULL, WAL overwritten in place), so the durability
floor is visible: with one commit per step, a step can never cost less than that commit plus the
engine, and the report says when that floor alone is above the ratio goal.

Goals (issue 14, goal 2, replacing issue 4's "durable step <= 0.2x OpenHTF's", which no store that
fsyncs every step can meet on a disk where one fsync costs more than that). Goal 2's verdict is
printed by bench_station_steps.py, on the real ``pibench station`` process; here, the same figure
for the engine and store alone in a bench worker, which tells the store's part from the station's
(its API, its event stream): the durable step's warm
marginal time <= 1.2x a one-row SQLite commit into a growing table (``_engine_plans.OneRowCommits``:
fresh database, SQLite's defaults, WAL + synchronous=FULL), *paired*: each durable worker owns such
a database and, in every warm round, times 49 of its commits right next to that round's 50-step and
1-step runs; each round gives one ratio (T50 - T1) / (49 commits), and the goal is judged on the
median of those ratios (p10/p90 and min/max printed). The disk under this VM drifts on a scale of
seconds, so a reference timed seconds away from pibench's runs (the old way: once per round of
workers, between them) swung the ratio 1.00x-1.44x while pibench's step stayed put; that unpaired
ratio is still printed, labelled, for comparison. The cheapest in-place one-row commit is printed
beside it: the like-for-like figure for pibench's in-place steps (the reference's WAL grows, as with
SQLite's defaults; pibench's does not), not the goal's. CPU per step <= 0.2x OpenHTF's phase. The
wall-time ratios to OpenHTF and the worker's peak RSS are still printed (the station's own memory is
bench_station_rss.py's). The lines "goal met / NOT met" say which; a miss is never hidden. On a miss
the script profiles a warm durable run (time inside each recorder call, and cProfile's top
functions) to show where the time goes. No timing asserts: this is a measurement, not a test.

Set ``PIBENCH_BENCH_DIR`` to put the databases on another filesystem (the station's data disk);
on tmpfs fsync is free and the durable row would measure nothing real.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from _engine_plans import HIGH, LOW, RESULT_MARK, STEPS, VOLTS, OneRowCommits

GOAL_RATIO = 0.2  # CPU per step vs OpenHTF's phase
GOAL_COMMIT_RATIO = 1.2  # durable step vs a one-row SQLite commit into a growing table
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
# A worker imports the helper module (bytecode cached) rather than re-running this script, whose
# compilation on every start would inflate the peak RSS being measured.
WORKER = ("import sys; sys.path.insert(0, sys.argv[1]); "
          "from _engine_plans import worker_main; worker_main(sys.argv[2:])")

MODES = {
    "pibench-durable": "pibench, SQLite WAL + synchronous=FULL",
    "pibench-nosync": "pibench, SQLite synchronous=OFF (diag.)",
    "pibench-memory": "pibench, in-memory recorder",
    "openhtf": "OpenHTF 1.6.3",
}
MS = 1000.0


def run_worker(mode: str, workdir: str, count: int, pycache: str) -> dict:
    import json

    os.makedirs(workdir, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache  # ours: nothing is written into the checkout
    proc = subprocess.run([sys.executable, "-c", WORKER, BENCH_DIR, mode, workdir, str(count)],
                          capture_output=True, text=True, timeout=300, check=False, env=env)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK) and proc.returncode == 0:
            return json.loads(line[len(RESULT_MARK):])
    raise SystemExit(f"worker {mode} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n"
                     f"{proc.stderr[-4000:]}")


# -- the machine and its disk ---------------------------------------------------------------------

def filesystem_of(path: str) -> str:
    """'ext4 on /dev/vda' for the mount holding ``path`` (longest mount-point prefix)."""
    best = ("", "?", "?")
    real = os.path.realpath(path)
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            for line in f:
                device, mount, fstype = line.split()[:3]
                inside = real == mount or real.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best[0]):
                    best = (mount, fstype, device)
    except OSError:
        return "unknown filesystem"
    return f"{best[1]} on {best[2]}"


def cpu_name() -> str:
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip().lower(), value.strip())
    except OSError:
        pass
    # x86 says "model name"; a Pi's kernel says "Model: Raspberry Pi 4 Model B Rev 1.4".
    return fields.get("model name") or fields.get("model") or fields.get("hardware") or "?"


def fsync_cost(directory: str, size: int, append: bool, samples: int = 200) -> list[float]:
    """Sorted seconds of ``os.fsync`` right after writing ``size`` bytes, either appending (the
    file grows, like a fresh WAL) or overwriting in place (like a WAL reused after a checkpoint,
    a station's steady state)."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    data = b"x" * size
    try:
        if not append:  # allocate the blocks first so the timed writes only overwrite
            os.write(fd, data * 16)
            os.fsync(fd)
        spent = []
        for i in range(samples):
            if append:
                os.write(fd, data)
            else:
                os.pwrite(fd, data, (i % 16) * size)
            t0 = time.perf_counter()
            os.fsync(fd)
            spent.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        os.unlink(path)
    return sorted(spent)


def _one_row_commit_blocks(path: str, blocks: int, warm_up: int,
                           autocheckpoint: int | None = None) -> list[float]:
    """Seconds per commit of one-row commits (``OneRowCommits``: one short row, one table, WAL +
    synchronous=FULL) as the mean of each block of STEPS commits, the first ``warm_up`` blocks
    left out. A block mean, not a median of single commits: pibench's warm per-step figure is a
    50-step run's time / 50, so the slow tail a run includes must be in the reference too."""
    commits = OneRowCommits(path, autocheckpoint)
    try:
        out = [commits.block(STEPS) / STEPS for _ in range(blocks + warm_up)]
    finally:
        commits.close()
    return out[warm_up:]


def sqlite_commit_cost(directory: str, commits: int = 400) -> list[float]:
    """The cheapest durable SQLite commit there is: a small autocheckpoint interval and a
    warm-up past it (150 commits) make the timed commits overwrite the WAL in place (a growing
    WAL costs more), so this is the steady-state floor: no SQLite store commits a step for less
    on this disk."""
    return _one_row_commit_blocks(os.path.join(directory, "commit-probe.sqlite"),
                                  commits // STEPS, warm_up=3, autocheckpoint=100)


def sqlite_growing_commit_cost(directory: str, commits: int = 500) -> list[float]:
    """One-row commits into a growing table of a fresh database with SQLite's defaults (4 KiB
    pages, autocheckpoint at 1000 pages): goal 2's reference, unpaired (printed for comparison
    only; the goal is judged on the paired one each durable worker times next to its runs). The
    WAL grows through the commits, as it does in the bench's workers (each starts a fresh
    database: 11 runs never reach pibench's checkpoint). Measured once per round of workers,
    between them: seconds away from pibench's runs, which on a drifting disk is too far."""
    return _one_row_commit_blocks(os.path.join(directory, "growing-probe.sqlite"),
                                  commits // STEPS, warm_up=1)


def describe_fsync(spent: list[float]) -> str:
    return (f"{statistics.median(spent) * MS:.3f} ms (p10 {spent[len(spent) // 10] * MS:.3f}, "
            f"p90 {spent[len(spent) * 9 // 10] * MS:.3f})")


# -- figures --------------------------------------------------------------------------------------

def summarise(results: list[dict]) -> dict:
    med = statistics.median
    warm50 = [t for r in results for t in r["warm50"]]
    warm1 = [t for r in results for t in r["warm1"]]
    s = {
        "first": med(r["first"][0] for r in results) / STEPS,
        "warm": med(warm50) / STEPS,
        "marginal": (med(warm50) - med(warm1)) / (STEPS - 1),
        "run1": med(warm1),
        "proc_warm": sorted(med(r["warm50"]) / STEPS for r in results),
        "cpu": med(t for r in results for t in r["cpu50"]) / STEPS,
        "user": med(t for r in results for t in r["user50"]) / STEPS,
        "import": med(r["import_s"] for r in results),
        "rss_ready": med(r["rss_ready_mib"] for r in results),
        "rss_med": med(r["rss_peak_mib"] for r in results),
        "rss_max": max(r["rss_peak_mib"] for r in results),
    }
    if results[0].get("ref_block"):
        s["paired"] = paired(results)
    if "commits" in results[0]:
        for key in ("commits", "steps_in_file", "synchronous", "journal_mode", "page_size"):
            s[key] = sorted({r[key] for r in results})
        s["wal_room"] = min(r["wal_room"] for r in results)
        s["wal_growth"] = max(r["wal_growth"] for r in results)
        s["statements"] = med(r["statements"] for r in results)
        s["pages_per_commit"] = med(r["wal_frames"] / r["commits"] for r in results)
    return s


def paired(results: list[dict]) -> dict:
    """Goal 2's paired figures. Each durable worker's round i gives one pair: pibench's marginal
    step (T50_i - T1_i) / 49 and the mean of the 49 one-row commits timed right next to those two
    runs, in the same process, on the same disk; the pair's ratio is the one the disk's drift
    cannot reach, as both sides saw the same disk."""
    med = statistics.median
    marginal, reference, ratios, per_process = [], [], [], []
    by_order: tuple[list[float], list[float]] = ([], [])  # reference after the runs, before
    for r in results:
        mine = []
        for i, (t50, t1, block) in enumerate(zip(r["warm50"], r["warm1"], r["ref_block"],
                                                 strict=True)):
            m, ref = (t50 - t1) / (STEPS - 1), block / (STEPS - 1)
            marginal.append(m)
            reference.append(ref)
            mine.append(m / ref)
            by_order[i % 2].append(m / ref)  # _timing_protocol: even rounds time it after
        ratios.extend(mine)
        per_process.append(med(mine))
    ratios.sort()
    return {"ratio": med(ratios), "ratios": ratios, "marginal": med(marginal),
            "reference": med(reference), "proc_ratio": sorted(per_process),
            "after": med(by_order[0]), "before": med(by_order[1]) if by_order[1] else None}


def _verdict(ok: bool) -> str:
    return "goal met" if ok else "goal NOT met"


def _join(values: list) -> str:
    return "/".join(str(v) for v in values)


def report(summary: dict[str, dict], bare_rss: float, step_fsync: float, sqlite_floor: float,
           sqlite_growing: float, processes: int, warm: int) -> bool:
    d, o = summary["pibench-durable"], summary["openhtf"]
    print(f"\n{processes} fresh processes per configuration, each: 1 first run + {warm} warm runs "
          f"of {STEPS} steps, interleaved\nwith {warm} runs of 1 step (for the marginal cost). "
          "Medians; times in ms per step unless marked.\n")
    head = (f"{'configuration':<41}{'first':>7}{'warm':>7}{'margin.':>8}{'1 step':>8}"
            f"{'commits':>8}{'import':>8}{'peak RSS':>10}")
    print(head)
    print(f"{'':<41}{'T/50':>7}{'T/50':>7}{'T50-T1':>8}{'run ms':>8}{'/run':>8}{'ms':>8}"
          f"{'MiB':>10}")
    print("-" * len(head))
    for mode, label in MODES.items():
        s = summary[mode]
        print(f"{label:<41}{s['first'] * MS:>7.3f}{s['warm'] * MS:>7.3f}"
              f"{s['marginal'] * MS:>8.3f}{s['run1'] * MS:>8.2f}{_join(s.get('commits', [0])):>8}"
              f"{s['import'] * MS:>8.0f}{s['rss_med']:>10.1f}")
    print(f"{'bare interpreter (same venv, no imports)':<87}{bare_rss:>10.1f}")
    print("\nspread: each process's median warm T/50, ms/step")
    for mode, label in MODES.items():
        print(f"  {label:<41}" + " ".join(f"{x * MS:.3f}" for x in summary[mode]["proc_warm"]))
    pair = d["paired"]
    print(f"  {'durable / paired one-row commit, x':<41}"
          + " ".join(f"{x:.3f}" for x in pair["proc_ratio"]) + "  (each process's median ratio)")

    print(f"\nratio pibench / OpenHTF per step{'':<11}{'first':>7}{'warm':>7}{'margin.':>8}")
    for mode in ("pibench-durable", "pibench-nosync", "pibench-memory"):
        s = summary[mode]
        print(f"  {MODES[mode]:<41}{s['first'] / o['first']:>7.3f}{s['warm'] / o['warm']:>7.3f}"
              f"{s['marginal'] / o['marginal']:>8.3f}")

    print(f"\nCPU time per step, warm, whole process (all threads; wall - CPU = waiting){'':<5}"
          f"{'CPU':>7}{'wall':>7}{'CPU ratio':>10}")
    for mode, label in MODES.items():
        s = summary[mode]
        print(f"  {label:<41}{'':<34}{s['cpu'] * MS:>7.3f}{s['warm'] * MS:>7.3f}"
              f"{s['cpu'] / o['cpu']:>10.3f}")

    commits_ok = d["commits"] == [STEPS + 2] and d["steps_in_file"] == [STEPS]
    print(f"\ndurability (pibench, one extra untimed run per process): journal_mode="
          f"{_join(d['journal_mode'])}, synchronous={_join(d['synchronous'])} (2 = FULL);\n"
          f"  {_join(d['commits'])} commits per {STEPS}-step run, counted in the WAL file (begin + "
          f"one per step + finish = {STEPS + 2}), {d['pages_per_commit']:.1f} WAL pages of "
          f"{_join(d['page_size'])} B per commit, {d['statements']:.0f} SQL statements per run;\n"
          f"  every step read back from the file by a second connection: "
          f"{'yes' if d['steps_in_file'] == [STEPS] else 'NO'}. OpenHTF keeps its record in "
          "memory until the run ends: 0 commits.\n"
          f"  WAL file given its room first, as `pibench station` does (edge/store/wal_room.py): "
          f"{d['wal_room'] / 2**20:.2f} MiB; grown during the timed runs by "
          f"{d['wal_growth']} bytes at most"
          + (" (every step overwrote it in place)" if d["wal_growth"] == 0 else ""))

    engine = summary["pibench-memory"]["warm"]
    nosync = summary["pibench-nosync"]["warm"]
    floor = step_fsync * (STEPS + 2) / STEPS  # commits per step x raw fsync of a commit's pages
    print("\nwhere pibench's warm per-step time goes (differences between rows, ms/step):")
    for label, secs, note in (
        ("engine: runner, events, step function (in-memory row)", engine, ""),
        ("store's SQL work (sync=OFF row - in-memory row)", nosync - engine, ""),
        ("waiting for the disk (durable row - sync=OFF row)", d["warm"] - nosync,
         f"   raw fsync floor: {floor * MS:.3f}"),
    ):
        print(f"  {label:<56}{secs * MS:7.3f}{note}")
    # The same Python and SQLite code, in user CPU time: after each fdatasync the process resumes
    # with its caches cold (the kernel's I/O path and other processes ran meanwhile), so the
    # durable row's user time per step exceeds the sync=OFF row's. The step's fixed work costs
    # that much more in the durable row than the sync=OFF row says.
    n_user = summary["pibench-nosync"]["user"]
    print(f"  (user CPU per step: durable {d['user'] * MS:.3f}, sync=OFF {n_user * MS:.3f} = "
          f"{d['user'] / n_user:.2f}x: the same code, slower after each fdatasync's wait)")

    print("\ngoals (issue 14, goal 2; they replace issue 4's 'durable step <= 0.2x OpenHTF', which"
          " no store fsyncing every step can meet where one fsync costs more than that)")
    all_met = commits_ok
    rs = pair["ratios"]
    n = len(rs)
    print(f"  PAIRED: in each of the {n} warm rounds of the durable workers, "
          f"pibench's marginal step\n  (T50 - T1)/{STEPS - 1} and {STEPS - 1} one-row commits "
          "into a growing table (the worker's own fresh database, SQLite's\n  defaults, WAL + "
          "FULL) timed next to each other, same process, same disk; the ratio of each pair:")
    print(f"    median {pair['ratio']:.2f}x (p10 {rs[n // 10]:.2f}, p90 {rs[n * 9 // 10]:.2f}; "
          f"min {rs[0]:.2f}, max {rs[-1]:.2f}); medians of each side: pibench "
          f"{pair['marginal'] * MS:.3f} ms, one-row commit {pair['reference'] * MS:.3f} ms")
    if pair["before"] is not None:
        print(f"    (by order within a round: reference timed after the runs {pair['after']:.2f}x,"
              f" before them {pair['before']:.2f}x)")
    ok = pair["ratio"] <= GOAL_COMMIT_RATIO and commits_ok
    all_met &= ok
    print(f"  -> engine + store in a bench worker <= {GOAL_COMMIT_RATIO}x the one-row commit "
          f"into a growing table (paired median): {'yes' if ok else 'NO'}. Not the goal's "
          "verdict: goal 2 is\n     judged on the real `pibench station` process, by "
          "bench_station_steps.py")
    print("  unpaired, for comparison only (the durable row's marginal against references timed "
          "between workers,\n  seconds away, where the disk's drift decides the ratio; not "
          "judged):")
    for label, ref in (("one-row commit into a growing table", sqlite_growing),
                       ("cheapest in-place one-row commit (WAL reused)", sqlite_floor)):
        ratio = d["marginal"] / ref
        print(f"    warm marginal {d['marginal'] * MS:.3f} ms vs {label} "
              f"{ref * MS:.3f} ms = {ratio:.2f}x")
    engine_cpu = summary["pibench-memory"]["cpu"] / o["cpu"]
    ok = engine_cpu <= GOAL_RATIO
    all_met &= ok
    print(f"  engine CPU per step <= {GOAL_RATIO}x OpenHTF's phase (in-memory row: runner, events, "
          f"step): {summary['pibench-memory']['cpu'] * MS:.3f} vs {o['cpu'] * MS:.3f} ms = "
          f"{engine_cpu:.3f}x -> {_verdict(ok)}")
    print(f"  (the durable row's CPU, {d['cpu'] * MS:.3f} ms = {d['cpu'] / o['cpu']:.3f}x, adds "
          "the store's SQL and the kernel's share of each fdatasync: not the engine's)")
    print(f"  for the record, wall time per step vs OpenHTF (issue 4's old goal): warm "
          f"{d['warm'] / o['warm']:.2f}x, marginal {d['marginal'] / o['marginal']:.2f}x, first run "
          f"{d['first'] / o['first']:.2f}x")
    print(f"  worker peak RSS {d['rss_med']:.1f} MiB median, {d['rss_max']:.1f} max (OpenHTF "
          f"{o['rss_med']:.1f}): a bench worker, not the station; the station's memory is "
          "bench_station_rss.py's")
    if not commits_ok:
        print("  NOT every step was committed exactly once: the ratios above do not count.")
    print_floors(o["warm"], engine, floor, sqlite_floor, GOAL_RATIO * o["warm"])
    return all_met


def print_floors(openhtf: float, engine: float, fsync_floor: float, sqlite_floor: float,
                 budget: float) -> None:
    """What committing every step costs at the very least on this disk, measured in this run,
    so a miss of the ratio goal can be told apart from a slow store."""
    print(f"\nthe least a step committed before the next can cost here (ms/step; x OpenHTF warm "
          f"{openhtf * MS:.3f}):")
    rows = (
        ("raw fsync of one commit's WAL bytes (no SQLite, no engine)", fsync_floor),
        ("one-row SQLite commit, WAL + FULL (no engine)", sqlite_floor),
        ("pibench engine + that one-row commit", engine + sqlite_floor),
    )
    for label, secs in rows:
        print(f"  {label:<60}{secs * MS:7.3f}  {secs / openhtf:5.2f}x")
    if engine + sqlite_floor > budget:
        print(f"  NOTE: {GOAL_RATIO}x OpenHTF is {budget * MS:.3f} ms/step, below what the "
              "engine plus the cheapest possible SQLite commit costs on this disk: no SQLite "
              "store committing every step could meet issue 4's old wall-time goal here"
              + (", nor any store fsyncing every step." if fsync_floor > budget else "."))


def print_profile(prof: dict) -> None:
    sp = prof["split"]
    wall = sp["wall"]

    def row(label: str, secs: float) -> None:
        print(f"  {label:<56}{secs * MS:7.2f} ms/run {secs / STEPS * MS:7.3f} ms/step "
              f"{secs / wall:6.1%}")

    print(f"\nprofile: a warm durable {STEPS}-step run taken apart (mean of {prof['runs']} runs; "
          f"wall {wall * MS:.2f} ms = {wall / STEPS * MS:.3f} ms/step; perf_counter around each "
          "recorder call and SQL statement, no profiler):")
    parts = ("record_step", "finish_run", "begin_run", "has_runs_for")
    row("recorder.record_step (50 calls)", sp.get("record_step", 0.0))
    row("recorder.finish_run (reads the run back, outbox row)", sp.get("finish_run", 0.0))
    row("recorder.begin_run", sp.get("begin_run", 0.0))
    row("recorder.has_runs_for (retest lookup)", sp.get("has_runs_for", 0.0))
    row("everything else: engine, events, step, these timers", wall - sum(sp.get(k, 0.0)
                                                                          for k in parts))
    print("  by SQL statement, inside those recorder calls (calls per run):")
    for sql, secs, calls in prof["sql"][:8]:
        row(f"  {sql} ({calls:.0f})", secs)
    print("cProfile, top by own time (it inflates Python-level costs relative to time spent "
          "waiting inside C calls such as fsync):")
    for line in prof["cprofile"].splitlines():
        if line.strip() and not line.lstrip().startswith(("Ordered by", "List reduced")):
            print("  " + line.rstrip().replace(os.path.dirname(BENCH_DIR) + "/", ""))


def main(argv: list[str]) -> int:
    import argparse
    import shutil
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=7, help="fresh processes per config")
    parser.add_argument("--warm", type=int, default=10, help="warm runs per process")
    parser.add_argument("--profile", action="store_true", help="profile even if the goal is met")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    root = tempfile.mkdtemp(prefix="pibench-engine-bench-", dir=os.environ.get("PIBENCH_BENCH_DIR"))
    try:
        fs = filesystem_of(root)
        print(f"Engine bench: {STEPS}-step plan, simulated meter {VOLTS} V vs {LOW}..{HIGH} V, "
              "one measurement per step")
        print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        print(f"databases in {root} ({fs})")
        if fs.startswith(("tmpfs", "ramfs")):
            print("WARNING: a RAM filesystem, where fsync costs nothing. Set PIBENCH_BENCH_DIR "
                  "to a directory on the station's disk.")
        print(f"raw os.fsync after a 512 B write, median of 200: "
              f"{describe_fsync(fsync_cost(root, 512, append=False))} in place, "
              f"{describe_fsync(fsync_cost(root, 512, append=True))} appending")

        pycache = os.path.join(root, "pycache")
        for mode in MODES:  # fills the bytecode cache; figures discarded
            run_worker(mode, os.path.join(root, f"{mode}-prime"), 0, pycache)
        results: dict[str, list[dict]] = {mode: [] for mode in MODES}
        growing: list[float] = []  # unpaired reference (for comparison), between workers
        in_place: list[float] = []
        for p in range(args.processes):
            for mode in MODES:  # round-robin: a noisy spell spreads over every configuration
                workdir = os.path.join(root, f"{mode}-{p}")
                results[mode].append(run_worker(mode, workdir, args.warm, pycache))
            growing.extend(sqlite_growing_commit_cost(root))  # means of 50 commits each
            in_place.extend(sqlite_commit_cost(root))
        bare = min(run_worker("bare", root, 0, pycache)["rss_peak_mib"] for _ in range(3))
        summary = {mode: summarise(rs) for mode, rs in results.items()}

        # The floor of a durable step: fsync after writing what one commit writes to the WAL.
        d = summary["pibench-durable"]
        pages = max(1, round(d["pages_per_commit"]))
        commit_bytes = pages * (d["page_size"][0] + 24)  # a WAL frame: 24 B header + page
        commit_fsync = fsync_cost(root, commit_bytes, append=False)
        print(f"raw os.fsync after writing one average commit's WAL frames ({pages} x "
              f"{d['page_size'][0]} B) in place, median of 200: {describe_fsync(commit_fsync)}")

        sqlite_floor = statistics.median(in_place)
        sqlite_growing = statistics.median(growing)
        met = report(summary, bare, statistics.median(commit_fsync), sqlite_floor,
                     sqlite_growing, args.processes, args.warm)
        if not met or args.profile:
            print_profile(run_worker("profile", os.path.join(root, "profile"), 10, pycache))
        print(f"\nbench took {time.perf_counter() - started:.0f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
