"""The worker side of ``bench_engine.py``: the 50-step meter plan in pibench and in OpenHTF, and
the code one fresh worker process runs to time it.

Kept out of ``bench_engine.py`` so a worker imports it from its cached bytecode: a script run
as ``__main__`` is compiled on every start, and compiling ~600 lines adds a few MiB to the peak
RSS we are measuring. Only the standard library is imported at module level; pibench or OpenHTF
is imported by the worker that needs it (and timed as its import cost).

A worker prints one line, ``BENCH-RESULT {json}``, on stdout.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from types import MappingProxyType

STEPS = 50
SERIAL = "SN-0001"
VOLTS, LOW, HIGH = 5.0, 4.5, 5.5
RESULT_MARK = "BENCH-RESULT "


def peak_rss_mib() -> float:
    """This process's peak resident set, MiB.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ru_maxrss over from the parent across
    fork + exec (a worker started by a 200 MiB parent reports >= 200 MiB), while VmHWM belongs to
    the memory map exec created. Outside Linux, ru_maxrss is the best there is.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # macOS: bytes; Linux: KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


# -- the plan, as a pibench station would load it -------------------------------------------------

def plan_toml(steps: int) -> str:
    head = (
        '[plan]\nname = "meter bench"\nversion = "1"\nproduct = "BENCH"\nrevision = "A"\n'
        'serial_pattern = "SN-[0-9]{4}"\nfixture = "bench-meter"\n'
    )
    step = (
        '\n[[step]]\nname = "v_{i:03d}"\ntype = "meter_voltage"\nparams = {{ meter = "meter" }}\n'
        '[[step.measurement]]\nname = "voltage"\nunits = "V"\nlow = {low}\nhigh = {high}\n'
    )
    return head + "".join(step.format(i=i, low=LOW, high=HIGH) for i in range(steps))


class SimMeter:
    """The DUT's rail as the station's meter sees it: always 5.0 V."""

    def read_voltage(self) -> float:
        return VOLTS


class MeterFixture:
    """A fixture with one resource, the meter. ``resources`` lets the Runner check the plan's
    references when it is built, as it does on a station."""

    fixture_id = "bench-fx-1"
    kind = "bench-meter"
    resources = MappingProxyType({"meter": "meter"})

    def __init__(self) -> None:
        self._parts = {"meter": SimMeter()}

    def resource(self, name: str) -> SimMeter:
        return self._parts[name]


