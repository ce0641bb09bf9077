"""Every way station.toml can be wrong, through the command line: `pibench run` and
`pibench station` refuse the same file, exit 78 and name the file, the line and the key.

Each case runs the CLI's ``main`` in this process (the same entry point as the ``pibench``
script, fast enough for every case); a few run as real ``pibench`` processes.

Each case is one of the findings of issue 9 §4 (a traceback and exit 1, or a silent misreading,
before the fix), plus the neighbours a shop is likely to type.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main

RUN = ("run", "--product", "PowerBank-Foolish", "--serial", "PBF-000001")
STATION = ("station", "--no-console")


def pibench(*argv: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIBENCH_DATA_DIR": str(cwd / "default-data")}
    return subprocess.run([sys.executable, "-m", "edge.cli", "--lang", "en", *argv], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)


# (station.toml text, line of the mistake, key, words of the message)
CASES = {
    "data_dir is a number": (
        "[station]\nid = 'b1'\ndata_dir = 5\n", 3, "station.data_dir", "got integer 5"),
    "baudrate is a word": (
        "[scanner]\nurl = '/dev/ttyACM0'\nbaudrate = \"fast\"\n", 3, "scanner.baudrate",
        "expected an integer"),
    "baudrate is not a serial rate": (
        "[scanner]\nbaudrate = 96000\n", 2, "scanner.baudrate", "9600, 19200"),
    "station is not a table": (
        "station = 3\n", 1, "station", "expected a table ([station]), got integer 3"),
    "unknown expander backend": (
        "[hardware]\ni2c_bus = 1\nexpander_backend = 'adafuit'\n", 3,
        "hardware.expander_backend", "expected one of 'pibench', 'adafruit'"),
    "i2c_bus is not a bus": (
        "[hardware]\ni2c_bus = -1\n", 2, "hardware.i2c_bus", "expected a bus number"),
    "plans_dirs is one string": (
        "[station]\nplans_dirs = \"plans\"\n", 2, "station.plans_dirs",
        "expected an array of non-empty strings"),
    "sim_faults is one string": (
        "[station]\nsim_faults = \"wrong-resistor\"\n", 2, "station.sim_faults",
        "expected an array"),
    "sim_faults names an unknown fault": (
        "[station]\nsim_faults = [\"wrong-resistr\"]\n", 2, "station.sim_faults",
        "unknown simulated fault 'wrong-resistr'"),
    "sim_faults on a real station": (
        "[station]\nhardware = 'real'\nsim_faults = [\"no-pulses\"]\n", 3,
        "station.sim_faults", "simulated faults need the simulated station"),
    "id is an array": (
        "[station]\nid = [\"x\"]\n", 2, "station.id", "expected a non-empty string"),
    "unknown key": (
        "[station]\nhardwre = 'sim'\n", 2, "station.hardwre", "unknown key 'hardwre'"),
    "unknown section": ("[stations]\nid = 'x'\n", 1, "stations", "unknown section"),
    "syntax error": ("[station]\nid = 'x\n", 2, "", "TOML syntax error"),
    "sync backend unknown": (
        "[station]\nid = 'x'\n[sync]\nbackend = 'erp'\n", 4, "sync.backend",
        "expected one of 'none', 'inventree', 'generic'"),
    "sync timeout not a number": (
        "[sync]\nbackend = 'generic'\nurl = 'http://127.0.0.1:9/r'\nread_timeout_s = 'ten'\n",
        4, "sync.read_timeout_s", "must be a number of seconds"),
    "sync unknown key": (
        "[sync]\nbackend = 'generic'\nurl = 'http://127.0.0.1:9/r'\n\nfial_status = 65\n",
        5, "sync.fial_status", "unknown key"),
    "sync url not http": (
        "[sync]\nbackend = 'generic'\nurl = 'ftp://127.0.0.1/r'\n", 3, "sync.url",
        "http:// or https://"),
    "sync part reference": (
        "[sync]\nbackend = 'inventree'\nurl = 'http://127.0.0.1:9'\n[sync.parts]\n"
        "PowerBank-Foolish = true\n", 5, "sync.parts.PowerBank-Foolish", "part pk"),
    "sync create_items not a flag": (
        "[sync]\nbackend = 'inventree'\nurl = 'http://127.0.0.1:9'\ncreate_items = 'no'\n", 4,
        "sync.create_items", "true or false"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_run_refuses_a_bad_key_with_file_line_key_and_exit_78(tmp_path, monkeypatch, capsys,
                                                              case):
    text, line, key, words = CASES[case]
    cfg = tmp_path / "station.toml"
    cfg.write_text(text)
    monkeypatch.setenv("PIBENCH_DATA_DIR", str(tmp_path / "default-data"))
    assert main(["--config", str(cfg), "--lang", "en", *RUN]) == 78
    err = capsys.readouterr().err
    located = f"{cfg}:{line}: {key}: " if key else f"{cfg}:{line}: "
    assert located in err and words in err, err
    assert not (tmp_path / "default-data").exists()  # refused before anything was opened


@pytest.mark.slow
@pytest.mark.parametrize("case", ["sync timeout not a number", "data_dir is a number"])
def test_station_refuses_the_same_files_as_run(tmp_path, case):
    text, line, key, _words = CASES[case]
    cfg = tmp_path / "station.toml"
    cfg.write_text(text)
    run = pibench("--config", str(cfg), *RUN, cwd=tmp_path)
    station = pibench("--config", str(cfg), *STATION, cwd=tmp_path)
    assert (run.returncode, station.returncode) == (78, 78)
    assert run.stderr == station.stderr and f"{cfg}:{line}: {key}: " in station.stderr


@pytest.mark.slow
def test_a_file_that_is_not_utf8_names_its_line(tmp_path):
    cfg = tmp_path / "station.toml"
    cfg.write_bytes(b"[station]\nid = 'banc-\xe9lectronique'\n")  # Latin-1, as some editors save
    result = pibench("--config", str(cfg), *RUN, cwd=tmp_path)
    assert result.returncode == 78
    assert f"{cfg}:2: not UTF-8 text" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_missing_or_unreadable_file_exits_78(tmp_path):
    result = pibench("--config", str(tmp_path / "nope.toml"), *RUN, cwd=tmp_path)
    assert result.returncode == 78 and "nope.toml: file not found" in result.stderr
    result = pibench("--config", str(tmp_path), *RUN, cwd=tmp_path)
    assert result.returncode == 78 and "is a directory" in result.stderr


@pytest.mark.slow
def test_arrays_are_read_as_arrays_and_the_id_is_kept_as_written(tmp_path):
    """The near-misses of the findings, written correctly, work: a one-element plans_dirs and
    sim_faults, and the station id recorded exactly."""
    (tmp_path / "plans").mkdir()
    cfg = tmp_path / "station.toml"
    cfg.write_text("[station]\nid = 'banc-1'\ndata_dir = 'data'\nplans_dirs = ['plans']\n"
                   "sim_faults = ['wrong-resistor']\n[scanner]\nbaudrate = 115200\n")
    result = pibench("--config", str(cfg), *RUN, cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # wrong-resistor: FAIL, as configured
    export = pibench("--config", str(cfg), "export", "--format", "json", cwd=tmp_path)
    assert '"station_id": "banc-1"' in export.stdout
