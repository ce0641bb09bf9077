"""The generic JSON-over-HTTP backend: POST the snapshot with an ``Idempotency-Key``.

The contract (docs/sync.md): 2xx = stored, 409 = stored before (a retry of a delivered run), the
receiver de-duplicates on the key. So reconciling an ambiguous attempt is just sending the same
bytes again, and no pre-send mark is needed.

Transport: the standard library's ``http.client`` (``edge/sync/http_transport.py``). A delivery
is one small POST on a kept-alive connection: ``requests`` added about a millisecond of Python
per request (measured by bench/bench_sync.py), which halved the drain rate after an outage, and
urllib3 and requests together about 5 MiB to the station process (bench/bench_station_rss.py).
Proxies and a CA bundle are still taken from the usual environment variables, once.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from edge.sync import outcomes
from edge.sync.backends.base import AuditResult, OutboxItem
from edge.sync.http_classify import classify_exception, classify_http, is_json_type
from edge.sync.http_transport import HttpTransport, Response, TransportError
from edge.sync.outcomes import Outcome
from edge.sync.settings import SyncSettings
from edge.sync.user_agent import user_agent


class GenericBackend:
    needs_presend_mark = False

    def __init__(self, settings: SyncSettings, token: str) -> None:
        self.settings = settings
        self.http = HttpTransport(settings.connect_timeout_s, settings.read_timeout_s)
        self.headers = {"User-Agent": user_agent(), "Accept": "application/json"}
        self.set_token(token)

    def set_token(self, token: str) -> None:
        g = self.settings.generic
        self.headers[g.auth_header] = f"{g.auth_scheme} {token}" if g.auth_scheme else token

    def _request(self, method: str, url: str, body: bytes | None = None,
                 extra: dict[str, str] | None = None) -> Response:
        # Never redirected, never retried here: a proxy's 3xx must not turn our POST into a GET
        # somewhere else, and a retry is the runner's decision (with the same key).
        return self.http.request(method, url, body, {**self.headers, **(extra or {})})

    def probe(self, now: float) -> Outcome:
        url = self.settings.generic.probe_url or self.settings.url
        try:
            response = self._request("GET", url)
        except TransportError as exc:
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
        except TransportError as exc:
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
        self.http.close()