class TimedConnection:
    """Forwards to a sqlite3 connection, adding up the wall time of each kind of statement
    (COMMIT is where SQLite fdatasyncs the WAL under synchronous=FULL). Profile only, never in
    the timed runs."""

    def __init__(self, conn) -> None:
        self._conn = conn
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def _timed(self, method, sql: str, args):
        t0 = time.perf_counter()
        try:
            return method(sql, *args)
        finally:
            key = " ".join(sql.split())
            key = key if len(key) <= 48 else key[:45] + "..."
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - t0
            self.calls[key] = self.calls.get(key, 0) + 1

    def execute(self, sql, *args):
        return self._timed(self._conn.execute, sql, args)

    def executemany(self, sql, *args):
        return self._timed(self._conn.executemany, sql, args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


class TimedRecorder:
    """Wraps a recorder and adds up the wall time spent in each of its methods (profile only)."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.seconds: dict[str, float] = {}

    def __getattr__(self, name):
        method = getattr(self._inner, name)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

        return timed


def pibench_setup(mode: str, workdir: str, timed: bool = False):
    """Everything a station does before the operator presses Start. Returns (runners by step
    count, recorder, sqlite connection or None, import seconds)."""
    t0 = time.perf_counter()
    from drivers.clock import MonotonicClock
    from edge.engine import Runner, StationInfo
    from edge.engine.memory import MemoryRecorder
    from edge.plans import Registry, load_plan, resource

    conn = None
    if mode == "pibench-memory":
        recorder = MemoryRecorder(keep=False)
        import_s = time.perf_counter() - t0
    else:
        from edge.store import RunRecorder, open_store

        import_s = time.perf_counter() - t0
        conn = open_store(os.path.join(workdir, "results.sqlite3"))
        if mode == "pibench-nosync":
            conn.execute("PRAGMA synchronous=OFF")  # diagnostic only: not a station setting
        if timed:
            conn = TimedConnection(conn)
        recorder = RunRecorder(conn)
        # What `pibench station` does once it serves (edge.store.wal_room): the WAL file gets its
        # room before the first board, so steps overwrite it in place from the first run on.
        recorder.reserve_wal_room()
    if timed:
        recorder = TimedRecorder(recorder)

    registry = Registry()  # private: nothing leaks into (or from) the default registry

    @registry.step_type("meter_voltage", params={"meter": resource("meter")},
                        measurements=("voltage",))
    def meter_voltage(ctx):
        ctx.measure("voltage", ctx.resource("meter").read_voltage())

    fixture = MeterFixture()
    station = StationInfo("bench-station", "bench")
    clock = MonotonicClock()  # what a station on real hardware uses
    runners = {}
    for n in (STEPS, 1):
        path = os.path.join(workdir, f"plan{n}.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(plan_toml(n))
        plan = load_plan(path, registry=registry, resources=fixture.resources)
        runners[n] = Runner(plan, fixture, recorder, clock=clock, station=station)
    return runners, recorder, conn, import_s


def check_pibench(record, steps: int) -> None:
    from edge.records import Outcome

    ms = [m for s in record.steps for m in s.measurements]
    if (record.outcome is not Outcome.PASS or len(record.steps) != steps or len(ms) != steps
            or any(m.outcome is not Outcome.PASS or m.value != VOLTS for m in ms)):
        raise SystemExit(f"pibench record is not the expected PASS of {steps} steps: {record}")


def wal_commits(wal_path: str) -> tuple[int, int]:
    """(frames, commits) in a WAL file, read from the file itself: a transaction's last frame
    carries the database size after the commit in its header (bytes 4-8), every other frame 0,
    so the count holds however the statements were issued (BEGIN ... COMMIT, or one statement
    in autocommit mode, which has no COMMIT statement to count). Frames left from before the
    last WAL reset (their salts differ from the header's) are not this WAL's."""
    import struct

    with open(wal_path, "rb") as f:
        header = f.read(32)
        if len(header) < 32:
            return 0, 0
        page_size = struct.unpack(">I", header[8:12])[0]
        salts = header[16:24]
        frames = commits = 0
        while len(frame := f.read(24)) == 24 and frame[8:16] == salts:
            frames += 1
            commits += struct.unpack(">I", frame[4:8])[0] != 0
            f.seek(page_size, os.SEEK_CUR)
    return frames, commits


def durability_facts(runners, conn, workdir: str) -> dict:
    """One extra 50-step run (not timed): how many transactions it committed and how many WAL
    pages they wrote (read from the WAL file), how many statements it ran (SQLite's statement
    trace), and whether every step is in the file as seen by a second connection."""
    import sqlite3

    # Empty the WAL first so the frames read afterwards are this run's alone (the run does not
    # checkpoint: a few hundred frames, far below the checkpoint threshold).
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        record = runners[STEPS].run(SERIAL)
    finally:
        conn.set_trace_callback(None)
    check_pibench(record, STEPS)
    path = os.path.join(workdir, "results.sqlite3")
    wal_frames, commits = wal_commits(path + "-wal")
    other = sqlite3.connect(path)
    try:
        stored = other.execute("SELECT count(*) FROM steps WHERE run_id = ?",
                               (record.meta.run_id,)).fetchone()[0]
    finally:
        other.close()
    return {
        "commits": commits,
        "statements": len(statements),
        "wal_frames": wal_frames,
        "page_size": conn.execute("PRAGMA page_size").fetchone()[0],
        "steps_in_file": stored,
        "synchronous": conn.execute("PRAGMA synchronous").fetchone()[0],
        "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
    }


class OneRowCommits:
    """Goal 2's reference, what "a one-row SQLite commit" means in this bench: one short row
    (100 characters) inserted into one table that grows, ``BEGIN IMMEDIATE; INSERT; COMMIT``,
    on a fresh database with SQLite's defaults (4 KiB pages, autocheckpoint at 1000 pages) in
    WAL mode with synchronous=FULL. ``autocheckpoint`` is only for the cheapest in-place
    variant (bench_engine.py's floor line). Both the paired reference (inside each durable
    worker) and the unpaired one (between workers) use this class, so they commit the same."""

    ROW = ("x" * 100,)

    def __init__(self, path: str, autocheckpoint: int | None = None) -> None:
        import sqlite3

        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        if autocheckpoint is not None:
            self._conn.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")
        self._conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")

    def block(self, commits: int) -> float:
        """Wall seconds for ``commits`` one-row commits in a row."""
        execute, row = self._conn.execute, self.ROW
        t0 = time.perf_counter()
        for _ in range(commits):
            execute("BEGIN IMMEDIATE")
            execute("INSERT INTO t (body) VALUES (?)", row)
            execute("COMMIT")
        return time.perf_counter() - t0

    def close(self) -> None:
        import contextlib

        self._conn.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path + suffix)


def _timing_protocol(run, warm: int, reference: OneRowCommits | None = None
                     ) -> dict[str, list[float]]:
    """1 first 50-step run, an untimed first run of the 1-step variant, then ``warm`` rounds of
    (50 steps, 1 step), interleaved so both see the same machine noise.

    Each warm 50-step run is also measured in CPU time of the whole process (all threads:
    OpenHTF's phase threads included). Wall time minus CPU time is time spent waiting, which
    for pibench is mostly the disk's fsync: the figure separates the station's own cost from
    the disk's.

    With a ``reference`` (the durable worker), each round also times a block of STEPS - 1
    one-row commits into the reference's own database, as many commits as the round's marginal
    (T50 - T1) covers steps, right next to that round's two runs: the paired measurement of
    goal 2, one pibench marginal and one reference taken at the same moment, in the same
    process, on the same disk. The block goes after the runs in even rounds and before them in
    odd ones, so neither side always follows the other. One untimed block of STEPS commits comes
    first, as the unpaired reference leaves out its first block."""
    timings: dict[str, list[float]] = {"first": [run(STEPS)], "warm50": [], "warm1": [],
                                       "cpu50": [], "user50": [], "ref_block": []}
    run(1)
    if reference is not None:
        reference.block(STEPS)  # warm-up, like the unpaired reference's first block
    for i in range(warm):
        if reference is not None and i % 2:
            timings["ref_block"].append(reference.block(STEPS - 1))
        cpu0, user0 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
        timings["warm50"].append(run(STEPS))
        timings["cpu50"].append(time.process_time() - cpu0)
        # User time alone: the Python and SQLite work, without the kernel's share of fdatasync.
        timings["user50"].append(resource.getrusage(resource.RUSAGE_SELF).ru_utime - user0)
        timings["warm1"].append(run(1))
        if reference is not None and not i % 2:
            timings["ref_block"].append(reference.block(STEPS - 1))
    return timings


def worker_pibench(mode: str, workdir: str, warm: int) -> dict:
    runners, _recorder, conn, import_s = pibench_setup(mode, workdir)
    rss_ready = peak_rss_mib()
    clock = time.perf_counter

    def run(n: int) -> float:
        t0 = clock()
        record = runners[n].run(SERIAL)
        elapsed = clock() - t0
        check_pibench(record, n)
        return elapsed

    # Goal 2's paired reference: this worker's own one-row-commit database, fresh, next to the
    # store's file (same directory, same disk), opened after the ready RSS is read.
    reference = (OneRowCommits(os.path.join(workdir, "reference.sqlite"))
                 if mode == "pibench-durable" else None)
    wal = os.path.join(workdir, "results.sqlite3-wal")
    wal_before = os.path.getsize(wal) if conn is not None else 0
    try:
        timings = _timing_protocol(run, warm, reference)
    finally:
        if reference is not None:
            reference.close()
    result = {"import_s": import_s, "rss_ready_mib": rss_ready, **timings}
    if conn is not None:  # 0 when every timed step overwrote the WAL's room in place
        result["wal_growth"] = os.path.getsize(wal) - wal_before
        result["wal_room"] = wal_before
    result["rss_peak_mib"] = peak_rss_mib()  # before the durability check: that run is extra
    if conn is not None:
        result.update(durability_facts(runners, conn, workdir))
    return result


# -- the same plan in OpenHTF ---------------------------------------------------------------------

def openhtf_setup():
    sys.argv = sys.argv[:1]  # OpenHTF parses the command line in Test(); ours is not for it
    t0 = time.perf_counter()
    import openhtf as htf
    from openhtf.plugs import BasePlug
    from openhtf.util import console_output, units

    import_s = time.perf_counter() - t0
    console_output.CLI_QUIET = True  # OpenHTF's --quiet: skips the banner rather than hiding it

    class DummyMeter(BasePlug):
        def read_voltage(self) -> float:
            return VOLTS

    def make_phase(i: int):
        name = f"v_{i:03d}"

        @htf.PhaseOptions(name=name)
        @htf.plug(meter=DummyMeter)
        @htf.measures(htf.Measurement(name).in_range(LOW, HIGH).with_units(units.VOLT))
        def phase(test, meter):
            test.measurements[name] = meter.read_voltage()

        return phase

    last: list = []  # the output callback's only job: let us check the record
    tests = {}
    for n in (STEPS, 1):
        test = htf.Test(*(make_phase(i) for i in range(n)))
        test.add_output_callbacks(last.append)
        tests[n] = test
    return tests, last, import_s


def worker_openhtf(warm: int) -> dict:
    tests, last, import_s = openhtf_setup()
    rss_ready = peak_rss_mib()
    clock = time.perf_counter

    def run(n: int) -> float:
        last.clear()
        t0 = clock()
        passed = tests[n].execute(test_start=lambda: SERIAL)
        elapsed = clock() - t0
        record = last[-1]
        phases = record.phases  # the start trigger is recorded as one more phase
        ms = [m for p in phases for m in p.measurements.values()]
        if (not passed or record.outcome.name != "PASS" or len(phases) != n + 1
                or len(ms) != n or any(m.outcome.name != "PASS" for m in ms)):
            raise SystemExit(f"OpenHTF record is not the expected PASS of {n} phases")
        return elapsed

    result = {"import_s": import_s, "rss_ready_mib": rss_ready, **_timing_protocol(run, warm)}
    result["rss_peak_mib"] = peak_rss_mib()
    return result


# -- where the time goes --------------------------------------------------------------------------

def worker_profile(workdir: str, runs: int) -> dict:
    """A warm durable run taken apart: wall time inside each recorder call and inside COMMIT
    (plain perf_counter, no profiler distortion), then cProfile over the same kind of runs."""
    import cProfile
    import io
    import pstats

    runners, recorder, conn, _ = pibench_setup("pibench-durable", workdir, timed=True)
    for _ in range(3):
        runners[STEPS].run(SERIAL)
    recorder.seconds.clear()
    conn.seconds.clear()
    conn.calls.clear()
    t0 = time.perf_counter()
    for _ in range(runs):
        runners[STEPS].run(SERIAL)
    wall = time.perf_counter() - t0
    split = {"wall": wall / runs, **{k: v / runs for k, v in recorder.seconds.items()}}
    sql = sorted(((k, v / runs, conn.calls[k] / runs) for k, v in conn.seconds.items()),
                 key=lambda row: -row[1])

    # cProfile on a fresh, unwrapped setup: the timers above would show up in its listing.
    plain = os.path.join(workdir, "plain")
    os.makedirs(plain, exist_ok=True)
    runners, _recorder, _conn, _ = pibench_setup("pibench-durable", plain)
    for _ in range(3):
        runners[STEPS].run(SERIAL)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        runners[STEPS].run(SERIAL)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(12)
    return {"split": split, "sql": sql, "cprofile": out.getvalue(), "runs": runs}


def worker_main(argv: list[str]) -> None:
    mode, workdir, count = argv[0], argv[1], int(argv[2])
    if mode == "bare":
        result: dict = {"rss_peak_mib": peak_rss_mib()}
    elif mode == "openhtf":
        result = worker_openhtf(count)
    elif mode == "profile":
        result = worker_profile(workdir, count)
    else:
        result = worker_pibench(mode, workdir, count)
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
