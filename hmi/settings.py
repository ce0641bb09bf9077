"""Where the HMI finds the station, and with which token. No Textual import. Order: ``--url`` /
``--token-file`` on the command line, then ``PIBENCH_API_URL`` / ``PIBENCH_API_TOKEN_FILE``,
then the station's own ``station.toml`` ([api] listen and token_file), then the address the
running station advertises in its owner record, then the station's default address. The owner
record matters when ``listen`` is not configured and the default port was taken: the station
then listens on any free loopback port and writes that address, as ``api``, into ``<data
dir>/owner.lock`` (a JSON object). The HMI reads that file as plain JSON; it does not import the
station's modules (the import contracts keep it a pure client). The token is read from its file
only (0600), never from the command line, where any user could read it in the process list.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:8750"
OWNER_RECORD = "owner.lock"  # in the station's data directory; JSON, "api" once it serves one
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class HmiSettingsError(Exception):
    """A setting the HMI cannot use; the message says which and why."""


@dataclass(frozen=True)
class HmiSettings:
    url: str = DEFAULT_URL
    token: str | None = None
    # Where the station advertises its address, when the address was not given explicitly
    # (--url, PIBENCH_API_URL, [api] listen): read again after each failed connection.
    owner_dir: Path | None = None

    def rediscover(self) -> str | None:
        return advertised_url(self.owner_dir) if self.owner_dir is not None else None

    def __repr__(self) -> str:  # the token never reaches a log through a repr
        return f"HmiSettings(url={self.url!r}, token={'set' if self.token else None})"


def read_token(path: Path) -> str:
    try:
        st = path.stat()
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise HmiSettingsError(f"token file {path}: {exc.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise HmiSettingsError(f"token file {path} is readable by other users "
                               f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}")
    if not text:
        raise HmiSettingsError(f"token file {path} is empty")
    return text


def _from_station_config(path: Path) -> tuple[str | None, Path | None, Path | None]:
    """[api] listen and token_file, and [station] data_dir, of the station's station.toml.
    Read here with tomllib, not through edge.config: that module builds the whole station
    (sync, fixtures), and the HMI is only a client. The station itself checks the file; the
    HMI only needs these three keys."""
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
        api = dict(doc.get("api") or {})
        station = dict(doc.get("station") or {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise HmiSettingsError(f"{path}: {exc}") from None
    url = None
    listen = api.get("listen")
    if isinstance(listen, str) and listen.strip().lower() != "off":
        host, _, port = listen.rpartition(":")
        host = host.strip("[]")
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"  # the station listens everywhere; the panel is on the station
        url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    token_file = api.get("token_file")
    token_path = None
    if isinstance(token_file, str) and token_file:
        token_path = Path(token_file).expanduser()
        if not token_path.is_absolute():
            token_path = path.resolve().parent / token_path
    data_dir = None
    if isinstance(station.get("data_dir"), str) and station["data_dir"]:
        data_dir = Path(station["data_dir"]).expanduser()
        if not data_dir.is_absolute():
            data_dir = path.resolve().parent / data_dir
    return url, token_path, data_dir


def default_data_dir() -> Path:
    """The station's data directory when station.toml does not name one (the same rule as
    the station's: ``PIBENCH_DATA_DIR``, else ``$XDG_DATA_HOME/pibench``, else
    ``~/.local/share/pibench``)."""
    env = os.environ.get("PIBENCH_DATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "pibench"


def advertised_url(data_dir: Path) -> str | None:
    """The ``api`` address in the station's owner record, if a station advertises one there.
    Only a loopback http address is taken: the file is the station's, but the HMI never sends its
    token anywhere else on the strength of a file's word."""
    try:
        data = json.loads((data_dir / OWNER_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no station, or one still writing its record
    api = data.get("api") if isinstance(data, dict) else None
    if not isinstance(api, str):
        return None
    parts = urlsplit(api)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "http" or parts.hostname not in LOOPBACK or not port:
        return None
    return api.rstrip("/")


def resolve(url: str | None = None, token_file: str | None = None,
            station_config: str | None = None) -> HmiSettings:
    config_url, config_token, data_dir = (None, None, None)
    config_path = station_config or os.environ.get("PIBENCH_CONFIG")
    if config_path:
        config_url, config_token, data_dir = _from_station_config(Path(config_path))
    explicit = url or os.environ.get("PIBENCH_API_URL") or config_url
    owner_dir = None if explicit else (data_dir or default_data_dir())
    url = explicit or advertised_url(owner_dir) or DEFAULT_URL
    token_path = token_file or os.environ.get("PIBENCH_API_TOKEN_FILE") or config_token
    token = read_token(Path(token_path)) if token_path else None
    return HmiSettings(url.rstrip("/"), token, owner_dir)
