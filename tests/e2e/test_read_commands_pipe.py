"""Read commands piped into a reader that goes away (`pibench export | head -1`) end quietly:
no BrokenPipeError traceback, exit 0. The reader here is gone before the command writes its first
byte (the pipe's read end is closed before the process starts), so this needs no timing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from procs import PRODUCT, WAIT_S, pibench

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def station_with_runs(tmp_path_factory):
    data = tmp_path_factory.mktemp("station")
    for n in (1, 2):
        done = pibench(data, "run", "--product", PRODUCT, "--serial", f"PBF-00000{n}")
        assert done.returncode == 0, done.stderr
    return data


@pytest.mark.parametrize("argv", [("export", "--format", "json"), ("export", "--format", "csv"),
                                  ("history",), ("history", "--yield"), ("products",),
                                  ("sync", "status")])
def test_a_reader_gone_before_the_first_line_is_no_traceback(station_with_runs, argv):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -0`: nobody will ever read
    try:
        done = subprocess.run(
            [sys.executable, "-m", "edge.cli", "--data-dir", str(station_with_runs), *argv],
            stdout=write_end, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            timeout=WAIT_S)
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
