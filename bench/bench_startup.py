"""Start-up of the real pibench commands against ``python -c pass``, bytecode cached.

Run:  .venv/bin/python bench/bench_startup.py             (about 2 min)
      .venv/bin/python bench/bench_startup.py --rounds 30 (steadier)

Two layouts, each with its own ``python -c pass``, both visited in every round:

* the dev venv (``.venv``, pibench an editable install: its ``site`` imports setuptools' editable
  finder at every start, which issue 14's figures included);
* installed, as ``install.sh`` does it (``installed_layout``): a wheel of the sources installed
  with ``pip --no-deps`` into a fresh venv with no finder, its dependencies from ``.venv`` by one
  ``.pth`` path line. The goals are judged on this one: it is what a station runs.

Measured, as fresh processes, visited round-robin ``--rounds`` times, wall time from ``Popen`` to
exit (or to the prompt), medians:

* ``python -c pass``: the reference, the least any Python command costs here;
* ``pibench run``: the installed ``pibench`` script testing one simulated board (PowerBank-Foolish,
  a new serial each time, on the simulated station) to its verdict and exit;
* ``pibench history``: listing the last runs;
* ``pibench station`` start: from ``Popen`` to the scan prompt printed on stdout (the station has
  opened and recovered its store, loaded the products and is reading a serial); its stdin then
  closes and it exits (not timed). Twice: with the simulated station's default configuration
  (no sync), and with the generic sync configured (aimed at a closed port on 127.0.0.1: the
  worker starts, and with it the HTTP stack, as on a real station).

Bytecode: the environment may set ``PYTHONDONTWRITEBYTECODE=1`` (this project's does), which makes
every start compile pibench from source, as no installed station does. The bench removes that
variable for every measured command and sets ``PYTHONPYCACHEPREFIX`` to a cache in its temp dir,
then fills that cache before timing: ``python -m compileall`` over ``edge/`` and ``drivers/``, and
one untimed run of every command (which compiles the standard library and dependencies it
imports into the same cache). Every timed command then loads its modules from cached bytecode.
The same untimed runs fill the TOML cache in the bench's data directory (``edge/tomlcache.py``:
station.toml, plans and fixtures as parsed), as every start but a station's first after an
install or an edit finds it; the bench prints whether the timed runs rewrote any entry (they
parsed) and whether any command it lists imported ``tomllib``.

Also printed, as figures the machine's load moves less than wall time: the CPU time of each
command's process (user + system, from ``getrusage`` of the finished child, median), with its
ratio to ``python -c pass``'s; and where the CPU time of ``pibench run`` goes (``-X importtime``:
the interpreter's own start, the sum of pibench's imports, and what remains: the run itself and
the exit), so a change can be judged without waiting for a quiet machine.

A large database: the same ``pibench run`` and station start against a result database of
``--big-runs`` (default 20,000) runs (about 70 MB, built by cloning one real run), as a station
has after a year or two. A station start checks the whole file (``PRAGMA quick_check``) every
time; ``pibench run`` only on the first start after a boot, or after an owner that died
(``edge/store/integrity.py``): the figures show what each costs there. ``--big-runs 0`` skips it.

Also printed: how many modules each command imports and whether any of the libraries it must not
load is among them (``python -X importtime``, one untimed run each); the same rule is asserted by
``tests/e2e/test_startup_imports.py``, without any time.

Goals (issue 14, goal 3): ``pibench run`` <= 6x ``python -c pass``; station start to the scan
prompt <= 8x (judged with and without a sync configured).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
PRODUCT = "PowerBank-Foolish"
GOAL_RUN, GOAL_STATION = 6.0, 8.0
# Libraries these commands must not import (HTTP stack, inventory client, serial port, HMI, and
# hardware libraries: a simulated station needs none, its Pi inputs are drivers/gpio/sim_lines).
FORBIDDEN = ("requests", "urllib3", "inventree", "serial", "textual", "rich", "gpiozero",
             "colorzero", "lgpio", "smbus2")
MS = 1000.0


def write_sync_config(root: str) -> str:
    """A station.toml with the generic sync aimed at a closed loopback port: the station loads
    and starts its sync worker, whose deliveries are refused (nothing leaves the machine)."""
    token = os.path.join(root, "inventory.token")
    with open(token, "w", encoding="utf-8") as f:
        f.write("startup-bench-token\n")
    os.chmod(token, 0o600)
    path = os.path.join(root, "station.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("[station]\nid = 'startup-bench'\n[sync]\nbackend = 'generic'\n"
                "url = 'http://127.0.0.1:9/pibench/results'\ntoken_file = 'inventory.token'\n")
    return path


def fill_big_database(data: str, runs: int) -> None:
    """``runs`` finished runs in ``data``'s result database: its last real run cloned with fresh
    ids, serials and sequence numbers (its ``runs``, ``step_results`` and ``outbox`` rows), in
    one transaction."""
    import sqlite3

    from edge.store.step_codec import run_key_range, step_key

    db = os.path.join(data, "results.sqlite3")
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        cols = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
                for t in ("runs", "step_results", "outbox")}

        def rows(sql: str, *params: object) -> list[dict]:
            return [dict(zip([d[0] for d in cur.description], r, strict=True))
                    for cur in [conn.execute(sql, params)] for r in cur.fetchall()]

        run = rows("SELECT * FROM runs ORDER BY seq DESC LIMIT 1")[0]
        steps = rows("SELECT * FROM step_results WHERE id >= ? AND id < ?",
                     *run_key_range(run["seq"]))
        outbox = rows("SELECT * FROM outbox WHERE run_id = ?", run["run_id"])
        for i in range(1, runs):
            rid, seq = str(uuid.uuid4()), run["seq"] + i
            serial = f"PBF-{900000 + i % 99999:06d}"
            # In the recorder's order (the schema's triggers hold it to it): the run RUNNING,
            # its steps, its verdict, then its delivery.
            new = [("runs", {**run, "run_id": rid, "seq": seq, "serial": serial,
                             "outcome": "RUNNING", "ended_utc": None, "duration_s": None,
                             "error": None})]
            new += [("step_results", {**st, "id": step_key(seq, st["step_index"]),
                                      "run_seq": seq}) for st in steps]
            new.append(("verdict", {}))
            for ob in outbox:
                doc = json.loads(ob["payload"])
                doc.update(run_id=rid, serial=serial)
                new.append(("outbox", {**ob, "id": None, "run_id": rid,
                                       "payload": json.dumps(doc)}))
            for table, row in new:
                if table == "verdict":
                    conn.execute("UPDATE runs SET outcome = ?, ended_utc = ?, duration_s = ?, "
                                 "error = ? WHERE run_id = ?", (run["outcome"], run["ended_utc"],
                                                                run["duration_s"], run["error"],
                                                                rid))
                    continue
                names = [c for c in cols[table] if c in row]
                conn.execute(f"INSERT INTO {table} ({','.join(names)}) VALUES "
                             f"({','.join('?' * len(names))})", [row[c] for c in names])
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


class Layout:
    """Where the measured commands come from: an interpreter, its ``pibench`` script, the
    directories holding the ``edge`` and ``drivers`` it imports, and the working directory the
    commands run in (not the repository's, where ``python -m`` would find its sources)."""

    def __init__(self, name: str, bin_dir: str, packages: str, cwd: str) -> None:
        self.name, self.cwd = name, cwd
        self.python = os.path.join(bin_dir, "python")
        self.pibench = os.path.join(bin_dir, "pibench")
        self.packages = packages


DEV = Layout("dev venv (editable install)", BIN, ROOT, ROOT)


def installed_layout(root: str) -> tuple[Layout, str]:
    """pibench installed as ``install.sh`` installs it (a wheel, ``pip install --no-deps
    --no-index``: no editable finder in ``site``) into a fresh venv of the same base interpreter
    (``--without-pip``) whose dependencies come from this repository's ``.venv`` through one
    plain path line in a ``.pth`` file (a path line imports nothing, unlike the editable
    install's). The wheel is built from a copy of the sources, with build isolation (setuptools
    >= 77 as pyproject.toml asks; a few seconds). If it cannot be built, the same venv gets the
    repository root as a second path line instead (the sources imported in place, still without
    a finder), and the bench says so."""
    venv = os.path.join(root, "appvenv")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", venv], check=True)
    site = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    deps = sysconfig_purelib()
    src, wheels = os.path.join(root, "src"), os.path.join(root, "wheel")
    os.mkdir(src)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src)
    for pkg in ("edge", "drivers", "hmi"):
        shutil.copytree(os.path.join(ROOT, pkg), os.path.join(src, pkg),
                        ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = subprocess.run([*pip, "wheel", "-q", "--no-deps", "--no-cache-dir", "-w", wheels, src],
                           capture_output=True, text=True, check=False)
    wheel = [os.path.join(wheels, f) for f in os.listdir(wheels)] if built.returncode == 0 else []
    with open(os.path.join(site, "pibench-deps.pth"), "w", encoding="utf-8") as f:
        f.write(deps + "\n")
        if not wheel:
            f.write(ROOT + "\n")
    if wheel:
        subprocess.run([*pip, "--python", os.path.join(venv, "bin", "python"), "install", "-q",
                        "--no-deps", "--no-index", "--no-cache-dir", *wheel], check=True)
        return (Layout("installed (wheel, no finder)", os.path.join(venv, "bin"), site, root),
                "a wheel built from a copy of the sources, installed with pip --no-deps")
    script = os.path.join(venv, "bin", "pibench")  # what pip writes for the console script
    with open(script, "w", encoding="utf-8") as f:
        f.write(f"#!{os.path.join(venv, 'bin', 'python')}\nimport sys\n"
                "from edge.entry import console_main\nsys.exit(console_main())\n")
    os.chmod(script, 0o755)
    return (Layout("installed (.pth, no finder)", os.path.join(venv, "bin"), ROOT, root),
            "NO wheel (build failed: " + (built.stderr.strip().splitlines() or ["?"])[-1]
            + "): the sources by a .pth path line")


def sysconfig_purelib() -> str:
    import sysconfig

    return sysconfig.get_paths()["purelib"]


class Bench:
    def __init__(self, root: str, layout: Layout = DEV, cache: str | None = None) -> None:
        os.makedirs(root, exist_ok=True)
        self.layout = layout
        self.data = os.path.join(root, "data")
        self.sync_config = write_sync_config(root)
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env["PYTHONPYCACHEPREFIX"] = cache or os.path.join(root, "pycache")
        self.serial = 0
        self.cpu: dict[str, list[float]] = {}  # CPU seconds of each timed process, by command

    def common(self) -> list[str]:
        return ["--data-dir", self.data, "--lang", "en"]

    def _note_cpu(self, before: resource.struct_rusage) -> None:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.last_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    def run_argv(self) -> list[str]:
        self.serial += 1
        return [self.layout.pibench, *self.common(), "run", "--product", PRODUCT, "--serial",
                f"PBF-{self.serial:06d}"]

    def history_argv(self) -> list[str]:
        return [self.layout.pibench, *self.common(), "history", "--last", "5"]

    def station_argv(self) -> list[str]:
        return [self.layout.pibench, *self.common(), "station", "--product", PRODUCT]

    def compile_all(self) -> None:
        """Fills the bytecode cache with pibench's modules, as a station has them compiled."""
        subprocess.run([self.layout.python, "-m", "compileall", "-q",
                        *(os.path.join(self.layout.packages, p) for p in ("edge", "drivers"))],
                       env=self.env, check=True, stdout=subprocess.DEVNULL, cwd=self.layout.cwd)

    def timed(self, argv: list[str]) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(argv, env=self.env, capture_output=True, check=False,
                              cwd=self.layout.cwd)
        spent = time.perf_counter() - t0
        self._note_cpu(before)
        if proc.returncode != 0:
            raise SystemExit(f"{argv} exited {proc.returncode}:\n{proc.stderr.decode()[-2000:]}")
        return spent

    def station_to_prompt(self, sync: bool = False) -> float:
        """Popen to the scan prompt on stdout; then stdin closes and the station exits."""
        config = ["--config", self.sync_config] if sync else []
        argv = [self.layout.pibench, *config, *self.common(), "station", "--product", PRODUCT]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.PIPE, cwd=self.layout.cwd,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen = b""
        assert proc.stdout is not None and proc.stdin is not None
        while b"Scan the serial" not in seen or not seen.endswith(b"> "):
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                proc.wait()
                raise SystemExit(f"station exited {proc.returncode} before its prompt:\n"
                                 f"{seen.decode()}\n{proc.stderr.read().decode()[-2000:]}")
            seen += chunk
        spent = time.perf_counter() - t0
        proc.stdin.close()
        proc.stdout.read()
        proc.stderr.read()
        proc.wait(timeout=30)
        self._note_cpu(before)  # (the whole process, its exit included: an upper bound)
        return spent

    def import_seconds(self, argv: list[str], rounds: int = 5) -> float:
        """Seconds ``-X importtime`` counts for everything ``argv`` imports: the sum of its
        top-level imports (nested ones are counted in them), each the smallest of ``rounds``."""
        best: dict[str, int] = {}  # each top-level import's smallest time: load spikes drop out
        for _ in range(rounds):
            cmd = [self.layout.python, "-X", "importtime", *argv]
            proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                                  check=False, input="q\n", cwd=self.layout.cwd)
            for line in proc.stderr.splitlines():
                if not line.startswith("import time:") or "self [us]" in line:
                    continue
                _, cumulative, name = line.split("|")
                if not name.startswith("   "):  # top level (nested ones are inside it)
                    best[name] = min(best.get(name, 1 << 62), int(cumulative))
        return sum(best.values()) / 1e6

    def toml_cache(self) -> dict[str, int]:
        """The TOML cache's entries in this bench's data directory (edge/tomlcache.py), each
        with its mtime: an entry is written only when its file had to be parsed."""
        folder = os.path.join(self.data, "cache", "toml")
        if not os.path.isdir(folder):
            return {}
        return {name: os.stat(os.path.join(folder, name)).st_mtime_ns
                for name in os.listdir(folder)}

    def imports(self, argv: list[str]) -> tuple[int, list[str], bool]:
        """Modules imported by ``argv`` (``-X importtime``), the forbidden ones among them, and
        whether ``tomllib`` is one (a TOML file was parsed rather than read from the cache)."""
        cmd = [self.layout.python, "-X", "importtime", "-m", "edge.cli", *argv[1:]]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=False,
                              input="q\n", cwd=self.layout.cwd)
        names = [line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
                 if line.startswith("import time:") and "|" in line][1:]
        bad = sorted({n for n in names if n.split(".")[0] in FORBIDDEN})
        return len(names), bad, "tomllib" in names


