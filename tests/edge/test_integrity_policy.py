"""When the result database's integrity check runs (edge/store/integrity.py): at every start of
a station; for `pibench run` (a process per board), once per boot of the machine and again
whenever the previous owner died without releasing its lock. A real SQLite file, a real page
overwritten with garbage; the check itself is tested in test_store_care.py."""

from __future__ import annotations

import io
import os
import sqlite3
from pathlib import Path

import pytest

from edge import station as station_module
from edge.cli import main
from edge.config import StationConfig
from edge.owner import lock_path
from edge.station import Station
from edge.store.integrity import STAMP_NAME, DamagedDatabaseError, checked_this_boot

RUN = ["--lang", "en", "run", "--product", "PowerBank-Foolish"]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), *RUN, "--serial", "PBF-000001"], out=io.StringIO()) == 0
    return data


@pytest.fixture
def checks(monkeypatch) -> list[Path]:
    """Every integrity check a Station makes, still done for real."""
    seen: list[Path] = []
    real = station_module.verify_at_startup

    def spy(path):
        seen.append(Path(path))
        real(path)

    monkeypatch.setattr(station_module, "verify_at_startup", spy)
    return seen


def _open_close(data: Path, once_per_boot: bool) -> None:
    Station(StationConfig(data_dir=data), check_once_per_boot=once_per_boot).open().close()


def test_a_run_checks_once_per_boot_and_a_station_at_every_start(data: Path, checks) -> None:
    db = StationConfig(data_dir=data).database
    assert checked_this_boot(db, data / STAMP_NAME)  # the fixture's run checked, and noted it
    _open_close(data, once_per_boot=True)
    _open_close(data, once_per_boot=True)
    assert checks == []
    _open_close(data, once_per_boot=False)
    _open_close(data, once_per_boot=False)
    assert checks == [db, db]


def test_a_stamp_from_another_boot_or_another_file_does_not_count(data: Path, checks) -> None:
    stamp = data / STAMP_NAME
    boot, identity = stamp.read_text().split()
    stamp.write_text(f"{'0' * len(boot)} {identity}\n")
    _open_close(data, once_per_boot=True)
    assert len(checks) == 1 and stamp.read_text().split()[0] == boot  # checked, noted again
    stamp.write_text(f"{boot} 1:1\n")  # another file (a copy moved in place of the database)
    _open_close(data, once_per_boot=True)
    assert len(checks) == 2


def test_a_run_after_an_owner_that_died_checks_again(data: Path, checks) -> None:
    # What a killed owner leaves: its record in the lock file (release() erases it).
    lock_path(data).write_text('{"command": "pibench run", "pid": 999999, "since_utc": "x"}\n')
    _open_close(data, once_per_boot=True)
    assert len(checks) == 1
    _open_close(data, once_per_boot=True)  # that owner released: no new reason to check
    assert len(checks) == 1


def test_a_damaged_database_stops_the_first_run_after_boot(data: Path, capsys) -> None:
    db = StationConfig(data_dir=data).database
    conn = sqlite3.connect(db)
    try:  # everything into the file itself, so that garbling a page of it is seen
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
    finally:
        conn.close()
    with open(db, "r+b") as f:  # garble the root page of the runs table
        f.seek(size * (root - 1))
        f.write(b"\x0d" + os.urandom(size - 1))
    (data / STAMP_NAME).unlink()  # as after a reboot
    code = main(["--data-dir", str(data), *RUN, "--serial", "PBF-000002"], out=io.StringIO())
    assert code != 0 and "is damaged" in capsys.readouterr().err
    with pytest.raises(DamagedDatabaseError):
        _open_close(data, once_per_boot=False)
