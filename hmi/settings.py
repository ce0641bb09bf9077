"""Where the HMI finds the station, and with which token. No Textual import.

Order: ``--url`` / ``--token-file`` on the command line, then ``PIBENCH_API_URL`` /
``PIBENCH_API_TOKEN_FILE``, then the station's own ``station.toml`` ([api] listen and token_file),
then the station's default address. The token is read from its file only (0600), never from the
command line, where any user could read it in the process list.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8750"


class HmiSettingsError(Exception):
    """A setting the HMI cannot use; the message says which and why."""


@dataclass(frozen=True)
class HmiSettings:
    url: str = DEFAULT_URL
    token: str | None = None

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


def _from_station_config(path: Path) -> tuple[str | None, Path | None]:
    """[api] listen and token_file of the station's station.toml. Read here with tomllib, not
    through edge.config: that module builds the whole station (sync, fixtures), and the HMI is
    only a client. The station itself checks the file; the HMI only needs these two keys."""
    try:
        with open(path, "rb") as f:
            api = dict(tomllib.load(f).get("api") or {})
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
    return url, token_path


def resolve(url: str | None = None, token_file: str | None = None,
            station_config: str | None = None) -> HmiSettings:
    config_url, config_token = (None, None)
    config_path = station_config or os.environ.get("PIBENCH_CONFIG")
    if config_path:
        config_url, config_token = _from_station_config(Path(config_path))
    url = url or os.environ.get("PIBENCH_API_URL") or config_url or DEFAULT_URL
    token_path = token_file or os.environ.get("PIBENCH_API_TOKEN_FILE") or config_token
    token = read_token(Path(token_path)) if token_path else None
    return HmiSettings(url.rstrip("/"), token)
