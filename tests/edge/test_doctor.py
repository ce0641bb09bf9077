"""``pibench doctor`` on the simulated station and on a "real" station whose /dev, /etc, bus,
lgpio, clock, disk and systemctl are fakes injected through SystemView (no real /dev needed).
The inventory check talks to the fake InvenTree server in a subprocess on 127.0.0.1."""

from __future__ import annotations

import io
import os
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.i2c import open_bus
from drivers.sim.mcp23017 import SimMCP23017
from drivers.sim.smbus import SimSMBus
from edge.cli import main
from edge.config import load_config
from edge.doctor import FAIL, NOT_APPLICABLE, OK, SystemView, doctor, run_checks
from edge.sync.testing.process import FakeServerProcess

TOKEN = "inv-0123456789abcdef0123456789abcdef01234567-20270601"


def by_name(checks) -> dict:
    return {c.name: c for c in checks}


class FakeMachine:
    """A /dev and /etc in tmp_path, plus fakes for everything the checks ask the system."""

    def __init__(self, tmp: Path) -> None:
        self.dev, self.etc = tmp / "dev", tmp / "etc"
        self.dev.mkdir()
        self.etc.mkdir()
        gid = os.getegid()  # device nodes are plain files owned by our group, mode 0660
        for node in ("i2c-1", "gpiochip0", "gpiochip4"):
            (self.dev / node).write_text("")
            (self.dev / node).chmod(0o660)
        (self.etc / "passwd").write_text("root:x:0:0::/root:/bin/sh\n"
                                         "pibench:x:4242:4242::/var/lib/pibench:/bin/false\n")
        self.set_members("pibench")
        self.gid = gid
        self.addresses = [0x21]
        self.service = "active"
        self.synced = True
        self.free = 10 * 1024**3
        self.lgpio_error: BaseException | None = None

    def set_members(self, members: str) -> None:
        (self.etc / "group").write_text(f"pibench:x:4242:\ni2c:x:{os.getegid()}:{members}\n")

    def lgpio(self):
        if self.lgpio_error is not None:
            raise self.lgpio_error
        return types.SimpleNamespace(gpiochip_open=lambda n: 7, gpiochip_close=lambda h: None)

    def systemctl(self, argv: list[str]) -> tuple[int, str]:
        if argv[1] == "cat":
            return 0, "[Unit]"
        return (0 if self.service == "active" else 3), self.service

    def view(self) -> SystemView:
        return SystemView(
            dev=self.dev, etc=self.etc, run=self.systemctl, import_lgpio=self.lgpio,
            open_bus=lambda _bus: open_bus(SimSMBus([SimMCP23017(a) for a in self.addresses])),
            clock_synced=lambda: self.synced, disk_free=lambda _p: self.free,
        )


@pytest.fixture
def machine(tmp_path: Path) -> FakeMachine:
    return FakeMachine(tmp_path)


def real_config(tmp_path: Path, *, scanner: str = "", sync: str = ""):
    path = tmp_path / "station.toml"
    scanner_line = f'url = "{scanner}"' if scanner else ""
    path.write_text(f'[station]\nid = "bench-1"\nhardware = "real"\ndata_dir = "data"\n'
                    f"[scanner]\n{scanner_line}\n{sync}")
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    data.chmod(0o777)  # the fake pibench user (uid 4242) may write it
    return load_config(path)


def test_every_check_passes_on_a_healthy_station(tmp_path: Path, machine: FakeMachine) -> None:
    out = io.StringIO()
    code = doctor(real_config(tmp_path), out, machine.view())
    lines = out.getvalue().splitlines()
    assert code == 0, out.getvalue()
    assert [line.split()[1] for line in lines[:-1]] == [
        "i2c", "groups", "expander", "gpio", "scanner", "inventory", "clock", "disk", "database",
        "service"]
    assert all(line.startswith("OK ") for line in lines[:-1]), out.getvalue()
    assert "fixture powerbank-v1 answers at 0x21" in out.getvalue()
    assert lines[-1] == "ready to test"


@pytest.mark.parametrize(
    ("breakage", "name", "advice"),
    [
        (lambda m: (m.dev / "i2c-1").unlink(), "i2c", "raspi-config nonint do_i2c 0"),
        (lambda m: m.set_members(""), "groups", "usermod -aG i2c pibench"),
        (lambda m: setattr(m, "addresses", [0x27]), "expander", "found 0x27; expected"),
        (lambda m: setattr(m, "lgpio_error", FileNotFoundError(2, "'.lgd-nfy0'")), "gpio",
         "LG_WD"),
        (lambda m: setattr(m, "lgpio_error", ImportError("lgpio")), "gpio", "install.sh"),
        (lambda m: [p.unlink() for p in m.dev.glob("gpiochip*")], "gpio", "no /dev/gpiochip"),
        (lambda m: setattr(m, "synced", False), "clock", "timedatectl"),
        (lambda m: setattr(m, "free", 10 * 1024**2), "disk", "pibench backup --usb"),
        (lambda m: setattr(m, "service", "failed"), "service", "journalctl -u pibench-edge"),
    ],
)
def test_each_fault_is_one_failing_line_with_what_to_do(
    tmp_path: Path, machine: FakeMachine, breakage, name: str, advice: str
) -> None:
    breakage(machine)
    out = io.StringIO()
    assert doctor(real_config(tmp_path), out, machine.view()) == 1
    failing = [line for line in out.getvalue().splitlines() if line.startswith(FAIL)]
    assert len(failing) == 1, out.getvalue()
    assert failing[0].split()[1] == name and advice in failing[0], failing[0]


