"""Bytes written to the block device per durable step, against the raw 4 KiB fdatasync floor.

Run:  .venv/bin/python bench/bench_store_writes.py            (about 30 s)
      .venv/bin/python bench/bench_store_writes.py --rounds 5 (steadier on a busy machine)

What is counted: the "sectors written" field of ``/sys/dev/block/<major>:<minor>/stat`` for the
device holding the bench's data directory (``os.stat(dir).st_dev`` gives major:minor: the same
numbers as the mount's line in /proc/self/mountinfo), times 512 bytes. That is what reached the
device: data, SQLite's WAL and database file, the filesystem's own journal and metadata, all of
it. The counter is machine-wide, so anything else writing to that device in the window counts
too: every configuration is measured in several rounds visited round-robin, and the *smallest*
figure of each is kept (noise from other processes only adds bytes); the idle rate of the device
over the same windows is printed so the noise can be judged.

Three configurations, each 1,000 durable operations, on the same device, in the same run:

* **raw floor**: a 4 KiB ``pwrite`` into a preallocated file, then ``fdatasync``: the least a
  durable write can cost the device;
* **one-row SQLite commit**: one short row inserted into a growing table, WAL + synchronous=FULL,
  default page size, WAL warmed up (already at its steady size): the cheapest durable SQLite
  commit;
* **pibench**: the real ``RunRecorder`` on a store made by ``open_store`` (its page size, WAL and
  checkpoint settings), holding 10,000 steps already (200 runs of 50 steps, written first,
  outside the window), then 20 more runs of 50 steps, each begun, recorded step by step and
  finished (verdict + outbox row + any checkpoint that follows), every step committed with
  synchronous=FULL before the next: bytes of the whole window / 1,000 steps.

Also printed, not a goal: the bytes a *new* store's first 18 boards write (900 steps, about what a
station's WAL holds before its first checkpoint), with the WAL's room made first as ``pibench
station`` does once it serves (edge/store/wal_room.py; the room's own bytes counted) and without
it, the WAL then growing at every commit: the figure behind the room.

Goal (issue 14, goal 1): pibench <= 2x the raw floor. If the device counters cannot be read
(a container without /sys/dev/block), the script says so and falls back to this process's
``write_bytes`` from /proc/self/io, which counts what it sent to the block layer but not the
filesystem journal: a lower figure, labelled as such.

Set ``PIBENCH_BENCH_DIR`` to measure another disk (the station's data disk); the default is a
temp dir next to this checkout, on its disk (not /tmp, which may be tmpfs).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from _disk import bench_root  # noqa: E402  (bench/ is the script's own directory)

OPS = 1000
PRELOAD_RUNS, STEPS_PER_RUN = 200, 50
FIRST_BOARDS = 18  # about what a station's WAL holds before its first checkpoint (2,000 frames)
GOAL = 2.0
KB = 1000.0


class DeviceCounter:
    """Bytes written to the device holding ``directory``, or this process's write_bytes."""

    def __init__(self, directory: str) -> None:
        st = os.stat(directory)
        self.device = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
        self.path = f"/sys/dev/block/{self.device}/stat"
        try:
            self._read_device()
            self.kind = f"block device {self.device} ({self._name()}), /sys sectors written x 512"
        except (OSError, ValueError, IndexError):
            self.path = ""
            self.kind = ("NOT the device: /sys/dev/block unreadable here; this process's "
                         "write_bytes (/proc/self/io), filesystem journal not included")

    def _name(self) -> str:
        with contextlib.suppress(OSError):
            return os.path.basename(os.path.realpath(f"/sys/dev/block/{self.device}"))
        return "?"

    def _read_device(self) -> int:
        with open(self.path, encoding="ascii") as f:
            return int(f.read().split()[6]) * 512

    def read(self) -> int:
        if self.path:
            return self._read_device()
        with open("/proc/self/io", encoding="ascii") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
        raise OSError("no write_bytes in /proc/self/io")


def settle() -> None:
    """Push out dirty pages left by the set-up so they are not charged to the window."""
    os.sync()
    time.sleep(0.5)


