"""The collector held back while a command starts (edge/startup_gc.py), by the console script
(edge/entry.py), and given back by the station once it serves."""

from __future__ import annotations

import gc
import io
import subprocess
import sys
from pathlib import Path

import pytest

from edge import startup_gc
from edge.config import load_config
from edge.operator_console import run_station

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    yield before
    startup_gc.release()
    gc.set_threshold(*before)


def test_hold_raises_generation_0_and_keeps_the_collector_on(thresholds):
    startup_gc.hold()
    assert gc.get_threshold() == (startup_gc.START_THRESHOLD, thresholds[1], thresholds[2])
    assert gc.isenabled()
    startup_gc.hold()  # twice: what is given back is still what was there before the first
    startup_gc.release()
    assert gc.get_threshold() == thresholds


def test_release_without_hold_changes_nothing(thresholds):
    gc.set_threshold(123, 4, 5)
    startup_gc.release()
    assert gc.get_threshold() == (123, 4, 5)


def test_console_script_holds_before_loading_the_command_line():
    """The `pibench` script is edge.entry:console_main; edge.cli (and the ~200 modules a command
    imports) must load with the collector already held."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'pibench = "edge.entry:console_main"' in pyproject
    code = ("import gc, sys\n"
            "import edge.entry\n"
            "assert 'edge.cli' not in sys.modules, 'edge.entry imported the command line'\n"
            "class Seen(Exception):\n"
            "    pass\n"
            "class Spy:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'edge.cli':\n"
            "            raise Seen(gc.get_threshold()[0])\n"
            "sys.meta_path.insert(0, Spy())\n"
            "try:\n"
            "    edge.entry.console_main()\n"
            "except Seen as seen:\n"
            "    print(seen.args[0])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert out.split() == [str(startup_gc.START_THRESHOLD)]


def test_the_station_gives_the_thresholds_back_once_it_serves(tmp_path, thresholds):
    startup_gc.hold()
    seen: list[tuple[int, int, int]] = []

    class Input(io.StringIO):
        def readline(self, *args):  # the first prompt is waiting: the station serves
            seen.append(gc.get_threshold())
            return super().readline(*args)

    config = load_config(None)._replace(data_dir=tmp_path)
    code = run_station(config, lang="en", out=io.StringIO(), console=True,
                       product="PowerBank-Foolish", stdin=Input("q\n"))
    assert code == 0
    assert seen and seen[0] == thresholds
    assert gc.get_threshold() == thresholds
