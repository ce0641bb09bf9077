"""Starting the API: only an address problem is blamed on ``[api] listen``. Anything else (a
data file missing from an installed package, as the chroot install test once found) is said as
the API failing to start, with its cause, so an installer does not chase the wrong setting."""

from __future__ import annotations

import errno
import io

import pytest

from edge.api import hosting
from edge.api.server import ApiServer
from edge.api.settings import api_settings
from edge.config import ConfigError, StationConfig
from edge.engine import StationError
from edge.station import Station


def _station(tmp_path, listen: str) -> tuple[Station, object]:
    cfg = StationConfig(data_dir=tmp_path / "data", api={"listen": listen})
    return Station(cfg), api_settings(cfg)


def test_a_missing_package_file_is_not_called_a_listen_problem(tmp_path, monkeypatch):
    def broken_start(self):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "openapi.json")

    monkeypatch.setattr(ApiServer, "start", broken_start)
    station, api = _station(tmp_path, "127.0.0.1:0")
    with station, pytest.raises(StationError) as caught, hosting.hosted(station, api,
                                                                        io.StringIO()):
        pass
    assert "API cannot start" in str(caught.value) and "openapi.json" in str(caught.value)
    assert "listen" not in str(caught.value)


def test_an_address_in_use_on_a_configured_listen_is_a_configuration_error(tmp_path,
                                                                           monkeypatch):
    def taken(self):
        raise OSError(errno.EADDRINUSE, "Address already in use")

    monkeypatch.setattr(ApiServer, "start", taken)
    station, api = _station(tmp_path, "127.0.0.1:8750")
    with station, pytest.raises(ConfigError) as caught, hosting.hosted(station, api,
                                                                       io.StringIO()):
        pass
    assert "[api] listen: cannot listen on 127.0.0.1:8750" in str(caught.value)


def test_the_address_is_advertised_before_it_is_printed(tmp_path):
    """Whoever reads the printed address (a test, a script starting `pibench run` beside the
    station) may act on it at once: the owner record must hold it by then. Printed first, a
    `pibench run` started on that line could find no address and be refused as busy."""
    station, api = _station(tmp_path, "127.0.0.1:0")
    out = io.StringIO()
    printed_when_advertised: list[str] = []
    with station, hosting.hosted(station, api, out,
                                 on_url=lambda url: printed_when_advertised.append(
                                     out.getvalue())):
        pass
    assert printed_when_advertised == [""]
    assert out.getvalue().startswith("  api: http://127.0.0.1:")
