"""lgpio on a real Pi (issue 9 §6): its notification FIFO goes to a directory the process owns
(``LG_WD``), and any failure to import or open it is the station's "GPIO unavailable" message,
never a traceback. lgpio is not installed on x86, so ``fake_lgpio/lgpio.py`` stands in for it
and fails the way the real module does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.gpio.pi import PiGPIOUnavailableError, lgpio_workdir, pi_pin_factory

FAKE = Path(__file__).parent / "fake_lgpio"
FAKE_BUS = Path(__file__).parent / "fake_smbus2"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_lgpio(monkeypatch, tmp_path):
    """The fake on sys.path, no LG_WD, and a current directory where nothing can be created
    (deleted: root may write anywhere, so a read-only `/` cannot be reproduced as root)."""
    monkeypatch.syspath_prepend(str(FAKE))
    for name in ("LG_WD", "RUNTIME_DIRECTORY"):
        monkeypatch.setenv(name, "x")
        monkeypatch.delenv(name)
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    saved = {n: sys.modules.pop(n) for n in ("lgpio", "gpiozero.pins.lgpio") if n in sys.modules}
    yield tmp_path
    for name in ("lgpio", "gpiozero.pins.lgpio"):
        sys.modules.pop(name, None)
    sys.modules.update(saved)


def test_the_fake_fails_like_lgpio_in_a_directory_it_cannot_write(fake_lgpio):
    with pytest.raises(FileNotFoundError, match=r"\.lgd-nfy"):
        import lgpio  # noqa: F401


def test_the_fifo_goes_to_the_given_directory_and_the_gpio_error_is_plain(fake_lgpio):
    data = fake_lgpio / "data"
    data.mkdir()
    with pytest.raises(PiGPIOUnavailableError, match=r"^GPIO unavailable: cannot open the Pi "
                       r"GPIO header") as info:
        pi_pin_factory(simulated=False, workdir=data)
    assert os.environ["LG_WD"] == str(data)
    assert [p.name for p in data.iterdir()] == [f".lgd-nfy{os.getpid()}"]
    assert "'gpio' group" in str(info.value)


def test_without_a_directory_lgpio_gets_a_private_one(fake_lgpio, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(fake_lgpio))
    chosen = Path(lgpio_workdir())
    assert chosen.parent == fake_lgpio and chosen.name.startswith("pibench-lgpio-")
    assert oct(chosen.stat().st_mode & 0o777) == "0o700"
    monkeypatch.setenv("RUNTIME_DIRECTORY", "/run/pibench")
    assert lgpio_workdir() == str(chosen)  # set once: LG_WD now says it


def test_systemd_runtime_directory_is_used(fake_lgpio, monkeypatch):
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(fake_lgpio))
    assert lgpio_workdir() == str(fake_lgpio)


def test_an_unusable_lg_wd_is_gpio_unavailable_not_a_traceback(fake_lgpio, monkeypatch):
    monkeypatch.setenv("LG_WD", str(fake_lgpio / "missing"))  # the administrator's choice wins
    with pytest.raises(PiGPIOUnavailableError, match=r"^GPIO unavailable: lgpio could not start "
                       r"\(FileNotFoundError: .*lgd-nfy.*LG_WD=.*missing\)"):
        pi_pin_factory(simulated=False)


@pytest.mark.slow
def test_pibench_run_on_real_hardware_says_gpio_unavailable(tmp_path):
    """The real command, started where lgpio cannot write (as the service user in `/` would
    be): the station's clear message and exit 2, no traceback, nothing tested."""
    cfg = tmp_path / "station.toml"
    cfg.write_text("[station]\nhardware = 'real'\ndata_dir = 'data'\n")
    gone = tmp_path / "gone"
    gone.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("LG_WD",)}
    # A bus that opens anywhere, so the run gets as far as the GPIO header.
    env["PYTHONPATH"] = os.pathsep.join([str(FAKE), str(FAKE_BUS), str(REPO)])
    env["RUNTIME_DIRECTORY"] = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import os, sys; os.rmdir(os.getcwd()); "
         "from edge.cli import main; sys.exit(main())", "--config", str(cfg), "--lang", "en",
         "run", "--product", "PowerBank-Foolish", "--serial", "PBF-000001"],
        cwd=gone, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, out + err
    assert "GPIO unavailable: cannot open the Pi GPIO header" in err and "Traceback" not in err
    # The station hands lgpio its data directory: one stable place for the FIFO, not a new
    # temporary directory per run.
    assert any(p.name.startswith(".lgd-nfy") for p in (tmp_path / "data").iterdir())
    assert not any(p.name.startswith("pibench-lgpio-") for p in tmp_path.iterdir())
