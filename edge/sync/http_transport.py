"""The generic backend's HTTP client: the standard library's ``http.client``, one kept-alive
connection per origin, and failures said as what they prove about the server.

Why not urllib3/requests: the station process already has ``http.client`` (its local API parses
headers with it, and it brings ``ssl``); urllib3 and requests (with charset_normalizer, idna and
certifi's loader) added about 5 MiB to a station that must stay under 40 MiB
(bench/bench_station_rss.py), for one small POST per run. The InvenTree backend keeps the
official client and with it requests.

What a delivery must know about a failure (docs/sync.md, exactly-once delivery):

* :class:`ConnectFailed`: nothing reached the server (name resolution, refused, connect timeout,
  the proxy's CONNECT refused, the TLS handshake failed): the run was certainly not stored;
* :class:`ExchangeFailed`: the request may have been received (sending failed part-way, no
  answer within the read timeout, the connection closed before a whole answer): the run may be
  stored.

A kept-alive connection the server has closed while idle is noticed before it is reused (it is
readable: end of file) and replaced, so an idle timeout on the server's side is not taken for a
lost answer. Proxies (``http_proxy``/``https_proxy``/``no_proxy``) and a CA bundle
(``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, else certifi's when installed, else the system's)
are read once, as requests reads them. Redirects are never followed.
"""

import http.client
import os
import select
from typing import Any
from urllib.parse import urlsplit

from drivers.named_tuple import NamedTuple

_DEFAULT_PORTS = {"http": 80, "https": 443}


class TransportError(Exception):
    """A request that got no complete answer."""


class ConnectFailed(TransportError):
    """No connection to the server: nothing was sent."""


class ExchangeFailed(TransportError):
    """Connected, but no complete answer: the server may have received the request."""


# (a NamedTuple, not a frozen dataclass: no dataclasses at a station's start, issue 14)
class Response(NamedTuple):
    status: int
    headers: Any  # http.client.HTTPMessage: get() is case-insensitive
    data: bytes


def env_proxy(url: str) -> str | None:
    """The proxy URL the environment gives for ``url`` (None: connect directly), as requests
    and curl read it; ``urllib.request`` is imported only when a proxy variable is set."""
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None
    from urllib.request import getproxies_environment, proxy_bypass_environment

    parts = urlsplit(url)
    proxies = getproxies_environment()
    if parts.hostname and proxy_bypass_environment(parts.hostname, proxies):
        return None
    proxy = proxies.get(parts.scheme)
    if proxy and "://" not in proxy:  # "host:3128", as curl and requests accept it
        proxy = f"http://{proxy}"
    return proxy or None


def ca_bundle() -> str | None:
    """The CA file for https: the environment's, else certifi's (what requests used), else
    None (the system's store)."""
    found = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if found:
        return found
    try:
        import certifi
    except ImportError:
        return None
    return certifi.where()


class HttpTransport:
    """Requests with separate connect and read timeouts; one connection per origin."""

    def __init__(self, connect_timeout_s: float, read_timeout_s: float) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._connections: dict[tuple[str, str, int], http.client.HTTPConnection] = {}
        self._proxies: dict[tuple[str, str, int], str | None] = {}
        self._ssl_context: Any = None

    def request(self, method: str, url: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Response:
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ConnectFailed(f"cannot send to {url!r}: not an http(s) URL")
        try:
            origin = (parts.scheme, parts.hostname, parts.port or _DEFAULT_PORTS[parts.scheme])
        except ValueError as exc:  # a port that is not a number
            raise ConnectFailed(f"cannot send to {url!r}: {exc}") from None
        if origin not in self._proxies:
            self._proxies[origin] = env_proxy(url)
        proxy = self._proxies[origin]
        # Through a plain-http proxy the request line carries the whole URL; https tunnels.
        target = url if proxy and parts.scheme == "http" else (
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        conn = self._connected(origin, proxy)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            answer = conn.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ExchangeFailed(f"{method} {parts.hostname}: no complete answer: "
                                 f"{type(exc).__name__}: {exc}") from None
        if answer.will_close:
            conn.close()
        return Response(answer.status, answer.headers, data)

    def _connected(self, origin: tuple[str, str, int],
                   proxy: str | None) -> http.client.HTTPConnection:
        conn = self._connections.get(origin)
        if conn is not None and conn.sock is not None and _closed_by_peer(conn.sock):
            conn.close()
        if conn is None:
            conn = self._connections[origin] = self._new_connection(origin, proxy)
        if conn.sock is None:
            try:
                conn.connect()  # with the connect timeout; TLS handshake included
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                via = f" through the proxy {urlsplit(proxy).hostname}" if proxy else ""
                raise ConnectFailed(f"cannot connect to {origin[1]}:{origin[2]}{via}: "
                                    f"{type(exc).__name__}: {exc}") from None
            conn.sock.settimeout(self.read_timeout_s)
        return conn

    def _new_connection(self, origin: tuple[str, str, int],
                        proxy: str | None) -> http.client.HTTPConnection:
        scheme, host, port = origin
        via = urlsplit(proxy) if proxy else None
        if via is not None:
            connect_to = (via.hostname or "", via.port or _DEFAULT_PORTS.get(via.scheme, 80))
        else:
            connect_to = (host, port)
        if scheme == "https":
            if self._ssl_context is None:
                import ssl

                self._ssl_context = ssl.create_default_context(cafile=ca_bundle())
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                *connect_to, timeout=self.connect_timeout_s, context=self._ssl_context)
            if via is not None:
                conn.set_tunnel(host, port)
        else:
            conn = http.client.HTTPConnection(*connect_to, timeout=self.connect_timeout_s)
        return conn

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()


def _closed_by_peer(sock: Any) -> bool:
    """An idle kept-alive connection is readable only when the server closed it (or sent
    something unasked, which makes it unusable too)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


__all__ = ["ConnectFailed", "ExchangeFailed", "HttpTransport", "Response", "TransportError",
           "ca_bundle", "env_proxy"]
