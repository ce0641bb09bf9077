"""Station configuration: one TOML file (``/etc/pibench/station.toml`` when installed).

Every key has a default that gives a working *simulated* station, so a developer needs no file
at all. Paths in the file are relative to the file's directory.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edge.errors import SettingsFileError

PACKAGE_DIR = Path(__file__).resolve().parent
BUILTIN_PLANS = PACKAGE_DIR / "products" / "plans"
BUILTIN_FIXTURES = PACKAGE_DIR / "products" / "fixtures"


class ConfigError(SettingsFileError):
    """A configuration file that cannot be used; the message names the file and key."""


def default_data_dir() -> Path:
    env = os.environ.get("PIBENCH_DATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "pibench"


@dataclass(frozen=True)
class SyncConfig:
    backend: str = "none"  # "none" | "inventree" | "generic"
    url: str = ""
    token_file: Path | None = None
    token_env: str = "PIBENCH_INVENTORY_TOKEN"
    options: dict = field(default_factory=dict)  # backend-specific keys, passed through


@dataclass(frozen=True)
class StationConfig:
    station_id: str = "sim-station"
    hardware: str = "sim"  # "sim" or "real"
    data_dir: Path = field(default_factory=default_data_dir)
    plans_dirs: tuple[Path, ...] = (BUILTIN_PLANS,)
    fixtures_dirs: tuple[Path, ...] = (BUILTIN_FIXTURES,)
    i2c_bus: int | str = 1
    expander_backend: str = "pibench"  # or "adafruit"
    scanner_url: str = ""  # e.g. /dev/serial/by-id/usb-…; empty: keyboard scanner only
    scanner_baudrate: int = 9600
    sim_faults: tuple[str, ...] = ()  # simulated station only: "wrong-resistor", …
    sync: SyncConfig = field(default_factory=SyncConfig)
    api: dict = field(default_factory=dict)  # the raw [api] table: edge/api/settings.py checks it
    source: Path | None = None  # the file this came from, for messages

    @property
    def database(self) -> Path:
        return self.data_dir / "results.sqlite3"

    @property
    def simulated(self) -> bool:
        return self.hardware == "sim"


_KNOWN = {
    "station": {"id", "hardware", "data_dir", "plans_dirs", "fixtures_dirs", "sim_faults"},
    "hardware": {"i2c_bus", "expander_backend"},
    "scanner": {"url", "baudrate"},
    "sync": None,  # backend-specific keys pass through
    "api": None,  # checked by edge/api/settings.py
}


def load_config(path: Path | None) -> StationConfig:
    if path is None:
        return StationConfig()
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    base = path.resolve().parent

    def rel(p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else base / q

    for section, keys in raw.items():
        if section not in _KNOWN:
            raise ConfigError(f"{path}: unknown section [{section}] (known: {', '.join(_KNOWN)})")
        allowed = _KNOWN[section]
        if allowed is not None:
            for key in keys:
                if key not in allowed:
                    known = ", ".join(sorted(allowed))
                    raise ConfigError(f"{path}: unknown key '{key}' in [{section}] ({known})")
    st, hw, sc = raw.get("station", {}), raw.get("hardware", {}), raw.get("scanner", {})
    sync = dict(raw.get("sync", {}))
    hardware = st.get("hardware", "sim")
    if hardware not in ("sim", "real"):
        raise ConfigError(f"{path}: [station] hardware must be 'sim' or 'real', not {hardware!r}")
    backend = sync.pop("backend", "none")
    if backend not in ("none", "inventree", "generic"):
        raise ConfigError(
            f"{path}: [sync] backend must be 'none', 'inventree' or 'generic', not {backend!r}"
        )
    token_file = sync.pop("token_file", None)
    return StationConfig(
        station_id=str(st.get("id", "station")),
        hardware=hardware,
        data_dir=rel(st["data_dir"]) if "data_dir" in st else default_data_dir(),
        plans_dirs=(*(rel(p) for p in st.get("plans_dirs", [])), BUILTIN_PLANS),
        fixtures_dirs=(*(rel(p) for p in st.get("fixtures_dirs", [])), BUILTIN_FIXTURES),
        sim_faults=tuple(st.get("sim_faults", ())),
        i2c_bus=hw.get("i2c_bus", 1),
        expander_backend=hw.get("expander_backend", "pibench"),
        scanner_url=sc.get("url", ""),
        scanner_baudrate=int(sc.get("baudrate", 9600)),
        sync=SyncConfig(
            backend=backend,
            url=str(sync.pop("url", "")),
            token_file=rel(token_file) if token_file else None,
            token_env=str(sync.pop("token_env", "PIBENCH_INVENTORY_TOKEN")),
            options=sync,
        ),
        api=dict(raw.get("api", {})),
        source=path,
    )
