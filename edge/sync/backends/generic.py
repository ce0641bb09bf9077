"""The generic JSON-over-HTTP backend: POST the snapshot with an ``Idempotency-Key``.

The contract (docs/sync.md): 2xx = stored, 409 = stored before (a retry of a delivered run), the
receiver de-duplicates on the key. So reconciling an ambiguous attempt is just sending the same
bytes again, and no pre-send mark is needed.
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from edge.sync import outcomes
from edge.sync.backends.base import OutboxItem
from edge.sync.http_classify import classify_exception, classify_status, is_json
from edge.sync.http_session import make_session
from edge.sync.outcomes import Outcome
from edge.sync.settings import SyncSettings


class GenericBackend:
    needs_presend_mark = False

    def __init__(self, settings: SyncSettings, token: str) -> None:
        self.settings = settings
        self.session = make_session(settings.url)
        self.set_token(token)

    def set_token(self, token: str) -> None:
        g = self.settings.generic
        value = f"{g.auth_scheme} {token}" if g.auth_scheme else token
        self.session.headers[g.auth_header] = value

    def probe(self, now: float) -> Outcome:
        url = self.settings.generic.probe_url or self.settings.url
        try:
            response = self.session.get(url, timeout=self.settings.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            return classify_exception(exc, "probe", sent_body=False)
        # Any answer from the application (even 404/405 to a GET) means it is reachable; only
        # the overload and gateway answers say "still down".
        if response.status_code in (429, 502, 503, 504):
            result = classify_status(response, now, "probe", sent_body=False)
            assert result is not None
            return result
        return outcomes.delivered(reason=f"probe: HTTP {response.status_code}")

    def check_auth(self, now: float) -> Outcome | None:
        return None  # no cheap authenticated call in the contract: the next delivery tells

    def deliver(self, item: OutboxItem, now: float, before_send: Callable[[], None]) -> Outcome:
        before_send()
        try:
            response = self.session.post(
                self.settings.url,
                data=item.payload.encode("utf-8"),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Idempotency-Key": item.run_id,
                },
                timeout=self.settings.timeout,
                # A proxy's 3xx must not turn our POST into a GET somewhere else: not followed.
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return classify_exception(exc, "POST result", sent_body=True)
        if response.status_code == 409:
            return outcomes.delivered(self._ref(response, item), reason="already delivered")
        failure = classify_status(response, now, "POST result", sent_body=True)
        if failure is not None:
            return failure
        if response.status_code != 204 and response.content and not is_json(response):
            # A captive portal or WAF page answering 200: the endpoint never saw the run.
            ctype = response.headers.get("Content-Type", "?")
            return outcomes.transient(f"POST result: HTTP {response.status_code} with {ctype}, "
                                      "not JSON (a proxy page?)", may_have_committed=True)
        return outcomes.delivered(self._ref(response, item))

    @staticmethod
    def _ref(response: requests.Response, item: OutboxItem) -> str:
        try:
            doc = response.json()
        except ValueError:
            return item.run_id
        ref = doc.get("id") if isinstance(doc, dict) else None
        return str(ref) if ref is not None else item.run_id

    def forget_cache(self) -> None:
        pass

    def close(self) -> None:
        self.session.close()