def big_database(root: str, small: Bench, runs: int, rounds: int, run_small: float,
                 station_small: float) -> None:
    """``pibench run`` and station start against ``runs`` runs on record, beside the same
    commands on the small database timed above."""
    os.mkdir(os.path.join(root, "big"))
    b = Bench(os.path.join(root, "big"))
    b.env = small.env  # the same bytecode cache
    b.timed(b.run_argv())  # one real run, the one cloned
    t0 = time.perf_counter()
    fill_big_database(b.data, runs)
    size = os.path.getsize(os.path.join(b.data, "results.sqlite3")) / 2**20
    print(f"\nLarge database: {runs} runs, {size:.0f} MiB (filled in "
          f"{time.perf_counter() - t0:.1f} s), {rounds} rounds, medians")
    b.timed(b.run_argv())  # as after a boot: checks the file, and notes it
    run = statistics.median(b.timed(b.run_argv()) for _ in range(rounds))
    station = statistics.median(b.station_to_prompt() for _ in range(rounds))
    print(f"  pibench run (checked once per boot: not again){'':<6}{run * MS:>8.1f} ms "
          f"({run / run_small:.2f}x the same on the small database)")
    print(f"  pibench station: start to prompt (checks at start){'':<1}{station * MS:>8.1f} ms "
          f"({station / station_small:.2f}x the same on the small database)")


