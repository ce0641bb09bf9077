"""The ``[api]`` table of station.toml: where the local API listens and who may use it.

    [api]
    listen = "127.0.0.1:8750"      # host:port; "off" serves no API; loopback unless a token is set
    token_file = "/etc/pibench/api-token"   # 0600; required for any non-loopback address
    allowed_origins = []           # browser origins allowed besides the station's own address
    start_on_scan = false          # a valid scan starts the run at once (else: wait for Start)

A non-loopback address without a token is refused at start-up (exit 78, naming the file, line
and key): the API can start runs and power boards, so it is never open to a network by default.
"""

import ipaddress
import re
import stat
from pathlib import Path
from typing import Any

from drivers.named_tuple import NamedTuple
from edge.config import ConfigError
from edge.netaddr import is_loopback

DEFAULT_LISTEN = "127.0.0.1:8750"
_KEYS = ("listen", "token_file", "allowed_origins", "start_on_scan")
_ORIGIN = r"^https?://[A-Za-z0-9.\-\[\]:]+$"  # (compiled on first use, in re's cache)


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class ApiSettings(NamedTuple):
    host: str | None  # None: the API is off
    port: int = 8750
    token: str | None = None  # never logged, never shown
    token_file: Path | None = None
    allowed_origins: tuple[str, ...] = ()
    start_on_scan: bool = False

    @property
    def enabled(self) -> bool:
        return self.host is not None

    @property
    def loopback(self) -> bool:
        return self.host is not None and is_loopback(self.host)

    def __repr__(self) -> str:  # the token must not reach a log through a repr
        return (f"ApiSettings(host={self.host!r}, port={self.port}, "
                f"token={'set' if self.token else None}, origins={self.allowed_origins!r})")


def _line_of(path: Path | None, key: str) -> int | None:
    """The line of ``key`` in the file's [api] table, for the message."""
    if path is None:
        return None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    section = None
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if text.startswith("["):
            section = text.strip("[] \t")
        elif section == "api" and re.match(rf"{re.escape(key)}\s*=", text):
            return number
    return None


def _error(config: Any, key: str, message: str) -> ConfigError:
    source = getattr(config, "source", None)
    line = _line_of(source, key)
    where = f"{source}:{line}" if line else f"{source or 'configuration'}"
    return ConfigError(f"{where}: [api] {key}: {message}")


def _read_token(config: Any, path: Path) -> str:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _error(config, "token_file", f"token file {path} does not exist") from None
    except OSError as exc:
        raise _error(config, "token_file", f"cannot read {path}: {exc.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise _error(config, "token_file", f"token file {path} is readable by other users "
                     f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}")
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(config, "token_file", f"cannot read {path}: {exc}") from None
    if len(token) < 16:
        raise _error(config, "token_file", f"token in {path} is empty or shorter than 16 "
                     "characters (make one with: openssl rand -hex 32)")
    return token


def api_settings(config: Any, *, read_token: bool = True) -> ApiSettings:
    """Validate ``config.api`` (the raw [api] table); :class:`ConfigError` names file:line:key.
    ``read_token=False`` checks everything but the token file's contents and mode (for
    commands that only read the configuration)."""
    raw = dict(getattr(config, "api", None) or {})
    for key in raw:
        if key not in _KEYS:
            raise _error(config, key, f"unknown key (known: {', '.join(_KEYS)})")
    listen = raw.get("listen", DEFAULT_LISTEN)
    if not isinstance(listen, str):
        raise _error(config, "listen", f"must be a string like {DEFAULT_LISTEN!r} or 'off'")
    start_on_scan = raw.get("start_on_scan", False)
    if not isinstance(start_on_scan, bool):
        raise _error(config, "start_on_scan", "must be true or false")
    origins = raw.get("allowed_origins", [])
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise _error(config, "allowed_origins", "must be a list of origins like "
                     "['http://192.0.2.10:8750']")
    for origin in origins:
        if not re.match(_ORIGIN, origin):
            raise _error(config, "allowed_origins", f"{origin!r} is not an origin "
                         "(scheme://host[:port], no path)")
    token_file = raw.get("token_file")
    token = None
    if token_file is not None:
        if not isinstance(token_file, str) or not token_file:
            raise _error(config, "token_file", "must be a file path")
        path = Path(token_file).expanduser()
        if not path.is_absolute() and getattr(config, "source", None) is not None:
            path = Path(config.source).resolve().parent / path
        if read_token:
            token = _read_token(config, path)
            from edge.sync.secrets import REDACTOR

            REDACTOR.add_secret(token)  # whatever logs it by mistake shows it redacted
        else:
            token = "(not read)"
    if listen.strip().lower() == "off":
        return ApiSettings(None, start_on_scan=start_on_scan)
    host, sep, port_text = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise _error(config, "listen", f"{listen!r} is not host:port (e.g. {DEFAULT_LISTEN!r})")
    if not is_loopback(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise _error(config, "listen", f"{host!r} is not an IP address (use the address "
                         "to listen on, e.g. 0.0.0.0 or 192.0.2.10)") from None
        if token is None:
            raise _error(config, "listen", f"{listen!r} is not a loopback address: listening "
                         "on a network needs [api] token_file (a 0600 file holding the token "
                         "clients must send)")
    return ApiSettings(host, int(port_text), token, Path(token_file) if token_file else None,
                       tuple(origins), start_on_scan)
