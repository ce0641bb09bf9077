"""Running a station with its service and API: what ``pibench station`` wraps its work in."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from edge.api.settings import ApiSettings
from edge.config import ConfigError
from edge.engine import StationError
from edge.service import ServiceSettings, StationService

# What binding a listening socket can fail with; anything else is not the address's fault.
_ADDRESS_ERRNOS = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES, errno.EINVAL)


@contextmanager
def hosted(station: Any, api: ApiSettings, out: TextIO,
           on_url: Any = None) -> Iterator[StationService]:
    """The service over an open station, and the API over the service when it is on. On the
    way out the API stops first, then the service waits for a run in progress to end."""
    service = StationService(station, ServiceSettings(start_on_scan=api.start_on_scan))
    service.start()
    server = None
    try:
        if api.enabled:
            from edge.api.server import ApiServer

            server = ApiServer(service, api)
            try:
                url = server.start()
            except OSError as exc:
                if exc.errno not in _ADDRESS_ERRNOS and not isinstance(exc, socket.gaierror):
                    # Not about the address (e.g. a data file of the installed package is
                    # missing): say so, rather than blame the [api] listen setting.
                    raise StationError(f"the station's API cannot start: {exc}") from exc
                if exc.errno != errno.EADDRINUSE or "listen" in station.config.api:
                    source = station.config.source or "configuration"
                    raise ConfigError(f"{source}: [api] listen: cannot listen on "
                                      f"{api.host}:{api.port}: {exc.strerror}") from None
                # The default port is taken (a second station on this machine, a test): any
                # free loopback port will do, clients find it in the station's owner record.
                server = ApiServer(service, api._replace(port=0))
                url = server.start()
            # Advertised (the owner record) before said: a command started on seeing the line
            # (another `pibench run`, an HMI) finds the address where it looks for it.
            if on_url is not None:
                on_url(url)
            print(f"  api: {url}", file=out, flush=True)
        yield service
    finally:
        if server is not None:
            server.stop()
        service.close()
