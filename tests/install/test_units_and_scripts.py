"""The systemd units verify, the station unit stays hardened, the shell scripts are shellcheck
clean, and the lock files cover every dependency.

``systemd-analyze`` and ``shellcheck`` come from Debian packages; CI runs as root with apt, so a
missing tool is installed here (``systemd``, ``shellcheck``) rather than the test skipped. A
developer who is not root and lacks them gets a skip that says so.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = ("pibench-edge.service", "pibench-kiosk.service", "pibench-hmi-web.service")
# Executables the units start, which a CI machine does not have: stubbed in a temporary root.
UNIT_BINARIES = ("/usr/bin/labwc", "/usr/bin/foot", "/opt/pibench/current/venv/bin/pibench")


def need_tool(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        # Two test workers may install at once: apt waits for the other's dpkg lock.
        install = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q",
                   "--no-install-recommends", package]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-q"], env=env,
                           capture_output=True)
            subprocess.run(install, env=env, capture_output=True)
        path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} (Debian package {package}) is missing and could not be installed")
        pytest.skip(f"{tool} missing: apt-get install {package} (as root) to run this test")
    return path


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with the system's own units (for sysinit.target & co), ours, and stub binaries."""
    need_tool("systemd-analyze", "systemd")
    root = tmp_path_factory.mktemp("unit-root")
    system_units = next(p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
                        if p.is_dir())
    shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(REPO / "systemd" / unit, root / "etc/systemd/system" / unit)
    for binary in UNIT_BINARIES:
        stub = root / binary.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    return root


def test_every_unit_verifies(unit_root: Path) -> None:
    r = subprocess.run(["systemd-analyze", "verify", f"--root={unit_root}",
                        *(f"/etc/systemd/system/{u}" for u in UNITS)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


@pytest.mark.parametrize(("unit", "ceiling"), [("pibench-edge.service", 2.0),
                                               ("pibench-hmi-web.service", 2.0),
                                               ("pibench-kiosk.service", 4.0)])
def test_security_exposure_stays_low(unit_root: Path, unit: str, ceiling: float) -> None:
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"--root={unit_root}",
                        "--no-pager", f"/etc/systemd/system/{unit}"],
                       capture_output=True, text=True)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    assert found, r.stdout + r.stderr
    print(f"{unit}: systemd-analyze security {found.group(1)}")
    assert float(found.group(1)) <= ceiling


def unit_settings(unit: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (REPO / "systemd" / unit).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_station_unit_policy() -> None:
    s = unit_settings("pibench-edge.service")
    assert s["Restart"] == ["on-failure"]
    assert set(s["RestartPreventExitStatus"][0].split()) == {"74", "75", "78"}
    assert "network-online.target" not in " ".join(s.get("After", []) + s.get("Wants", []))
    # Groups come from the user: a group missing on this system must not stop the service.
    assert "SupplementaryGroups" not in s
    assert s["KillMode"] == ["mixed"] and s["KillSignal"] == ["SIGTERM"]
    assert s["WorkingDirectory"] == ["/var/lib/pibench"] and s["StateDirectory"] == ["pibench"]
    assert "LG_WD=/var/lib/pibench" in s["Environment"]
    assert s["UMask"] == ["0027"]
    assert s["DevicePolicy"] == ["closed"]
    allowed = {v.split()[0] for v in s["DeviceAllow"]}
    assert {"char-i2c", "char-gpiochip", "char-ttyUSB", "char-ttyACM", "char-ttyAMA"} <= allowed


def longest_stop_s() -> float:
    """The longest step plus the longest teardown step of each shipped plan, in seconds."""
    worst = 0.0
    for plan_file in (REPO / "edge/products/plans").glob("*.toml"):
        plan = tomllib.loads(plan_file.read_text())
        default = plan["plan"].get("step_timeout", 10)
        steps = [s.get("timeout", default) for s in plan.get("step", [])]
        teardown = [s.get("timeout", default) for s in plan.get("teardown", [])]
        worst = max(worst, max(steps, default=0) + sum(teardown))
    return worst


def test_stop_timeout_covers_the_longest_step_and_teardown() -> None:
    stop = float(unit_settings("pibench-edge.service")["TimeoutStopSec"][0])
    assert stop > longest_stop_s() + 15, (stop, longest_stop_s())


def test_shell_scripts_are_shellcheck_clean() -> None:
    shellcheck = need_tool("shellcheck", "shellcheck")
    scripts = [REPO / "install.sh", REPO / "install/lock.sh",
               *sorted((REPO / "tests/install").glob("*.sh"))]
    r = subprocess.run([shellcheck, "--severity=style", *map(str, scripts)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def lock_names(path: Path) -> set[str]:
    return {m.group(1).lower().replace("_", "-")
            for m in re.finditer(r"^([A-Za-z0-9._-]+)==", path.read_text(), re.M)}


@pytest.mark.parametrize("py", ["3.11", "3.13"])
def test_lock_files_pin_every_dependency_with_hashes(py: str) -> None:
    lock = REPO / f"install/lock-py{py}.txt"
    names = lock_names(lock)
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        name = re.match(r"[A-Za-z0-9._-]+", dep).group(0).lower().replace("_", "-")
        if name != "lgpio":  # from the system package or lock-lgpio-py3.11.txt
            assert name in names, f"{name} missing from {lock.name}: run install/lock.sh"
    assert "setuptools" in names  # pibench is built offline without build isolation
    pins = re.findall(r"^[A-Za-z0-9._-]+==\S+((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)",
                      lock.read_text(), re.M)
    assert len(pins) == len(names)  # every pin has hashes
    assert "lgpio" not in names
    assert lock_names(REPO / "install/lock-lgpio-py3.11.txt") == {"lgpio"}


def test_every_data_file_of_the_packages_is_installed() -> None:
    # install.sh installs pibench with pip (not editable): a data file the package-data globs miss
    # is absent on the station (edge/api/openapi.json was, and the API could not start).
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["*"]
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "drivers", "edge", "hmi"],
                             capture_output=True, text=True, check=True).stdout.split()
    data = [f for f in tracked if not f.endswith(".py")]
    assert data, "no data files found: the check looks in the wrong place"
    missing = [f for f in data if not any(fnmatch.fnmatch(Path(f).name, g) for g in globs)]
    assert missing == [], f"not in [tool.setuptools.package-data]: {missing}"
