"""Real `pibench` processes for the end-to-end tests: start one, wait for a line it prints,
signal it, read what it stored. No fixed sleeps: every wait is for a line or an exit."""

from __future__ import annotations

import os
import queue
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

PRODUCT = "PowerBank-Foolish"
WAIT_S = 60  # generous: the machine running the tests may be loaded; never a timing assert


class Proc:
    """A pibench child whose stdout and stderr lines are collected by reader threads, so the
    test can wait for a line on either without ever blocking the child on a full pipe."""

    def __init__(self, data: Path, *argv: str, verbose: bool = False, lang: str = "en",
                 stdin: int | None = subprocess.DEVNULL) -> None:
        cmd = [sys.executable, "-m", "edge.cli", "--data-dir", str(data), "--lang", lang,
               *(["-v"] if verbose else []), *argv]
        self.popen = subprocess.Popen(
            cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            bufsize=1, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.pid = self.popen.pid
        self.out: list[str] = []
        self.err: list[str] = []
        self._lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self._readers = [
            threading.Thread(target=self._read, args=(self.popen.stdout, self.out, "out"),
                             daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stderr, self.err, "err"),
                             daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, sink: list[str], name: str) -> None:
        for line in stream:
            sink.append(line)
            self._lines.put((name, line))
        self._lines.put((name, ""))  # end of that stream

    def wait_for(self, match: Callable[[str], bool] | str, stream: str = "out") -> str:
        """Block until a line of ``stream`` matches (a substring or a predicate)."""
        test = (lambda line: match in line) if isinstance(match, str) else match
        seen = self.out if stream == "out" else self.err
        for line in list(seen):
            if test(line):
                return line
        ended: set[str] = set()
        while True:
            try:
                name, line = self._lines.get(timeout=WAIT_S)
            except queue.Empty:
                raise AssertionError(f"no line matching {match!r} on {stream} within "
                                     f"{WAIT_S} s:\n{self.text()}") from None
            if line == "":
                ended.add(name)
                if stream in ended:
                    raise AssertionError(f"{stream} ended without a line matching {match!r}:"
                                         f"\n{self.text()}")
                continue
            if name == stream and test(line):
                return line

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def finish(self, timeout: float = WAIT_S) -> int:
        code = self.popen.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=timeout)
        return code

    def text(self) -> str:
        return "".join(self.out) + "\n--- stderr ---\n" + "".join(self.err)


def run_id_of(proc: Proc) -> str:
    line = proc.wait_for(lambda s: s.startswith("plan ") and " run " in s)
    return line.rsplit(" run ", 1)[1].strip()


def pibench(data: Path, *argv: str, lang: str = "en") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "--data-dir", str(data), "--lang", lang, *argv],
        capture_output=True, text=True, timeout=WAIT_S, stdin=subprocess.DEVNULL)


def stored_run(data: Path, run_id: str) -> tuple[str, str | None, list[tuple[int, str, str]]]:
    """(outcome, error, [(index, name, outcome) of each step]) as the database holds them."""
    conn = sqlite3.connect(f"file:{data / 'results.sqlite3'}?mode=ro", uri=True)
    try:
        outcome, error = conn.execute(
            "SELECT outcome, error FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        steps = conn.execute(
            "SELECT step_index, name, outcome FROM steps WHERE run_id = ? ORDER BY step_index",
            (run_id,)).fetchall()
        return outcome, error, steps
    finally:
        conn.close()


def all_runs(data: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{data / 'results.sqlite3'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT run_id, outcome FROM runs ORDER BY seq").fetchall()
    finally:
        conn.close()


def dut_power_changes(proc: Proc) -> list[str]:
    """The simulated DUT's supply as the child logged it (needs ``verbose=True``)."""
    return [line.rsplit(" ", 1)[1].strip() for line in proc.err
            if "simulated DUT power" in line]
