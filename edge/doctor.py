"""``pibench doctor``: is this station ready to test boards? One line per check, OK or what to do.

Each check reads the system through a :class:`SystemView`, whose paths and probes tests replace
with fake directories and functions (no real /dev is needed). The checks, in the order a
technician fixes things: the I2C bus, device groups, the fixture's expanders, the GPIO chip and
lgpio, the scanner, the inventory and its token, the clock, free disk, the result database, the
service. On a simulated station the hardware checks say so and pass.

Every message says what to do; the troubleshooting page (docs/troubleshooting.md, section
"pibench doctor") repeats each one with more detail. Nothing here changes anything, and nothing
prints the inventory token.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from edge.config import StationConfig

SERVICE = "pibench-edge.service"
SERVICE_USER = "pibench"
# Warn well before the store's own floor (64 MiB, where it refuses to start a run).
MIN_FREE_BYTES = 256 * 1024 * 1024

OK, FAIL, NOT_APPLICABLE = "OK", "FAIL", "--"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK | FAIL | -- (not applicable here)
    detail: str

    def line(self) -> str:
        return f"{self.status:<4} {self.name:<10} {self.detail}"


def _run(argv: list[str]) -> tuple[int, str]:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return r.returncode, (r.stdout or r.stderr).strip()


def _import_lgpio() -> Any:
    import lgpio

    return lgpio


def _open_bus(target: int | str) -> Any:
    from drivers.i2c import open_bus

    return open_bus(target)


def _ntp_synchronized() -> bool:
    from edge.engine.timesync import ntp_synchronized

    return ntp_synchronized()


@dataclass
class SystemView:
    """Where the checks look. The defaults are the real machine."""

    dev: Path = Path("/dev")
    etc: Path = Path("/etc")
    service_user: str = SERVICE_USER
    run: Callable[[list[str]], tuple[int, str]] = _run
    import_lgpio: Callable[[], Any] = _import_lgpio
    open_bus: Callable[[int | str], Any] = _open_bus
    clock_synced: Callable[[], bool] = _ntp_synchronized
    disk_free: Callable[[Path], int] = field(default=lambda p: shutil.disk_usage(p).free)
    now: Callable[[], float] = time.time

    def device(self, path: str | Path) -> Path:
        """A /dev path as seen through ``dev``."""
        p = Path(path)
        return self.dev / p.relative_to("/dev") if p.is_absolute() and p.parts[1:2] == ("dev",) \
            else p

    # -- accounts, from the files (the service user is usually not the one running doctor) ----
    def user(self, name: str) -> tuple[int, int] | None:
        for row in _rows(self.etc / "passwd"):
            if len(row) > 3 and row[0] == name:
                return int(row[2]), int(row[3])
        return None

    def group_name(self, gid: int) -> str:
        for row in _rows(self.etc / "group"):
            if len(row) > 2 and row[2] == str(gid):
                return row[0]
        return str(gid)

    def groups_of(self, name: str) -> set[int]:
        ids = set()
        user = self.user(name)
        if user:
            ids.add(user[1])
        for row in _rows(self.etc / "group"):
            if len(row) > 3 and name in row[3].split(","):
                ids.add(int(row[2]))
        return ids


def _rows(path: Path) -> list[list[str]]:
    try:
        return [line.split(":") for line in path.read_text().splitlines() if line]
    except OSError:
        return []


def _can_use(view: SystemView, path: Path, user: str, *, write: bool = True) -> tuple[bool, str]:
    """Can ``user`` read (and write) ``path``, judged from its owner, group and mode?"""
    st = path.stat()
    uid_gid = view.user(user)
    if uid_gid is None:
        return False, f"no user {user}"
    need = stat.S_IRUSR | (stat.S_IWUSR if write else 0)
    mode = stat.S_IMODE(st.st_mode)
    if uid_gid[0] == 0:
        return True, ""
    if st.st_uid == uid_gid[0]:
        bits = need
    elif st.st_gid in view.groups_of(user):
        bits = need >> 3
    else:
        bits = need >> 6
    ok = mode & bits == bits
    return ok, view.group_name(st.st_gid)


# -- the checks ---------------------------------------------------------------------------------
def _bus_path(config: StationConfig) -> str:
    bus = config.i2c_bus
    return f"/dev/i2c-{bus}" if isinstance(bus, int) or str(bus).isdigit() else str(bus)


def check_i2c(config: StationConfig, view: SystemView) -> Check:
    if config.simulated:
        return Check("i2c", NOT_APPLICABLE, "simulated hardware (hardware = 'sim')")
    path = _bus_path(config)
    if view.device(path).exists():
        return Check("i2c", OK, f"{path} present")
    return Check("i2c", FAIL, f"{path} missing: I2C is off. Run: sudo raspi-config nonint do_i2c 0"
                 " then reboot (other systems: dtparam=i2c_arm=on in config.txt, module i2c-dev)")


def _devices(config: StationConfig, view: SystemView) -> list[str]:
    wanted = [_bus_path(config)]
    wanted += sorted(f"/dev/{p.name}" for p in view.dev.glob("gpiochip*"))
    if config.scanner_url.startswith("/dev/"):
        wanted.append(config.scanner_url)
    return [d for d in wanted if view.device(d).exists()]


def check_groups(config: StationConfig, view: SystemView) -> Check:
    if config.simulated:
        return Check("groups", NOT_APPLICABLE, "simulated hardware")
    user = view.service_user
    if view.user(user) is None:
        return Check("groups", FAIL, f"no user '{user}': run sudo ./install.sh from the checkout")
    missing = []
    for dev in _devices(config, view):
        ok, group = _can_use(view, view.device(dev), user)
        if not ok:
            missing.append((dev, group))
    if not missing:
        return Check("groups", OK, f"{user} can use the I2C bus, GPIO chips and scanner port")
    groups = sorted({g for _d, g in missing})
    devs = ", ".join(d for d, _g in missing)
    return Check("groups", FAIL, f"{user} cannot use {devs}: run sudo usermod -aG "
                 f"{','.join(groups)} {user} && sudo systemctl restart pibench-edge")


def _fixture_specs(config: StationConfig) -> list[Any]:
    from edge.fixtures.loader import load_fixture

    specs = []
    for folder in config.fixtures_dirs:
        for path in sorted(Path(folder).glob("*.toml")):
            try:
                specs.append(load_fixture(path))
            except Exception:  # a broken fixture file is reported by the station, exit 78
                continue
    return specs


def check_expander(config: StationConfig, view: SystemView) -> Check:
    if config.simulated:
        return Check("expander", NOT_APPLICABLE, "simulated hardware")
    try:
        bus = view.open_bus(config.i2c_bus)
    except OSError as exc:
        return Check("expander", FAIL, f"cannot open the I2C bus: {exc}")
    try:
        from drivers.mcp23017.driver import scan

        found = set(scan(bus))
    except OSError as exc:
        return Check("expander", FAIL, f"bus error while probing: {exc} (check SDA/SCL wiring "
                     "and the fixture's 3.3 V supply)")
    finally:
        close = getattr(bus, "close", None)
        if close:
            close()
    shown = ", ".join(f"0x{a:02x}" for a in sorted(found)) or "none"
    expected = []
    for spec in _fixture_specs(config):
        addresses = {e.address for e in spec.fixture_expanders()}
        if addresses and addresses <= found:
            return Check("expander", OK, f"fixture {spec.kind} answers at "
                         f"{', '.join(f'0x{a:02x}' for a in sorted(addresses))}")
        expected.append(f"{spec.kind}: " + ", ".join(f"0x{a:02x}" for a in sorted(addresses)))
    return Check("expander", FAIL, f"no fixture answers (found {shown}; expected "
                 f"{'; '.join(expected) or 'a fixture file'}): check the fixture cable, its "
                 "supply and the A0-A2 address straps (pibench hw scan)")


def check_gpio(config: StationConfig, view: SystemView) -> Check:
    if config.simulated:
        return Check("gpio", NOT_APPLICABLE, "simulated hardware")
    chips = sorted(view.dev.glob("gpiochip*"))
    if not chips:
        return Check("gpio", FAIL, "no /dev/gpiochip*: this is not a Raspberry Pi, or its kernel "
                     "has no GPIO character device")
    try:
        lgpio = view.import_lgpio()
    except ImportError:
        return Check("gpio", FAIL, "lgpio is not installed: run sudo ./install.sh again (it "
                     "installs python3-lgpio or the lgpio wheel)")
    except OSError as exc:  # lgpio writes a FIFO in its working directory (or LG_WD) at import
        return Check("gpio", FAIL, f"lgpio cannot start ({exc}): run from a writable directory "
                     "or set LG_WD to one (the service sets both to /var/lib/pibench)")
    try:
        handle = lgpio.gpiochip_open(0)
        lgpio.gpiochip_close(handle)
    except Exception as exc:  # lgpio raises its own lgpio.error
        return Check("gpio", FAIL, f"lgpio cannot open gpiochip0 ({exc}): is this user in the "
                     "gpio group? (see the groups line)")
    return Check("gpio", OK, f"{', '.join(c.name for c in chips)}; lgpio opens gpiochip0")


def check_scanner(config: StationConfig, view: SystemView) -> Check:
    url = config.scanner_url
    if not url:
        return Check("scanner", OK, "keyboard scanner (nothing to check: scan at the prompt)")
    if not url.startswith("/dev/"):
        return Check("scanner", OK, f"{url} (not a device: not checked)")
    if view.device(url).exists():
        return Check("scanner", OK, f"{url} present")
    return Check("scanner", FAIL, f"{url} not found: plug the scanner in, or correct [scanner] url "
                 "(ls /dev/serial/by-id lists the connected ones)")


def _unknown_sync_products(settings: Any) -> str:
    """The [sync.parts] / [sync.products] keys that name no product a plan of this station
    tests (a typo there is silent otherwise), said with the products there are; "" if none."""
    configured = settings.inventree.configured_products()
    if not configured:
        return ""
    from edge.products.catalog import list_products

    known = sorted({p.product for p in list_products(settings.plans_dirs)})
    unknown = [name for name in configured if name not in known]
    if not unknown:
        return ""
    names = ", ".join(f"'{name}'" for name in unknown)
    return (f"[sync.parts] or [sync.products] names {names}, which no plan on this station "
            f"tests (a typo?): the products here are {', '.join(known) or 'none'}")


def check_inventory(config: StationConfig, view: SystemView) -> Check:
    from edge.sync.backends import make_backend
    from edge.sync.secrets import REDACTOR, TokenError, load_token
    from edge.sync.settings import from_station_config

    settings = from_station_config(config)
    if not settings.enabled:
        return Check("inventory", OK, "sync is off ([sync] backend = 'none'): results stay here")
    try:
        token = load_token(settings.token_file, settings.token_env)
    except TokenError as exc:
        return Check("inventory", FAIL, f"{REDACTOR.redact(str(exc))} (doctor run by a technician "
                     "cannot read the token: run sudo pibench doctor)")
    backend = make_backend(settings, token)
    try:
        now = view.now()
        up = backend.probe(now)
        if not up.delivered:
            return Check("inventory", FAIL, f"{settings.url} unreachable: "
                         f"{REDACTOR.redact(up.reason)}: check the network and [sync] url")
        auth = backend.check_auth(now)
        if auth is not None and not auth.delivered:
            return Check("inventory", FAIL, f"{settings.url} refuses the token: "
                         f"{REDACTOR.redact(auth.reason)}: put a valid token in the token file")
    finally:
        backend.close()
    checked = "token accepted" if auth is not None else "token not checked by this backend"
    reachable = f"{settings.backend} at {settings.url} reachable, {checked}"
    unknown = _unknown_sync_products(settings)
    if unknown:
        # Not a start-up error: a retired product's mapping may stay. But a typo sends that
        # product's results under the defaults (or parks them), so say it here.
        return Check("inventory", FAIL, f"{reachable}; but {unknown}")
    return Check("inventory", OK, reachable)


def check_clock(config: StationConfig, view: SystemView) -> Check:
    if view.clock_synced():
        return Check("clock", OK, "synchronised (NTP)")
    return Check("clock", FAIL, "not synchronised: runs are stamped with an unsure time. Give the "
                 "Pi a network with NTP (timedatectl status; sudo systemctl restart "
                 "systemd-timesyncd)")


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(config: StationConfig, view: SystemView) -> Check:
    where = _existing_parent(config.data_dir)
    free = view.disk_free(where)
    mib = free // (1024 * 1024)
    if free >= MIN_FREE_BYTES:
        return Check("disk", OK, f"{mib} MiB free for {config.data_dir}")
    return Check("disk", FAIL, f"only {mib} MiB free for {config.data_dir}: back up to a USB "
                 "stick (pibench backup --usb), then free space (pibench retention "
                 "--older-than-days N --apply deletes delivered results only)")


def check_database(config: StationConfig, view: SystemView) -> Check:
    from edge.store.integrity import check_database as integrity

    db = config.database
    folder = _existing_parent(config.data_dir)
    owner = view.service_user if view.user(view.service_user) else None
    if not db.exists():
        writable = (_can_use(view, folder, owner)[0] if owner
                    else os.access(folder, os.W_OK | os.X_OK))
        if not writable:
            return Check("database", FAIL, f"no database yet and {folder} is not writable by "
                         f"{owner or 'this user'}: sudo chown {owner or '$USER'} {folder}")
        return Check("database", OK, f"no database yet at {db} (the first run creates it)")
    report = integrity(db)
    if not report.ok:
        return Check("database", FAIL, report.message())
    if owner:
        ok = _can_use(view, db, owner)[0] and _can_use(view, db.parent, owner)[0]
    else:
        ok = os.access(db, os.W_OK) and os.access(db.parent, os.W_OK)
    if not ok:
        who = owner or "this user"
        return Check("database", FAIL, f"{db} is intact but not writable by {who}: "
                     f"sudo chown -R {owner or '$USER'}: {db.parent}")
    return Check("database", OK, f"{db} intact and writable ({db.stat().st_size // 1024} KiB)")


def check_service(config: StationConfig, view: SystemView) -> Check:
    code, _out = view.run(["systemctl", "cat", SERVICE])
    if code != 0:
        return Check("service", NOT_APPLICABLE, f"{SERVICE} is not installed here (a development "
                     "checkout: sudo ./install.sh installs it)")
    code, out = view.run(["systemctl", "is-active", SERVICE])
    if out == "active":
        return Check("service", OK, f"{SERVICE} running")
    return Check("service", FAIL, f"{SERVICE} is {out or 'not running'}: sudo systemctl start "
                 f"pibench-edge; why it stopped: journalctl -u pibench-edge -b")


CHECKS = (check_i2c, check_groups, check_expander, check_gpio, check_scanner, check_inventory,
          check_clock, check_disk, check_database, check_service)


def run_checks(config: StationConfig, view: SystemView | None = None) -> list[Check]:
    view = view or SystemView()
    results = []
    for check in CHECKS:
        try:
            results.append(check(config, view))
        except Exception as exc:  # one broken check must not hide the others
            name = check.__name__.removeprefix("check_")
            results.append(Check(name, FAIL, f"the check itself failed: {type(exc).__name__}: "
                                 f"{exc}"))
    return results


def doctor(config: StationConfig, out: TextIO = sys.stdout,
           view: SystemView | None = None) -> int:
    """Print one line per check; 0 when nothing failed, 1 otherwise."""
    results = run_checks(config, view)
    for result in results:
        print(result.line(), file=out)
    failed = [r.name for r in results if r.status == FAIL]
    print(f"{len(failed)} problem(s): {', '.join(failed)}" if failed else "ready to test",
          file=out)
    return 1 if failed else 0