def test_scanner_port_is_checked(tmp_path: Path, machine: FakeMachine) -> None:
    config = real_config(tmp_path, scanner="/dev/ttyUSB0")
    assert by_name(run_checks(config, machine.view()))["scanner"].status == FAIL
    (machine.dev / "ttyUSB0").write_text("")
    (machine.dev / "ttyUSB0").chmod(0o600)  # present, but only its owner may use it
    checks = by_name(run_checks(config, machine.view()))
    assert checks["scanner"].status == OK
    assert checks["groups"].status == FAIL and "ttyUSB0" in checks["groups"].detail


def test_damaged_database_says_so_and_what_to_do(tmp_path: Path, machine: FakeMachine) -> None:
    config = real_config(tmp_path)
    config.database.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    check = by_name(run_checks(config, machine.view()))["database"]
    assert check.status == FAIL and "Nothing was changed" in check.detail


@pytest.fixture
def inventree(tmp_path: Path) -> Iterator[FakeServerProcess]:
    server = FakeServerProcess("inventree", tmp_path / "fake-inventree.sqlite3").start()
    server.control("config", {"tokens": {TOKEN: "valid"}, "api_version": 479})
    yield server
    server.stop()


def inventree_config(tmp_path: Path, url: str, token: str = TOKEN, mode: int = 0o600):
    token_file = tmp_path / "inventory.token"
    token_file.write_text(token + "\n")
    token_file.chmod(mode)
    sync = (f'[sync]\nbackend = "inventree"\nurl = "{url}"\ntoken_file = "{token_file}"\n'
            "connect_timeout_s = 1\nread_timeout_s = 2\n")
    return real_config(tmp_path, sync=sync)


@pytest.mark.slow  # a fake InvenTree server in a subprocess
def test_inventory_reachable_and_token_checked(
    tmp_path: Path, machine: FakeMachine, inventree: FakeServerProcess
) -> None:
    view = machine.view()
    check = by_name(run_checks(inventory_cfg := inventree_config(tmp_path, inventree.base_url),
                               view))["inventory"]
    assert check.status == OK and "token accepted" in check.detail, check.detail

    inventree.control("config", {"tokens": {TOKEN: "expired"}})
    check = by_name(run_checks(inventory_cfg, view))["inventory"]
    assert check.status == FAIL and "refuses the token" in check.detail
    assert TOKEN not in check.detail

    inventree.stop()
    check = by_name(run_checks(inventory_cfg, view))["inventory"]
    assert check.status == FAIL and "unreachable" in check.detail


def test_token_readable_by_others_is_refused(tmp_path: Path, machine: FakeMachine) -> None:
    config = inventree_config(tmp_path, "http://127.0.0.1:9", mode=0o644)
    check = by_name(run_checks(config, machine.view()))["inventory"]
    assert check.status == FAIL and "chmod 600" in check.detail
    assert TOKEN not in check.detail


def test_simulated_station_through_the_cli(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    assert main(["run", "--data-dir", str(data), "--product", "PowerBank-Foolish",
                 "--serial", "PBF-000001"], out=io.StringIO()) == 0
    out = io.StringIO()
    code = main(["doctor", "--data-dir", str(data)], out=out)
    lines = {line.split()[1]: line.split()[0] for line in out.getvalue().splitlines()[:-1]}
    for hardware in ("i2c", "groups", "expander", "gpio"):
        assert lines[hardware] == NOT_APPLICABLE
    assert lines["database"] == OK and lines["scanner"] == OK and lines["inventory"] == OK
    assert code == (1 if FAIL in lines.values() else 0)


@pytest.mark.slow  # a fake InvenTree server in a subprocess
def test_a_sync_mapping_naming_no_product_here_is_reported(
    tmp_path: Path, machine: FakeMachine, inventree: FakeServerProcess
) -> None:
    config = inventree_config(tmp_path, inventree.base_url)
    text = config.source.read_text() + ('[sync.parts]\n"PowerBank-Foolsh" = 12\n'
                                        '"HMI-IO-Board" = 13\n')
    config.source.write_text(text)
    check = by_name(run_checks(load_config(config.source), machine.view()))["inventory"]
    assert check.status == FAIL, check.detail
    assert "token accepted" in check.detail  # the rest was still checked
    assert "'PowerBank-Foolsh'" in check.detail and "a typo?" in check.detail
    assert "'HMI-IO-Board'" not in check.detail  # that one is a product of this station
    assert "PowerBank-Foolish" in check.detail  # what the name should have been
