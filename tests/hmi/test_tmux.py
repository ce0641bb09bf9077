"""The HMI in a real terminal (tmux), taps injected as SGR mouse reports through Textual's real
driver and parser, the screen read back as text. Also: the HMI killed mid-run (the run goes on
in the station, finishes and is stored)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from hmi_support import ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not shutil.which("tmux"), reason="tmux is not installed")]


class Tmux:
    def __init__(self, command: str, width: int = 80, height: int = 24) -> None:
        self.name = f"pibench-hmi-{uuid.uuid4().hex[:8]}"
        env = f"PYTHONPATH={ROOT} TEXTUAL_ANIMATIONS=none TERM=xterm-256color"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width),
                        "-y", str(height), f"exec env {env} {command}"], check=True)

    def text(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True).stdout

    def wait(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            if text in screen:
                return screen
            assert time.monotonic() < deadline, f"no {text!r} on the terminal:\n{screen}"
            time.sleep(0.05)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def press(self, col: int, row: int) -> None:  # 1-based cells, as the terminal reports
        self.keys("-l", f"\x1b[<0;{col};{row}M")

    def release(self, col: int, row: int) -> None:
        self.keys("-l", f"\x1b[<0;{col};{row}m")

    def tap(self, col: int, row: int) -> None:
        self.press(col, row)
        self.release(col, row)

    def pid(self) -> int:
        out = subprocess.run(["tmux", "display-message", "-p", "-t", self.name,
                              "#{pane_pid}"], capture_output=True, text=True).stdout
        return int(out.strip())

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def find(screen: str, label: str) -> tuple[int, int]:
    """The 1-based (col, row) of the middle of a button's label: a line that is exactly
    ``label``, or for START its block letters (the first line of them)."""
    for row, line in enumerate(screen.splitlines(), 1):
        if line.strip() == label or (label == "START" and "████" in line):
            text = line.strip()
            col = line.index(text) + len(text) // 2 + 1
            return col, row
    raise AssertionError(f"no button {label!r} on:\n{screen}")


@pytest.fixture
def hmi_in_tmux(station_factory):
    sessions: list[Tmux] = []

    def start(station) -> Tmux:
        session = Tmux(f"{sys.executable} -m hmi --url {station.url} --lang fr")
        sessions.append(session)
        return session

    yield start
    for s in sessions:
        s.kill()


def test_taps_through_the_real_terminal_driver(station_factory, hmi_in_tmux):
    station = station_factory()
    term = hmi_in_tmux(station)
    screen = term.wait("banc connecté")
    term.keys("PBF-000031", "Enter")  # the keyboard-wedge scanner
    screen = term.wait("Appuyez sur DÉMARRER")
    col, row = find(screen, "START")
    # A finger that slides off START before lifting cancels the tap: no run.
    term.press(col, row)
    term.keys("-l", f"\x1b[<32;{col};2M")
    term.release(col, 2)
    time.sleep(0.3)  # nothing to wait for: proving that nothing happens
    assert "Appuyez sur DÉMARRER" in term.text()
    term.tap(col, row)
    screen = term.wait("Carte bonne.")
    assert "CONFORME" in screen and "PBF-000031" in screen


def test_hmi_killed_mid_run_the_run_finishes_and_is_stored(station_factory, hmi_in_tmux):
    station = station_factory(pace=0.3)  # about 9 s of wall time for the PowerBank run
    term = hmi_in_tmux(station)
    term.wait("banc connecté")
    term.keys("PBF-000032", "Enter")
    screen = term.wait("Appuyez sur DÉMARRER")
    term.tap(*find(screen, "START"))
    term.wait("ARRÊTER")
    os.kill(term.pid(), signal.SIGKILL)  # the HMI crashes mid-run
    runs = httpx.get(station.url + "/api/v1/runs", params={"serial": "PBF-000032"}).json()["runs"]
    assert [r["outcome"] for r in runs] == ["RUNNING"], "the kill did not land mid-run"
    deadline = time.monotonic() + 60
    while True:
        runs = httpx.get(station.url + "/api/v1/runs",
                         params={"serial": "PBF-000032"}).json()["runs"]
        if runs and runs[0]["outcome"] != "RUNNING":
            break
        assert time.monotonic() < deadline, runs
        time.sleep(0.1)
    assert [r["outcome"] for r in runs] == ["PASS"]
