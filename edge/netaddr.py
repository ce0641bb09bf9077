"""Is a listening address this machine only? One answer for the station's API and the HMI's
web server, which both refuse a network address without a token. Standard library only, so the
HMI may import it without pulling in anything its import contracts forbid."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ``::1`` (brackets allowed): reachable from this machine
    only. A name other than localhost is not trusted to resolve to loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


__all__ = ["is_loopback"]
