"""The generic JSON-over-HTTP backend: POST the snapshot with an ``Idempotency-Key``.

The contract (docs/sync.md): 2xx = stored, 409 = stored before (a retry of a delivered run), the
receiver de-duplicates on the key. So reconciling an ambiguous attempt is just sending the same
bytes again, and no pre-send mark is needed.

Transport: ``urllib3`` directly (it is what ``requests`` runs on). A delivery is one small POST on
a kept-alive connection; ``requests`` adds about a millisecond of Python per request on top
(measured by bench/bench_sync.py), which halved the drain rate after an outage. urllib3 >= 2.3
is guaranteed by ``inventree``'s own requirements. Proxies and a CA bundle are still taken from
the usual environment variables (and requests' CA bundle by default), once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from urllib.parse import urlsplit

import urllib3
from requests.certs import where as default_ca_bundle
from requests.utils import get_environ_proxies

from edge.sync import outcomes
from edge.sync.backends.base import AuditResult, OutboxItem
from edge.sync.http_classify import classify_exception, classify_http, is_json_type
from edge.sync.outcomes import Outcome
from edge.sync.settings import SyncSettings
from edge.sync.user_agent import user_agent


def _pool_manager(url: str, timeout: urllib3.Timeout) -> urllib3.PoolManager:
    ca_certs = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or (
        default_ca_bundle())
    common = {"num_pools": 2, "maxsize": 1, "retries": False, "timeout": timeout,
              "ca_certs": ca_certs}
    proxy = get_environ_proxies(url).get(urlsplit(url).scheme)
    if proxy:
        return urllib3.ProxyManager(proxy, **common)
    return urllib3.PoolManager(**common)


class GenericBackend:
    needs_presend_mark = False

    def __init__(self, settings: SyncSettings, token: str) -> None:
        self.settings = settings
        timeout = urllib3.Timeout(connect=settings.connect_timeout_s,
                                  read=settings.read_timeout_s)
        self.http = _pool_manager(settings.url, timeout)
        self.headers = {"User-Agent": user_agent(), "Accept": "application/json"}
        self.set_token(token)

    def set_token(self, token: str) -> None:
        g = self.settings.generic
        self.headers[g.auth_header] = f"{g.auth_scheme} {token}" if g.auth_scheme else token

    def _request(self, method: str, url: str, body: bytes | None = None,
                 extra: dict[str, str] | None = None) -> urllib3.BaseHTTPResponse:
        # redirect=False: a proxy's 3xx must not turn our POST into a GET somewhere else.
        return self.http.request(method, url, body=body, headers={**self.headers, **(extra or {})},
                                 redirect=False, retries=False)

    def probe(self, now: float) -> Outcome:
        url = self.settings.generic.probe_url or self.settings.url
        try:
            response = self._request("GET", url)
        except urllib3.exceptions.HTTPError as exc:
            return classify_exception(exc, "probe", sent_body=False)
        # Any answer from the application (even 404/405 to a GET) means it is reachable; only
        # the overload and gateway answers say "still down".
        if response.status in (429, 502, 503, 504):
            result = classify_http(response.status, response.headers, response.data, now,
                                   "probe", sent_body=False)
            assert result is not None
            return result
        return outcomes.delivered(reason=f"probe: HTTP {response.status}")

    def check_auth(self, now: float) -> Outcome | None:
        return None  # no cheap authenticated call in the contract: the next delivery tells

    def deliver(self, item: OutboxItem, now: float, before_send: Callable[[], None]) -> Outcome:
        before_send()
        try:
            response = self._request("POST", self.settings.url, item.payload.encode("utf-8"), {
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": item.run_id,
            })
        except urllib3.exceptions.HTTPError as exc:
            return classify_exception(exc, "POST result", sent_body=True)
        ctype = response.headers.get("Content-Type", "")
        if response.status == 409:
            return outcomes.delivered(self._ref(response.data, item), reason="already delivered")
        failure = classify_http(response.status, response.headers, response.data, now,
                                "POST result", sent_body=True)
        if failure is not None:
            return failure
        if response.status != 204 and response.data and not is_json_type(ctype):
            # A captive portal or WAF page answering 200: the endpoint never saw the run.
            return outcomes.transient(f"POST result: HTTP {response.status} with {ctype or '?'}"
                                      ", not JSON (a proxy page?)", may_have_committed=True)
        return outcomes.delivered(self._ref(response.data, item))

    @staticmethod
    def _ref(body: bytes, item: OutboxItem) -> str:
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            return item.run_id
        ref = doc.get("id") if isinstance(doc, dict) else None
        return str(ref) if ref is not None else item.run_id

    def audit(self, item: OutboxItem, now: float) -> AuditResult:
        return AuditResult()  # the receiver de-duplicates on Idempotency-Key: nothing to remove

    def forget_cache(self) -> None:
        pass

    def close(self) -> None:
        self.http.clear()
