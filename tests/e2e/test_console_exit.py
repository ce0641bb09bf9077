"""The `pibench` command leaves without the interpreter's finalization (edge.cli.console_main):
everything it owes the user must be done before that, with real processes. Its output is whole,
a file it writes is whole, and the result database is closed (its WAL checkpointed and removed,
as the last connection's close does), exactly as after an ordinary interpreter exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from procs import PRODUCT, pibench


def test_a_run_closes_the_database_and_prints_everything_before_it_leaves(tmp_path: Path):
    data = tmp_path / "data"
    done = pibench(data, "run", "--product", PRODUCT, "--serial", "PBF-000001")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("#" * 40)  # the verdict banner, to its last line
    assert sorted(p.name for p in data.iterdir() if "sqlite3" in p.name) == [
        "results.sqlite3", "results.sqlite3.last-words"]  # no -wal, no -shm: all closed


def test_the_installed_script_writes_whole_files_and_whole_output(tmp_path: Path):
    data = tmp_path / "data"
    script = Path(sys.executable).with_name("pibench")
    for n in range(1, 4):
        done = pibench(data, "run", "--product", PRODUCT, "--serial", f"PBF-00000{n}")
        assert done.returncode == 0, done.stderr
    out = tmp_path / "runs.json"
    done = subprocess.run([str(script), "--data-dir", str(data), "export", "--format", "json",
                           "-o", str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(out.read_text())) == 3
    done = subprocess.run([str(script), "--data-dir", str(data), "history"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 3, done.stdout
