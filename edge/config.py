"""Station configuration: one TOML file (``/etc/pibench/station.toml`` when installed).

Every key has a default that gives a working *simulated* station, so a developer needs no file
at all. Paths in the file are relative to the file's directory. Every key is checked for type
and range when the file is read, whatever the command (docs/configuration.md lists them).
"""

import os
import re
from pathlib import Path
from typing import Any

from drivers.named_tuple import NamedTuple
from edge.errors import SettingsFileError
from edge.tomlfile import Checker, TomlFileError, TomlSource, describe_value, read_toml

PACKAGE_DIR = Path(__file__).resolve().parent
BUILTIN_PLANS = PACKAGE_DIR / "products" / "plans"
BUILTIN_FIXTURES = PACKAGE_DIR / "products" / "fixtures"


class ConfigError(TomlFileError):
    """A configuration file that cannot be used: ``file:line: key: what is wrong``.

    ``ConfigError("message")`` is also accepted, for settings that come from the command line
    rather than from a file."""

    def __init__(self, *args: Any) -> None:
        if len(args) == 1:
            super().__init__("", 0, "", args[0])
        else:
            super().__init__(*args)

    def __str__(self) -> str:
        return self.message if not self.path else super().__str__()


def default_data_dir() -> Path:
    env = os.environ.get("PIBENCH_DATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "pibench"


# NamedTuples, not frozen dataclasses: `dataclasses` (with inspect, ast, dis) and its compiled
# methods cost every start several ms (issue 14). A default that is made for each instance (a
# new dict, the data directory read from the environment) is filled in by the subclass's
# __new__, from None.
class _SyncConfigFields(NamedTuple):
    backend: str = "none"  # "none" | "inventree" | "generic"
    url: str = ""
    token_file: Path | None = None
    token_env: str = "PIBENCH_INVENTORY_TOKEN"
    options: dict | None = None  # backend-specific keys, passed through (None: a new {})


class SyncConfig(_SyncConfigFields):
    """The ``[sync]`` table as read: which inventory, where, and the token file."""

    __slots__ = ()
    options: dict

    def __new__(cls, *args: Any, **kwargs: Any) -> "SyncConfig":
        self = super().__new__(cls, *args, **kwargs)
        return self._replace(options={}) if self.options is None else self

    @property
    def enabled(self) -> bool:
        """Whether a backend is configured (as ``SyncSettings.enabled`` says once checked)."""
        return self.backend != "none"


class _StationConfigFields(NamedTuple):
    station_id: str = "sim-station"
    hardware: str = "sim"  # "sim" or "real"
    data_dir: Path | None = None  # (None: default_data_dir(), read when the config is made)
    plans_dirs: tuple[Path, ...] = (BUILTIN_PLANS,)
    fixtures_dirs: tuple[Path, ...] = (BUILTIN_FIXTURES,)
    i2c_bus: int | str = 1
    expander_backend: str = "pibench"  # or "adafruit"
    scanner_url: str = ""  # e.g. /dev/serial/by-id/usb-…; empty: keyboard scanner only
    scanner_baudrate: int = 9600
    sim_faults: tuple[str, ...] = ()  # simulated station only: "wrong-resistor", …
    sync: SyncConfig | None = None  # (None: a new SyncConfig())
    api: dict | None = None  # the raw [api] table: edge/api/settings.py checks it (None: a new {})
    source: Path | None = None  # the file this came from, for messages


class StationConfig(_StationConfigFields):
    """A station's configuration (station.toml), every key defaulted to a simulated station."""

    __slots__ = ()
    data_dir: Path
    sync: SyncConfig
    api: dict

    def __new__(cls, *args: Any, **kwargs: Any) -> "StationConfig":
        self = super().__new__(cls, *args, **kwargs)
        if self.data_dir is None or self.sync is None or self.api is None:
            self = self._replace(
                data_dir=default_data_dir() if self.data_dir is None else self.data_dir,
                sync=SyncConfig() if self.sync is None else self.sync,
                api={} if self.api is None else self.api)
        return self

    @property
    def database(self) -> Path:
        return self.data_dir / "results.sqlite3"

    @property
    def simulated(self) -> bool:
        return self.hardware == "sim"


# The expander drivers drivers.mcp23017.backends.make_expander knows (a test keeps them equal;
# importing that module here would cost every command its import time).
EXPANDER_BACKENDS = ("pibench", "adafruit")
SYNC_BACKENDS = ("none", "inventree", "generic")
# Rates a serial barcode scanner can be set to; anything else is a typo (96000, 115000).
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"  # (compiled on first use, in re's cache)

_KNOWN = {
    "station": {"id", "hardware", "data_dir", "plans_dirs", "fixtures_dirs", "sim_faults"},
    "hardware": {"i2c_bus", "expander_backend"},
    "scanner": {"url", "baudrate"},
    "sync": None,  # its own keys are checked by edge.sync.settings (called from here)
    "api": None,  # checked by edge.api.settings (called from here)
}


def load_config(path: Path | None) -> StationConfig:
    """The station's configuration, every key checked for type and range (the ``[sync]``
    section through :mod:`edge.sync.settings`, so ``pibench run`` and ``pibench station``
    refuse the same files). Errors are :class:`ConfigError` reading ``file:line: key: what``."""
    if path is None:
        return StationConfig()
    return _ConfigReader(read_toml(path, ConfigError), Path(path)).build()


class _ConfigReader(Checker):
    def __init__(self, src: TomlSource, path: Path) -> None:
        super().__init__(src)
        self.path = path
        self.base = path.resolve().parent

    def rel(self, p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else self.base / q

    def build(self) -> StationConfig:
        raw = self.src.data
        self.only(raw, (), set(_KNOWN), what="section")
        st = self.table(raw, (), "station")
        hw = self.table(raw, (), "hardware")
        sc = self.table(raw, (), "scanner")
        sync = self.table(raw, (), "sync")
        for section, allowed in _KNOWN.items():
            if allowed is not None:
                self.only(raw.get(section, {}), (section,), allowed)

        at = ("station",)
        hardware = self.string(st, at, "hardware", default="sim", choices=("sim", "real"))
        station_id = self.string(st, at, "id", default="station", example='"bench-1"')
        data_dir = (self.rel(self.string(st, at, "data_dir", example='"/var/lib/pibench"'))
                    if "data_dir" in st else default_data_dir())
        plans = self.string_list(st, at, "plans_dirs", '["/etc/pibench/plans"]')
        fixtures = self.string_list(st, at, "fixtures_dirs", '["/etc/pibench/fixtures"]')
        sim_faults = tuple(self.string_list(st, at, "sim_faults", '["wrong-resistor"]'))
        if sim_faults:
            self.check_sim_faults(sim_faults, hardware)

        at = ("hardware",)
        i2c_bus = self.i2c_bus(hw, at)
        backend = self.string(hw, at, "expander_backend", default="pibench",
                              choices=EXPANDER_BACKENDS)

        at = ("scanner",)
        scanner_url = self.string(sc, at, "url", default="", allow_empty=True)
        baudrate = self.integer(sc, at, "baudrate", "9600", default=9600)
        if baudrate not in BAUDRATES:
            raise self.fail((*at, "baudrate"), f"expected one of the serial rates "
                            f"{', '.join(map(str, BAUDRATES))}, got {baudrate}")

        return StationConfig(
            station_id=station_id,
            hardware=hardware,
            data_dir=data_dir,
            plans_dirs=(*(self.rel(p) for p in plans), BUILTIN_PLANS),
            fixtures_dirs=(*(self.rel(p) for p in fixtures), BUILTIN_FIXTURES),
            sim_faults=sim_faults,
            i2c_bus=i2c_bus,
            expander_backend=backend,
            scanner_url=scanner_url,
            scanner_baudrate=baudrate,
            sync=self.sync(sync),
            api=self.api(raw),
            source=self.path,
        )

    def i2c_bus(self, hw: dict[str, Any], at: tuple[str, ...]) -> int | str:
        value = hw.get("i2c_bus", 1)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if isinstance(value, str) and (value.startswith("/dev/") or value.startswith("sim:")):
            return value
        raise self.fail((*at, "i2c_bus"), "expected a bus number (1 is the header's "
                        "/dev/i2c-1) or a device path such as \"/dev/i2c-1\", got "
                        f"{describe_value(value)}")

    def check_sim_faults(self, names: tuple[str, ...], hardware: str) -> None:
        at = ("station", "sim_faults")
        if hardware != "sim":
            raise self.fail(at, "simulated faults need the simulated station "
                            "(hardware = \"sim\")")
        from edge.fixtures.sim_faults import parse_faults  # only a simulated station pays

        try:
            parse_faults(names)
        except SettingsFileError as exc:
            raise self.fail(at, str(exc)) from None

    def api(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The [api] table, its keys checked (the token file itself is read by the station
        that serves the API, not by every command that reads this file)."""
        from edge.api.settings import api_settings

        table = dict(self.table(raw, (), "api"))
        api_settings(StationConfig(api=table, source=self.path), read_token=False)
        return table

    def sync(self, table: dict[str, Any]) -> SyncConfig:
        at = ("sync",)
        options = dict(table)
        backend = self.string(options, at, "backend", default="none", choices=SYNC_BACKENDS)
        url = self.string(options, at, "url", default="", allow_empty=True)
        token_file = self.string(options, at, "token_file", default="", allow_empty=True)
        token_env = self.string(options, at, "token_env", default="PIBENCH_INVENTORY_TOKEN")
        if not re.match(_ENV_NAME, token_env):
            raise self.fail((*at, "token_env"), "expected the name of an environment variable "
                            f"(letters, digits, _), got {token_env!r}")
        for key in ("backend", "url", "token_file", "token_env"):
            options.pop(key, None)
        config = SyncConfig(backend=backend, url=url,
                            token_file=self.rel(token_file) if token_file else None,
                            token_env=token_env, options=options)
        from edge.sync.settings import SyncSettingsError, from_station_config

        try:
            from_station_config(config)
        except SyncSettingsError as exc:
            key = tuple(getattr(exc, "key", ()) or ())
            raise self.fail((*at, *key), str(exc)) from None
        return config