COMMANDS = ("python -c pass", "pibench run (simulated board)", "pibench history",
            "pibench station: start to scan prompt",
            "pibench station, sync configured: start to prompt")


def commands(b: Bench) -> dict[str, object]:
    return dict(zip(COMMANDS, (
        lambda: b.timed([b.layout.python, "-c", "pass"]),
        lambda: b.timed(b.run_argv()),
        lambda: b.timed(b.history_argv()),
        b.station_to_prompt,
        lambda: b.station_to_prompt(True),
    ), strict=True))


def report(b: Bench, rounds: int, spent: dict[str, list[float]],
           cpu: dict[str, list[float]]) -> dict[str, float]:
    """Prints one layout's table, where its run's CPU goes, and its goals; returns its medians."""
    med = {name: statistics.median(v) for name, v in spent.items()}
    cpu_med = {name: statistics.median(v) for name, v in cpu.items()}
    ref = med["python -c pass"]
    cpu_ref = cpu_med["python -c pass"]
    imports = {
        "pibench run (simulated board)": b.imports(b.run_argv()),
        "pibench history": b.imports(b.history_argv()),
        "pibench station: start to scan prompt": b.imports(b.station_argv()),
    }
    parsers = [name for name, (_, _, parsed) in imports.items() if parsed]
    print(f"\n{b.layout.name}: {b.layout.python}")
    print(f"{rounds} rounds, medians{'':<28}{'ms':>8}{'x pass':>8}{'min ms':>8}"
          f"{'CPU ms':>8}{'x pass':>8}{'modules':>9}  forbidden imported")
    for name, values in spent.items():
        count, bad, _ = imports.get(name, (None, None, None))
        extra = "" if count is None else f"{count:>9}  {', '.join(bad) or 'none'}"
        print(f"  {name:<52}{med[name] * MS:>8.1f}{med[name] / ref:>8.2f}"
              f"{min(values) * MS:>8.1f}{cpu_med[name] * MS:>8.1f}"
              f"{cpu_med[name] / cpu_ref:>8.2f}{extra}")
    print("  (CPU: user + system time of the process, whole; for the station, its exit too)")
    # Where `pibench run`'s CPU time goes: -X importtime's sums (each import's smallest of 5
    # runs; importtime itself adds a little), the rest by difference.
    own = b.import_seconds(["-c", "pass"])
    imported = b.import_seconds(["-m", "edge.cli", *b.run_argv()[1:]]) - own
    run_cpu = cpu_med["pibench run (simulated board)"]
    print(f"pibench run, CPU {run_cpu * MS:.0f} ms: the interpreter's own start (python -c "
          f"pass) {cpu_ref * MS:.0f} ms, of which its imports {own * MS:.0f} ms; pibench's "
          f"imports {imported * MS:.0f} ms; the rest (the run itself, exit) "
          f"{(run_cpu - cpu_ref - imported) * MS:.0f} ms")
    for name, goal in (("pibench run (simulated board)", GOAL_RUN),
                       ("pibench station: start to scan prompt", GOAL_STATION),
                       ("pibench station, sync configured: start to prompt", GOAL_STATION)):
        ratio = med[name] / ref
        print(f"goal (issue 14), {b.layout.name}: {name} <= {goal:.0f}x python -c pass: "
              f"{ratio:.2f}x -> " + ("goal met" if ratio <= goal else "goal NOT met"))
    print("  tomllib (a TOML file parsed, not read from the cache) imported by: "
          f"{', '.join(parsers) or 'none'}")
    clean = all(not bad for _, bad, _ in imports.values())
    print(f"goal (issue 14), {b.layout.name}: nothing forbidden imported by run/history/station "
          "without sync -> " + ("goal met" if clean else "goal NOT met"))
    return med


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--big-runs", type=int, default=20_000,
                        help="runs in the large database (0: skip that part)")
    args = parser.parse_args(argv)

    root = tempfile.mkdtemp(prefix="pibench-startup-bench-")
    try:
        cache = os.path.join(root, "pycache")
        t0 = time.perf_counter()
        installed, how = installed_layout(os.path.join(root, "installed"))
        dev = Bench(os.path.join(root, "dev"), DEV, cache)
        inst = Bench(os.path.join(root, "installed"), installed, cache)
        print(f"Start-up bench: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; bytecode cached "
              f"in {cache}, PYTHONDONTWRITEBYTECODE unset")
        print(f"  {DEV.name}: {DEV.python}, the repository's sources through setuptools' "
              "editable finder (imported by site at every start)")
        print(f"  {installed.name}: {installed.python}, {how} "
              f"({time.perf_counter() - t0:.1f} s); its dependencies from the dev venv by a "
              ".pth path line")
        benches = (dev, inst)
        todo: dict[tuple[int, str], object] = {}
        for k, b in enumerate(benches):
            b.compile_all()
            todo.update({(k, name): fn for name, fn in commands(b).items()})
        for fn in todo.values():  # untimed: fills the bytecode cache (and the TOML cache)
            fn()
        warm = [b.toml_cache() for b in benches]
        spent: dict[tuple[int, str], list[float]] = {key: [] for key in todo}
        cpu: dict[tuple[int, str], list[float]] = {key: [] for key in todo}
        for _ in range(args.rounds):  # both layouts in every round: the load meets both alike
            for key, fn in todo.items():
                spent[key].append(fn())
                cpu[key].append(benches[key[0]].last_cpu)
        for b, before in zip(benches, warm, strict=True):
            rewritten = sum(1 for name, mtime in b.toml_cache().items()
                            if before.get(name) != mtime)
            print(f"TOML cache, {b.layout.name}: {len(before)} entries written by the untimed "
                  f"runs; the timed runs " + (
                      "rewrote none: every timed start read its TOML files from the cache"
                      if not rewritten and before else
                      f"rewrote {rewritten}: some timed starts parsed their TOML files"))
        meds = [report(b, args.rounds, {n: spent[k, n] for n in COMMANDS},
                       {n: cpu[k, n] for n in COMMANDS}) for k, b in enumerate(benches)]
        print(f"  (forbidden: {', '.join(FORBIDDEN)}; the goals are judged on the installed "
              "layout, which is what a station runs; the dev venv's figures are the reference "
              "issue 14 was measured on)")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.big_runs:
            big_database(root, dev, args.big_runs, max(3, args.rounds // 3),
                         meds[0]["pibench run (simulated board)"],
                         meds[0]["pibench station: start to scan prompt"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
