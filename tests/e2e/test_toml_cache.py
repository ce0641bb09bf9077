"""The TOML cache through real `pibench` processes: a plan edited by one byte, to the same size
and the same mtime, judges the next board by its new text and the run records the new digest;
a cache that cannot be written changes nothing a user sees."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from edge.config import BUILTIN_PLANS

pytestmark = pytest.mark.slow  # real pibench processes running whole simulated tests

REPO = Path(__file__).resolve().parents[2]
PBF = BUILTIN_PLANS / "powerbank-foolish-revB.toml"


def pibench(station: Path, *argv: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIBENCH_DATA_DIR": "", "PYTHONPATH": str(REPO)}
    return subprocess.run([*prefix, sys.executable, "-m", "edge.cli", "--config",
                           str(station / "station.toml"), "--data-dir", str(station / "data"),
                           "--lang", "en", *argv],
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def exported(station: Path) -> list[dict]:
    result = pibench(station, "export", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def station(tmp_path: Path) -> Path:
    (tmp_path / "plans").mkdir()
    shutil.copy(PBF, tmp_path / "plans" / "pbf.toml")
    (tmp_path / "station.toml").write_text("[station]\nplans_dirs = ['plans']\n")
    return tmp_path


def test_a_plan_edited_by_one_byte_judges_the_next_board_by_its_new_text(station):
    plan = station / "plans" / "pbf.toml"
    run = ("run", "--product", "PowerBank-Foolish", "--serial")
    assert pibench(station, *run, "PBF-000001").returncode == 0  # PASS, and the cache written
    second = pibench(station, *run, "PBF-000002")  # PASS, from the cache
    assert second.returncode == 0 and "keep-alive v1.0 " in second.stdout
    # station.toml (once the data directory existed), this plan, the two built-in plans after
    # it in the plans path, the fixture.
    assert len(list((station / "data" / "cache" / "toml").iterdir())) == 5
    # One byte: the plan's version, and C1's tolerance from 20 % to 10 % (tighter limits).
    stat = plan.stat()
    old = plan.read_bytes()
    new = old.replace(b'version = "1.0"', b'version = "1.1"', 1).replace(
        b"tolerance = 0.20", b"tolerance = 0.10", 1)
    assert len(new) == len(old) and sum(a != b for a, b in zip(old, new, strict=True)) == 2
    plan.write_bytes(new)
    os.utime(plan, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (plan.stat().st_size, plan.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    third = pibench(station, *run, "PBF-000003")
    assert third.returncode == 0 and "keep-alive v1.1 " in third.stdout, third.stderr
    # Every time limit follows C1 (the duty cycle does not): each one printed is new.
    times = [line.split("[", 1)[1] for line in second.stdout.splitlines() if " s]" in line]
    assert len(times) == 4 and all(f"[{text}" not in third.stdout for text in times)
    runs = {r["serial"]: r for r in exported(station)}
    assert runs["PBF-000001"]["plan_hash"] == hashlib.sha256(old).hexdigest()
    assert runs["PBF-000002"]["plan_hash"] == hashlib.sha256(old).hexdigest()
    assert runs["PBF-000003"]["plan_hash"] == hashlib.sha256(new).hexdigest()
    assert runs["PBF-000003"]["plan_version"] == "1.1"


def test_a_cache_directory_that_cannot_be_made_changes_nothing(station):
    (station / "data").mkdir()
    (station / "data" / "cache").write_text("a file where the cache would go\n")
    for serial in ("PBF-000001", "PBF-000002"):
        result = pibench(station, "run", "--product", "PowerBank-Foolish", "--serial", serial)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert "PASS" in result.stdout


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root to run pibench as a user who cannot write the cache")
def test_a_cache_its_user_cannot_write_changes_nothing():
    """A technician's read command on the station's data directory (another user's, mode
    0755 here): the same output, no message, no cache, as without one."""
    # Under /tmp directly: pytest's own temporary folders are private to root.
    base = Path(tempfile.mkdtemp(prefix="pibench-tomlcache-", dir="/tmp"))
    try:
        base.chmod(0o755)
        (base / "plans").mkdir(mode=0o755)
        shutil.copy(PBF, base / "plans" / "pbf.toml")
        (base / "station.toml").write_text("[station]\nplans_dirs = ['plans']\n")
        for f in (base / "plans" / "pbf.toml", base / "station.toml"):
            f.chmod(0o644)
        (base / "data").mkdir(mode=0o755)
        nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        as_nobody = [pibench(base, "products", prefix=nobody) for _ in range(2)]
        assert not (base / "data" / "cache").exists()
        as_owner = pibench(base, "products")  # (writes the cache: it may)
        assert (base / "data" / "cache").is_dir()
        for result in as_nobody:
            assert (result.returncode, result.stdout, result.stderr) == (
                as_owner.returncode, as_owner.stdout, as_owner.stderr)
        # The owner's cache, unreadable to the other user (0700): still the same.
        again = pibench(base, "products", prefix=nobody)
        assert (again.returncode, again.stdout, again.stderr) == (
            as_owner.returncode, as_owner.stdout, as_owner.stderr)
    finally:
        shutil.rmtree(base)
