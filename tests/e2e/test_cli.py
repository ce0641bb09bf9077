"""The pibench command line as a technician and a script use it: exit codes per outcome, live
output, history and export, the operator console, and clear errors for bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main


def run_cli(*argv: str, data: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--data-dir", str(data), "--lang", "en", *argv], out=out)
    return code, out.getvalue()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "station"


def test_pass_prints_each_measurement_against_its_limits_and_exits_0(data):
    code, out = run_cli("run", "--product", "PowerBank-Foolish", "--serial", "PBF-000001",
                        data=data)
    assert code == 0
    assert "pulse_width" in out and "≤ x ≤" in out
    assert "PASS" in out.splitlines()[-2]  # the framed verdict


def test_wrong_resistor_is_a_fail_with_exit_1_naming_the_measurement(data):
    code, out = run_cli("run", "--product", "PowerBank-Foolish", "--serial", "PBF-000002",
                        "--sim-fault", "wrong-resistor", data=data)
    assert code == 1
    assert "FAIL: pulse timing: pulse_width" in out


def test_absent_fixture_expander_is_a_station_error_with_exit_2(data):
    code, out = run_cli("run", "--product", "HMI-IO-Board", "--serial", "HIO-000003",
                        "--sim-fault", "absent-expander", data=data)
    assert code == 2
    assert "fixture expander not found at 0x21" in out


def test_a_garbled_serial_starts_nothing_and_exits_65(data, capsys):
    code, out = run_cli("run", "--product", "HMI-IO-Board", "--serial", "HIO-00\x1b0003",
                        data=data)
    assert code == 65
    assert "position 7" in capsys.readouterr().err
    code, out = run_cli("history", data=data)  # the store exists but holds no run
    assert "no runs match" in out


def test_broken_config_file_exits_78_naming_file_and_key(tmp_path, capsys):
    cfg = tmp_path / "station.toml"
    cfg.write_text("[station]\nhardware = 'simulated'\n")
    code = main(["--config", str(cfg), "products"], out=io.StringIO())
    assert code == 78
    err = capsys.readouterr().err
    assert str(cfg) in err and "hardware" in err


def test_unknown_fault_and_product_are_refused_clearly(data, capsys):
    code, _ = run_cli("run", "--product", "Toaster", "--serial", "T-1", data=data)
    assert code == 65
    err = capsys.readouterr().err
    assert "no plan for 'Toaster'" in err and "PowerBank-Foolish (rev B)" in err
    code, _ = run_cli("run", "--product", "PowerBank-Foolish", "--serial", "PBF-000001",
                      "--sim-fault", "wrong-resistance", data=data)
    assert code == 78
    assert "unknown simulated fault 'wrong-resistance'" in capsys.readouterr().err


def test_an_unknown_fault_stops_the_station_at_start_not_at_the_first_scan(data):
    # A real process: were the fault only checked at the first run, this station would serve
    # (no console) until the timeout.
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "--data-dir", str(data), "--lang", "en", "station",
         "--no-console", "--sim-fault", "wrong-resistance"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 78, done.stdout + done.stderr
    assert "unknown simulated fault 'wrong-resistance'" in done.stderr


def test_usage_error_is_64_not_an_outcome_code(data):
    with pytest.raises(SystemExit) as info:
        main(["run", "--product", "PowerBank-Foolish"])
    assert info.value.code == 64


def test_history_retest_and_exports(data, tmp_path):
    for _ in range(2):
        assert run_cli("run", "--product", "PowerBank-Foolish", "--serial", "PBF-000010",
                       data=data)[0] == 0
    code, out = run_cli("history", "--serial", "PBF-000010", data=data)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].endswith("retest") and not lines[1].endswith("retest")  # newest first
    code, out = run_cli("history", "--yield", data=data)
    assert "first-pass yield 100.0%" in out
    target = tmp_path / "runs.csv"
    assert run_cli("export", "--format", "csv", "-o", str(target), data=data)[0] == 0
    rows = list(csv.DictReader(target.open(encoding="utf-8-sig")))
    assert {r["serial"] for r in rows} == {"PBF-000010"}
    code, out = run_cli("export", "--format", "json", data=data)
    docs = json.loads(out)
    assert len(docs) == 2 and all(d["schema"] == "pibench.run/1" for d in docs)


def _station(data: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "--data-dir", str(data), "--lang", "fr",
         "station", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_operator_console_loops_board_after_board_in_french(data):
    proc = _station(data)
    out, err = proc.communicate("2\nPBF-000001\nPBF-000002\nHIO-000003\nq\n", timeout=120)
    assert proc.returncode == 0, err
    assert out.count("CONFORME  /  PASS") == 2
    assert "C'est un numéro de série HMI-IO-Board, pas PowerBank-Foolish" in out
    assert out.count("Carte suivante") == 2


def test_station_service_stops_cleanly_on_sigterm(data):
    proc = _station(data, "--no-console")
    first = proc.stdout.readline()  # printed once the store is open and recovered
    assert "pibench station" in first
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    proc.stdout.close()
    proc.stderr.close()
    proc.stdin.close()


def test_console_takes_scans_from_a_serial_port_scanner(tmp_path):
    """A scanner on a serial port (a pty here, as a USB CDC scanner appears): its reads go to
    the same prompt as the keyboard; a garbled read is refused and nothing is tested."""
    master, slave = os.openpty()
    cfg = tmp_path / "station.toml"
    cfg.write_text(f"[station]\ndata_dir = 'data'\n[scanner]\nurl = '{os.ttyname(slave)}'\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "--config", str(cfg), "--lang", "en", "station",
         "--product", "PowerBank-Foolish"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seen: list[str] = []

    def read_until(text: str) -> None:
        """Until a line with ``text``, among those printed so far or the next ones."""
        if any(text in line for line in seen):
            return
        for line in proc.stdout:
            seen.append(line)
            if text in line:
                return
        raise AssertionError(f"{text!r} never printed:\n{''.join(seen)}")

    try:
        # The prompt and the scanner's state, in either order. Opening the port flushes what is
        # waiting on it (pyserial does): a read written before the station's scanner thread has
        # the port open is lost, and the test would wait for its answer forever.
        read_until("Scan the serial")
        read_until(f"[scanner] scanner connected on {os.ttyname(slave)}")
        os.write(master, b"PBF-0\xff0001\r")  # a scanner at the wrong baud rate
        read_until("Scan rejected")
        os.write(master, b"PBF-000001\r")
        read_until("PASS  /  CONFORME")
        proc.stdin.write("q\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        os.close(master)
        os.close(slave)
        proc.stdout.close()
        proc.stderr.close()
        proc.stdin.close()
    assert any("wrong baud rate" in line for line in seen)  # the rejection says why


def test_real_hardware_without_i2c_says_how_to_enable_it(tmp_path, capsys):
    """This machine has no /dev/i2c-1: a station configured for real hardware must say so,
    with the fix, and exit as a station ERROR rather than crash."""
    if Path("/dev/i2c-1").exists():
        pytest.skip("this machine has a real /dev/i2c-1")
    cfg = tmp_path / "station.toml"
    cfg.write_text("[station]\nhardware = 'real'\ndata_dir = 'data'\n")
    code = main(["--config", str(cfg), "run", "--product", "PowerBank-Foolish",
                 "--serial", "PBF-000001"], out=io.StringIO())
    assert code == 2
    err = capsys.readouterr().err
    assert "i2c-1 does not exist: I2C is not enabled" in err and "raspi-config" in err


def test_console_waiting_for_a_scan_stops_on_sigterm(data):
    proc = _station(data, "--product", "PowerBank-Foolish")
    for line in proc.stdout:
        if "Scannez" in line:
            break
    proc.send_signal(signal.SIGTERM)  # stdin stays open: the prompt itself must give way
    assert proc.wait(timeout=30) == 0
    for stream in (proc.stdout, proc.stderr, proc.stdin):
        stream.close()


def test_sync_off_still_keeps_every_result_for_later(data):
    assert run_cli("run", "--product", "PowerBank-Foolish", "--serial", "PBF-000001",
                   data=data)[0] == 0
    code, out = run_cli("sync", "status", data=data)
    assert out.startswith("inventory sync is off: 1 results kept on this station")
    assert code == 3  # results wait: scripts can tell