def _flush(paths: tuple[str, ...]) -> None:
    """fsync ``paths``: what the work left dirty in the page cache without syncing it (SQLite's
    -shm index, timestamps) reaches the disk sooner or later, so it is charged to the work. Only
    these files: ``os.sync()`` would also charge other processes' dirty pages to the window."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def window(counter: DeviceCounter, work: Callable[[], None],
           files: tuple[str, ...] = ()) -> tuple[int, float]:
    """Bytes written and seconds spent by ``work``, what it left dirty in ``files`` included."""
    settle()
    before, t0 = counter.read(), time.perf_counter()
    work()
    spent = time.perf_counter() - t0
    _flush(files)
    return counter.read() - before, spent


def idle_rate(counter: DeviceCounter, seconds: float = 1.0) -> float:
    settle()
    before = counter.read()
    time.sleep(seconds)
    return (counter.read() - before) / seconds


# -- the three configurations ---------------------------------------------------------------------

def raw_floor(directory: str, counter: DeviceCounter) -> tuple[int, float]:
    path = os.path.join(directory, "raw-floor")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, b"\0" * 4096 * 16)
        os.fsync(fd)
        block = b"x" * 4096

        def work() -> None:
            for i in range(OPS):
                os.pwrite(fd, block, (i % 16) * 4096)
                os.fdatasync(fd)

        return window(counter, work)
    finally:
        os.close(fd)
        os.unlink(path)


def _sqlite_files(path: str) -> tuple[str, ...]:
    return (path, path + "-wal", path + "-shm", os.path.dirname(path))


def one_row_commits(directory: str, counter: DeviceCounter) -> tuple[int, float]:
    path = os.path.join(directory, "one-row.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        row = ("x" * 100,)

        def commits(n: int) -> None:
            for _ in range(n):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO t (body) VALUES (?)", row)
                conn.execute("COMMIT")

        commits(2500)  # past a checkpoint: the WAL is at its steady size, reused in place
        return window(counter, lambda: commits(OPS), _sqlite_files(path))
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path + suffix)


def _step(index: int):
    from edge.records import Attempt, Limits, Measurement, Outcome, StepResult

    m = Measurement("voltage", 5.0 + index * 1e-4, Limits(4.5, 5.5, "V"), Outcome.PASS)
    return StepResult(index, f"v_{index:03d}", Outcome.PASS, "2026-03-14T09:00:01.123456+00:00",
                      "2026-03-14T09:00:01.125000+00:00", 0.0015,
                      (Attempt(1, Outcome.PASS, 0.0015, (m,)),), False)


def _fresh_store(directory: str, name: str) -> str:
    path = os.path.join(directory, name)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + suffix)
    return path


def _boards(recorder, n: int) -> None:
    """``n`` runs of STEPS_PER_RUN steps, each begun, recorded step by step and finished."""
    from edge.records import Outcome, RunMeta

    steps = [_step(i) for i in range(STEPS_PER_RUN)]
    for _ in range(n):
        meta = RunMeta(
            run_id=str(uuid.uuid4()), serial="SN-0001", product="BENCH", revision="A",
            plan_name="meter bench", plan_version="1", plan_hash="0" * 64,
            station_id="bench", fixture_id="bench-fx-1", software_version="bench",
            started_utc="2026-03-14T09:00:00+00:00", clock_synced=True)
        recorder.begin_run(meta)
        for step in steps:
            recorder.record_step(meta.run_id, step)
        recorder.finish_run(meta.run_id, Outcome.PASS, "2026-03-14T09:00:02+00:00", 2.0)


def pibench_runs(directory: str, counter: DeviceCounter) -> tuple[int, float, dict]:
    from edge.store import RunRecorder

    path = _fresh_store(directory, "results.sqlite3")
    recorder = RunRecorder.open(path)
    recorder.reserve_wal_room()  # as `pibench station` does once it serves (edge.store.wal_room)
    try:
        _boards(recorder, PRELOAD_RUNS)
        conn = recorder.connection
        held = conn.execute("SELECT count(*) FROM steps").fetchone()[0]
        written, spent = window(counter, lambda: _boards(recorder, OPS // STEPS_PER_RUN),
                                _sqlite_files(path))
        info = {
            "held": held,
            "page_size": conn.execute("PRAGMA page_size").fetchone()[0],
            "synchronous": conn.execute("PRAGMA synchronous").fetchone()[0],
            "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
            "file_mib": os.path.getsize(path) / 2**20,
        }
        return written, spent, info
    finally:
        recorder.close()


def first_boards(directory: str, counter: DeviceCounter, room: bool) -> int:
    """Bytes a new store's first FIRST_BOARDS boards write, the WAL's room (edge.store.wal_room)
    included when ``room``: what a station start costs the card before its WAL is reused in
    place, with the room and as it was without it. Not a goal: the figure behind the room."""
    from edge.store import RunRecorder

    path = _fresh_store(directory, "first-boards.sqlite3")
    recorder = RunRecorder.open(path)

    def work() -> None:
        if room:
            recorder.reserve_wal_room()
        _boards(recorder, FIRST_BOARDS)

    try:
        return window(counter, work, _sqlite_files(path))[0]
    finally:
        recorder.close()
        recorder.connection.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per configuration")
    args = parser.parse_args(argv)

    root = bench_root("pibench-writes-bench-")
    try:
        counter = DeviceCounter(root)
        print(f"Store write bench: bytes to the device per durable operation, {OPS} operations")
        print(f"data in {root}\ncounting: {counter.kind}")
        results: dict[str, list[tuple[int, float]]] = {"raw": [], "one-row": [], "pibench": []}
        first: dict[bool, list[int]] = {True: [], False: []}
        idle: list[float] = []
        info: dict = {}
        for _ in range(args.rounds):
            idle.append(idle_rate(counter))
            results["raw"].append(raw_floor(root, counter))
            results["one-row"].append(one_row_commits(root, counter))
            written, spent, info = pibench_runs(root, counter)
            results["pibench"].append((written, spent))
            for room in (True, False):
                first[room].append(first_boards(root, counter, room))
        best = {k: min(v) for k, v in results.items()}
        per_op = {k: written / OPS for k, (written, _) in best.items()}
        print("device idle rate (others' writes), per round: "
              + ", ".join(f"{r / KB:.0f} kB/s" for r in idle))
        print(f"\n{'':<58}{'bytes/op':>10}{'x floor':>9}{'ms/op':>8}   all rounds, kB/op")
        for key, label in (
            ("raw", "raw floor: 4 KiB pwrite + fdatasync, preallocated"),
            ("one-row", "one-row SQLite commit, WAL + FULL, growing table"),
            ("pibench", "pibench durable step (begin/finish/checkpoint included)"),
        ):
            rounds = " ".join(f"{w / OPS / KB:.1f}" for w, _ in results[key])
            print(f"  {label:<56}{per_op[key]:>10.0f}{per_op[key] / per_op['raw']:>9.2f}"
                  f"{best[key][1] / OPS * 1000:>8.3f}   {rounds}")
        print(f"\npibench store: {info['held']} steps held before the window (+{OPS} in it), "
              f"page_size {info['page_size']} B, journal_mode={info['journal_mode']}, "
              f"synchronous={info['synchronous']} (2 = FULL), file {info['file_mib']:.1f} MiB")
        ratio = per_op["pibench"] / per_op["raw"]
        print(f"goal (issue 14): bytes per durable step <= {GOAL}x the raw floor: {ratio:.2f}x -> "
              + ("goal met" if ratio <= GOAL else "goal NOT met"))
        with_room, without = min(first[True]), min(first[False])
        steps = FIRST_BOARDS * STEPS_PER_RUN
        print(f"\na new store's first {FIRST_BOARDS} boards ({steps} steps, what a station writes "
              "after each start until its WAL is reused in place; not a goal):\n"
              f"  with the WAL's room first, as the station does (the room's bytes included): "
              f"{with_room / 1e6:.2f} MB, {with_room / steps:.0f} B/step\n"
              f"  without it, the WAL growing at each commit: {without / 1e6:.2f} MB, "
              f"{without / steps:.0f} B/step ({without / with_room:.2f}x)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
