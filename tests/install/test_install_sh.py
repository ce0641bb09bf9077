"""install.sh against a temporary root, every system-touching command stubbed at its edge.

What is real: the script, bash, coreutils (install, mkdir, chmod, ln, mv, tar, sha256sum), the
copy of the checkout, and the health check (the copied release's own code runs a simulated
board). What is stubbed: apt, dpkg's architecture, the account tools, systemctl, raspi-config,
chown (owners are asserted from its log, since the pibench user does not exist on this
machine) and pip (the lock files are checked separately in test_lock_files.py).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from install_stubs import Machine, make_machine

# Each test runs install.sh (1-3 s each, a copy of the checkout and a real health check).
pytestmark = pytest.mark.slow

UNITS = ("pibench-edge.service", "pibench-kiosk.service", "pibench-hmi-web.service")


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def env_file(p: Path) -> dict[str, str]:
    rows = [r for r in p.read_text().splitlines() if r and not r.startswith("#")]
    return dict(r.split("=", 1) for r in rows)


def current(m: Machine) -> str:
    return os.readlink(m.path("/opt/pibench/current"))


@pytest.fixture
def pi(tmp_path: Path) -> Machine:
    return make_machine(tmp_path)


def installed(m: Machine) -> Machine:
    r = m.install()
    assert r.returncode == 0, r.stdout + r.stderr
    return m


def test_first_install_leaves_code_config_results_units_users_and_groups(pi: Machine) -> None:
    r = pi.install()
    assert r.returncode == 0, r.stdout + r.stderr
    calls = pi.calls()
    # Code: a versioned, root-owned release with its own venv from the hashed lock.
    link = current(pi)
    assert link.startswith("releases/0.1.0-")
    release = pi.path("/opt/pibench") / link
    assert (release / "src/edge/cli.py").is_file()
    assert (release / "SOURCE_HASH").is_file()
    assert f"chown -R root:root {release}" in calls
    assert mode(release / "src/edge/cli.py") & 0o022 == 0
    pip_calls = [c for c in calls if c.startswith("pip install")]
    assert "--require-hashes" in pip_calls[0] and pip_calls[0].endswith("lock-py3.11.txt")
    assert pip_calls[-1].startswith("pip install --no-cache-dir --no-deps --no-index")
    # Pi OS Bookworm has python3-lgpio: the venv sees it, no lgpio wheel is installed.
    assert any("apt-get install" in c and "python3-lgpio" in c for c in calls)
    assert f"python3 -m venv --system-site-packages {release}/venv" in calls
    assert not any("lock-lgpio" in c for c in pip_calls)
    # Configuration readable by the pibench group, token by the service user alone.
    conf = pi.path("/etc/pibench")
    assert mode(conf) == 0o750 and f"chown root:pibench {conf}" in calls
    assert mode(conf / "station.toml") == 0o640
    assert f"chown root:pibench {conf / 'station.toml'}" in calls
    token = conf / "inventory.token"
    assert mode(token) == 0o600 and token.read_bytes() == b""
    assert f"chown pibench:pibench {token}" in calls
    state = pi.path("/var/lib/pibench")
    assert mode(state) == 0o750 and f"chown pibench:pibench {state}" in calls
    # Users and groups: gpio created because the distribution's udev rules use it.
    assert "pibench" in pi.users()
    assert "groupadd --system gpio" in calls
    for group in ("i2c", "gpio", "dialout", "pibench"):
        assert "pibench" in pi.group_members(group) or group == "pibench"
    assert pi.group_members("pibench") == []  # technicians are added by hand (guide)
    # Units, kiosk configuration, technicians' command.
    for unit in UNITS:
        dest = pi.path(f"/etc/systemd/system/{unit}")
        assert dest.read_bytes() == (pi.src / "systemd" / unit).read_bytes()
        assert mode(dest) == 0o644
    assert pi.path("/etc/pibench-kiosk/rc.xml").is_file()
    wrapper = pi.path("/usr/local/bin/pibench")
    assert mode(wrapper) == 0o755
    assert "/opt/pibench/current/venv/bin/pibench --config" in wrapper.read_text()
    assert_wrapper_environment(wrapper, pi.root)
    assert "raspi-config nonint do_i2c 0" in calls
    assert "systemctl enable pibench-edge.service" in calls
    assert "systemctl restart pibench-edge.service" in calls
    assert "health check" in r.stdout and "   ok" in r.stdout
    # The touchscreen: its own user (display and input only), enabled, the desktop off.
    assert "pibench-hmi" in pi.users()
    assert "usermod -a -G video,render,input pibench-hmi" in calls
    for group in ("i2c", "gpio", "dialout", "pibench"):
        assert "pibench-hmi" not in (pi.group_members(group) or [])  # no hardware, no results
    assert "systemctl enable pibench-kiosk.service" in calls
    assert "raspi-config nonint do_blanking 1" in calls
    assert "raspi-config nonint do_boot_behaviour B1" in calls  # no desktop beside the kiosk
    assert "systemctl restart pibench-kiosk.service" in calls
    assert "systemctl enable pibench-hmi-web.service" not in calls  # optional, never by default
    # The station's address is explicit (it never moves to another port), and the kiosk, which
    # cannot read /etc/pibench, is told it in a file of its own; no token on loopback.
    assert '\nlisten = "127.0.0.1:8750"' in (conf / "station.toml").read_text()
    kiosk = pi.path("/etc/pibench-kiosk")
    assert env_file(kiosk / "api.env") == {"PIBENCH_API_URL": "http://127.0.0.1:8750"}
    assert env_file(kiosk / "hmi.env") == {"PIBENCH_LANG": "fr"}
    assert mode(kiosk) == 0o755 and mode(kiosk / "api.env") == 0o644
    assert not (kiosk / "api-token").exists()


def test_second_run_is_a_no_op(pi: Machine) -> None:
    installed(pi)
    before = pi.snapshot()
    r = pi.install()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "nothing to upgrade" in r.stdout
    assert pi.snapshot() == before
    calls = pi.calls()
    assert not any(c.startswith(("pip ", "python3 -m venv", "useradd", "groupadd")) for c in calls)
    assert "systemctl restart pibench-edge.service" not in calls
    assert "systemctl start pibench-edge.service" in calls  # running stays running


def test_upgrade_removes_deleted_files_keeps_config_and_results_then_rolls_back(
    pi: Machine,
) -> None:
    installed(pi)
    first = current(pi)
    station = pi.path("/etc/pibench/station.toml")
    station.write_text(station.read_text().replace('id = "bench-1"', 'id = "bench-7"'))
    token = pi.path("/etc/pibench/inventory.token")
    token.write_text("s3cret\n")
    db = pi.path("/var/lib/pibench/results.sqlite3")
    db.write_bytes(b"pretend results")
    removed = "docs/adding-a-product.md"
    (pi.src / removed).unlink()
    (pi.src / "README.md").write_text((pi.src / "README.md").read_text() + "\nnew line\n")

    r = pi.install()
    assert r.returncode == 0, r.stdout + r.stderr
    second = current(pi)
    assert second != first
    assert os.readlink(pi.path("/opt/pibench/previous")) == first
    assert not (pi.path("/opt/pibench") / second / "src" / removed).exists()
    assert 'id = "bench-7"' in station.read_text()
    assert token.read_text() == "s3cret\n"
    assert db.read_bytes() == b"pretend results"
    assert "systemctl restart pibench-edge.service" in pi.calls()

    r = pi.install("--rollback")
    assert r.returncode == 0, r.stdout + r.stderr
    assert current(pi) == first
    assert os.readlink(pi.path("/opt/pibench/previous")) == second
    assert "systemctl restart pibench-edge.service" in pi.calls()


def test_only_two_releases_are_kept(pi: Machine) -> None:
    installed(pi)
    for n in range(2):
        (pi.src / "README.md").write_text(f"change {n}\n")
        installed(pi)
        releases = sorted(p.name for p in pi.path("/opt/pibench/releases").iterdir())
        assert len(releases) == 2, releases


def test_installs_within_one_second_build_distinct_releases(pi: Machine) -> None:
    # A clock stopped on one second: every release gets the same time stamp.
    (pi.stubs / "date").write_text(
        '#!/bin/sh\nif [ "$*" = "-u +%Y%m%dT%H%M%SZ" ]; then echo 20261205T145908Z; '
        'else exec /bin/date "$@"; fi\n')
    (pi.stubs / "date").chmod(0o755)
    installed(pi)
    assert current(pi) == "releases/0.1.0-20261205T145908Z"
    for n in range(2):
        (pi.src / "README.md").write_text(f"change {n}\n")
        installed(pi)
    releases = sorted(p.name for p in pi.path("/opt/pibench/releases").iterdir())
    assert releases == ["0.1.0-20261205T145908Z-2", "0.1.0-20261205T145908Z-3"], releases
    assert current(pi) == "releases/0.1.0-20261205T145908Z-3"
    assert os.readlink(pi.path("/opt/pibench/previous")) == "releases/0.1.0-20261205T145908Z-2"
    previous = pi.path("/opt/pibench/releases/0.1.0-20261205T145908Z-2/src/README.md")
    assert previous.read_text() == "change 0\n"  # not written over by the install after it


def test_failed_health_check_switches_nothing_and_leaves_no_release(pi: Machine) -> None:
    installed(pi)
    first = current(pi)
    before = sorted(p.name for p in pi.path("/opt/pibench/releases").iterdir())
    plan = pi.src / "edge/products/plans/powerbank-foolish-revB.toml"
    plan.write_text(plan.read_text().replace("[plan]", "[plan\n"))
    r = pi.install()
    assert r.returncode == 1
    assert "health check" in r.stderr
    assert current(pi) == first
    assert sorted(p.name for p in pi.path("/opt/pibench/releases").iterdir()) == before
    assert not any(c.startswith("systemctl restart") for c in pi.calls())


def test_uninstall_keeps_database_and_configuration_purge_removes_them(pi: Machine) -> None:
    installed(pi)
    db = pi.path("/var/lib/pibench/results.sqlite3")
    db.write_bytes(b"results")
    r = pi.install("--uninstall")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not pi.path("/opt/pibench").exists()
    assert not pi.path("/usr/local/bin/pibench").exists()
    for unit in UNITS:
        assert not pi.path(f"/etc/systemd/system/{unit}").exists()
    assert "systemctl disable --now pibench-edge.service" in pi.calls()
    assert db.read_bytes() == b"results"
    assert pi.path("/etc/pibench/station.toml").is_file()
    assert pi.path("/etc/pibench/inventory.token").is_file()
    assert "pibench" in pi.users()

    r = pi.install("--uninstall", "--purge")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not db.exists() and not pi.path("/etc/pibench").exists()
    assert "pibench" not in pi.users()


def test_dry_run_changes_nothing(pi: Machine) -> None:
    before = pi.snapshot()
    r = pi.install("--dry-run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert pi.snapshot() == before
    assert pi.calls() == []  # not one stubbed command that changes anything ran
    for expected in ("would run: useradd", "would run: raspi-config nonint do_i2c 0",
                     "would write: ", "would run: python3 -m venv",
                     "would run: systemctl restart pibench-edge.service"):
        assert expected in r.stdout, expected


@pytest.mark.parametrize("args", [["--bogus"], ["--purge"], ["--dry-run", "-x"]])
def test_bad_options_change_nothing(pi: Machine, args: list[str]) -> None:
    before = pi.snapshot()
    r = pi.install(*args)
    assert r.returncode == 64
    assert "nothing was changed" in r.stderr
    assert pi.snapshot() == before and pi.calls() == []


def test_help(pi: Machine) -> None:
    r = pi.install("--help")
    assert r.returncode == 0 and "--rollback" in r.stdout and pi.calls() == []


@pytest.mark.parametrize(
    ("machine", "env", "message"),
    [
        ({"os_id": "ubuntu"}, {}, "unsupported system 'ubuntu'"),
        ({"codename": "bullseye"}, {}, "unsupported release 'bullseye'"),
        ({}, {"STUB_ARCH": "armhf"}, "unsupported architecture 'armhf'"),
        # Plain Debian Trixie: no python3-lgpio and no lgpio wheel for Python 3.13.
        ({"codename": "trixie", "pi_os": False}, {"STUB_LGPIO_DEB": "100"},
         "no way to get lgpio"),
    ],
)
def test_unsupported_systems_are_refused_before_any_change(
    tmp_path: Path, machine: dict, env: dict, message: str
) -> None:
    m = make_machine(tmp_path, **machine)
    before = m.snapshot()
    r = m.install(**env)
    assert r.returncode == 69, r.stdout + r.stderr
    assert message in r.stderr
    assert m.snapshot() == before
    # Only the lgpio decision needs current package lists (refreshing them installs nothing).
    assert m.calls() == (["apt-get update -q"] if "lgpio" in message else [])


def test_plain_debian_bookworm_takes_the_lgpio_wheel_and_skips_a_group_no_rule_uses(
    tmp_path: Path,
) -> None:
    m = make_machine(tmp_path, pi_os=False, gpio_udev_rule=False)
    r = m.install(STUB_LGPIO_DEB="100")
    assert r.returncode == 0, r.stdout + r.stderr
    calls = m.calls()
    assert any(c.startswith("pip install") and c.endswith("lock-lgpio-py3.11.txt") for c in calls)
    assert not any("python3-lgpio" in c for c in calls)
    assert not any("--system-site-packages" in c for c in calls)
    assert "groupadd --system gpio" not in calls
    assert m.group_members("gpio") is None and "pibench" in m.group_members("i2c")
    assert "no 'gpio' group" in r.stderr
    assert not any(c.startswith("raspi-config") for c in calls)
    assert "enable I2C yourself" in r.stdout


def test_serial_scanner_on_the_header_enables_the_uart(pi: Machine) -> None:
    pi.path("/etc/pibench").mkdir(parents=True)
    station = pi.path("/etc/pibench/station.toml")
    station.write_text((pi.src / "docs/station.example.toml").read_text().replace(
        '# url = "/dev/serial/by-id/usb-Honeywell_Imaging_Scanner-if00"', 'url = "/dev/serial0"'))
    installed(pi)
    assert "raspi-config nonint do_serial_hw 0" in pi.calls()
    assert "raspi-config nonint do_serial_cons 1" in pi.calls()


def test_the_kiosk_follows_the_station_api_address_and_token(
    pi: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pi.path("/etc/pibench").mkdir(parents=True)
    secret = pi.path("/etc/pibench/api-token")
    secret.write_text("a-token-of-at-least-16-chars\n")
    secret.chmod(0o600)
    example = (pi.src / "docs/station.example.toml").read_text()
    station = example.replace('# listen = "127.0.0.1:8750"', 'listen = "[::1]:8799"').replace(
        '# token_file = ', 'token_file = ')  # /etc/pibench/api-token
    assert station != example
    pi.path("/etc/pibench/station.toml").write_text(station)
    installed(pi)
    kiosk = pi.path("/etc/pibench-kiosk")
    copy = kiosk / "api-token"
    env = env_file(kiosk / "api.env")
    assert env == {"PIBENCH_API_URL": "http://[::1]:8799",
                   "PIBENCH_API_TOKEN_FILE": "/etc/pibench-kiosk/api-token"}
    assert mode(copy) == 0o600 and copy.read_text() == secret.read_text()
    assert f"chown pibench-hmi:pibench-hmi {copy}" in pi.calls()
    # What the HMI makes of it (the unit passes --url from api.env; the token file from the
    # environment): the station's address and its token.
    from hmi.settings import resolve

    monkeypatch.delenv("PIBENCH_CONFIG", raising=False)
    monkeypatch.setenv("PIBENCH_API_TOKEN_FILE", str(copy))
    settings = resolve(env["PIBENCH_API_URL"])
    assert settings.url == "http://[::1]:8799" and settings.token == "a-token-of-at-least-16-chars"

    # The token taken off the station: the kiosk's copy goes too.
    pi.path("/etc/pibench/station.toml").write_text(example)
    installed(pi)
    assert env_file(kiosk / "api.env") == {"PIBENCH_API_URL": "http://127.0.0.1:8750"}
    assert not copy.exists()


def test_a_version_without_the_operator_screen_is_not_installed(pi: Machine) -> None:
    (pi.src / "hmi/web.py").unlink()
    r = pi.install()
    assert r.returncode == 1
    assert "cannot start its operator screen" in r.stderr
    assert not pi.path("/opt/pibench/current").exists()


def test_rollback_to_a_release_older_than_the_hmi_disables_the_kiosk(pi: Machine) -> None:
    installed(pi)
    first = current(pi)
    (pi.src / "README.md").write_text("change\n")
    installed(pi)
    second = current(pi)
    # What a release installed before the HMI existed looks like: no hmi package.
    shutil.rmtree(pi.path("/opt/pibench") / first / "src/hmi")
    r = pi.install("--rollback")
    assert r.returncode == 0, r.stdout + r.stderr
    assert current(pi) == first
    assert "systemctl disable --now pibench-kiosk.service pibench-hmi-web.service" in pi.calls()
    assert "systemctl restart pibench-kiosk.service" not in pi.calls()
    # And forward again: the kiosk comes back with the release that has it.
    r = pi.install("--rollback")
    assert r.returncode == 0, r.stdout + r.stderr
    assert current(pi) == second
    assert "systemctl enable pibench-kiosk.service" in pi.calls()
    assert "systemctl restart pibench-kiosk.service" in pi.calls()


def assert_wrapper_environment(wrapper, root):
    """The technicians' command runs pibench with the station's configuration and the service's
    data directory (where the parsed TOML files are kept), each overridable from the shell."""
    probe = root / "probe"
    probe.write_text('#!/bin/sh\necho "$PIBENCH_DATA_DIR|$*"\n')
    probe.chmod(0o755)
    script = wrapper.read_text().replace("/opt/pibench/current/venv/bin/pibench", str(probe))
    env = {"PATH": os.environ["PATH"]}
    said = subprocess.run(["sh", "-c", script, "pibench", "history"], env=env,
                          capture_output=True, text=True, check=True).stdout
    assert said == "/var/lib/pibench|--config /etc/pibench/station.toml history\n"
    env.update(PIBENCH_DATA_DIR="/tmp/elsewhere", PIBENCH_CONFIG="/tmp/s.toml")
    said = subprocess.run(["sh", "-c", script, "pibench", "run"], env=env,
                          capture_output=True, text=True, check=True).stdout
    assert said == "/tmp/elsewhere|--config /tmp/s.toml run\n"
