"""The ``requests.Session`` both backends send through: keep-alive, and the environment read once.

With ``trust_env`` on, requests re-reads the proxy variables and ``~/.netrc`` on *every* request
(about a millisecond each on a Pi-class CPU, a third of a loopback delivery). A station's proxy
and CA settings do not change while it runs, so they are read once here and ``trust_env`` is off.
"""

from __future__ import annotations

import os

from edge.sync.requests_lean import requests
from edge.sync.user_agent import user_agent


def make_session(url: str) -> requests.Session:
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(url))
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle:
        session.verify = ca_bundle
    session.trust_env = False
    session.headers["User-Agent"] = user_agent()
    return session
