"""Map an HTTP response or a transport exception to an :class:`~edge.sync.outcomes.Outcome`.

Shared by both backends so a 503 means the same thing whichever inventory the shop runs. The
generic backend sends with ``http.client`` (``edge/sync/http_transport.py``), InvenTree's
through ``requests``: this module imports neither library, it recognises the exceptions of the
ones already loaded (an exception of a library nobody imported cannot be raised).
"""

from __future__ import annotations

import email.utils
import math
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from edge.sync import outcomes
from edge.sync.http_transport import ConnectFailed, ExchangeFailed
from edge.sync.outcomes import RETRY_AFTER_MAX_S, Outcome
from edge.sync.secrets import REDACTOR, describe_error

if TYPE_CHECKING:
    import requests

# RETRY_AFTER_MAX_S (the clamp on a server's Retry-After) lives in edge.sync.outcomes, so the
# runner and the status can use it without importing requests through this module.

_TRANSIENT_STATUSES = {408, 425, 429, 500, 503}
# The proxy may have forwarded the request before failing: the server may hold the run.
_AMBIGUOUS_STATUSES = {502, 504}


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date (RFC 9110).

    Returns None for a missing or unparsable header; never negative; clamped to an hour.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - now
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)


def _excerpt(body: bytes | str, limit: int = 200) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return REDACTOR.redact(" ".join(text.split()))[:limit]


def is_json_type(content_type: str | None) -> bool:
    ctype = (content_type or "").split(";")[0].strip().lower()
    return ctype in ("application/json", "application/problem+json")


def is_json(response: requests.Response) -> bool:
    return is_json_type(response.headers.get("Content-Type"))


def classify_http(
    status: int,
    headers: Mapping[str, str],
    body: bytes | str,
    now: float,
    what: str,
    sent_body: bool,
) -> Outcome | None:
    """The outcome of a non-2xx answer, or None for 2xx (the caller decides what success means).

    ``headers`` must look names up case-insensitively (both requests and urllib3 give such a
    mapping). ``sent_body`` says whether the request could have changed server state (a
    POST/PATCH): only then can a proxy error leave the run stored without our knowing.
    """
    if 200 <= status < 300:
        return None
    outcome = _classify_http(status, headers, body, now, what, sent_body)
    return outcome._replace(http_status=status)


def _classify_http(
    status: int,
    headers: Mapping[str, str],
    body: bytes | str,
    now: float,
    what: str,
    sent_body: bool,
) -> Outcome:
    retry_after = parse_retry_after(headers.get("Retry-After"), now)
    reason = f"{what}: HTTP {status}"
    excerpt = _excerpt(body)
    if excerpt:
        reason += f" {excerpt}"
    if status in (401, 403):
        return outcomes.auth(reason)
    if status in _AMBIGUOUS_STATUSES:
        if sent_body:
            return outcomes.ambiguous(reason, retry_after)
        return outcomes.transient(reason, retry_after)
    if status in _TRANSIENT_STATUSES:
        # A 500 from the origin can follow a partial commit in a careless server; reconciling
        # costs one GET, a duplicate costs a wrong verdict. A 429/503/408 was refused unseen.
        return outcomes.transient(
            reason, retry_after, may_have_committed=sent_body and status == 500
        )
    if 300 <= status < 400:
        # Redirects are not followed for POSTs (requests would turn them into GETs): the URL is
        # wrong and only the configuration can fix it.
        where = headers.get("Location", "?")
        return outcomes.permanent(f"{what}: HTTP {status} redirect to {where}: fix the URL")
    if 400 <= status < 500:
        return outcomes.permanent(reason)
    # Anything else (5xx we do not know, 1xx oddities): treat as transient, the backoff is capped.
    return outcomes.transient(reason, retry_after, may_have_committed=sent_body)


def classify_status(
    response: requests.Response, now: float, what: str, sent_body: bool
) -> Outcome | None:
    """:func:`classify_http` for a ``requests`` response."""
    try:
        body = response.content or b""
    except Exception:
        body = b""
    return classify_http(response.status_code, response.headers, body, now, what, sent_body)


def classify_exception(exc: BaseException, what: str, sent_body: bool) -> Outcome:
    """Network-level failures (our ``http.client`` transport, ``requests`` or ``urllib3``).
    Connect-phase errors prove nothing reached the server."""
    reason = f"{what}: {describe_error(exc)}"
    if isinstance(exc, ConnectFailed):
        return outcomes.nothing_sent(reason)
    if isinstance(exc, ExchangeFailed):
        return outcomes.ambiguous(reason) if sent_body else outcomes.transient(reason)
    urllib3 = sys.modules.get("urllib3")
    if urllib3 is not None and isinstance(exc, urllib3.exceptions.HTTPError):
        return _classify_urllib3(urllib3, exc, reason, sent_body)
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(exc, requests.exceptions.RequestException):
        return _classify_requests(requests, exc, reason, sent_body)
    if isinstance(exc, OSError):
        return outcomes.ambiguous(reason) if sent_body else outcomes.transient(reason)
    return outcomes.transient(reason, may_have_committed=sent_body)


def _classify_requests(requests: Any, exc: BaseException, reason: str,
                       sent_body: bool) -> Outcome:
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
        return outcomes.nothing_sent(reason)
    if isinstance(exc, requests.exceptions.ConnectionError):
        # requests raises ConnectionError both for "refused" and for "reset while reading the
        # answer"; only the connect-phase failures are wrapped around a NewConnectionError.
        text = repr(exc)
        markers = ("NewConnectionError", "NameResolutionError", "Failed to resolve")
        if any(m in text for m in markers):
            return outcomes.nothing_sent(reason)
        if sent_body:
            return outcomes.ambiguous(reason)
        return outcomes.transient(reason)
    if isinstance(exc, requests.exceptions.ReadTimeout | requests.exceptions.ChunkedEncodingError):
        return outcomes.ambiguous(reason) if sent_body else outcomes.transient(reason)
    if isinstance(exc, requests.exceptions.InvalidJSONError):
        return outcomes.transient(reason, may_have_committed=sent_body)
    if isinstance(exc, OSError):  # requests' other errors are IOErrors too
        return outcomes.ambiguous(reason) if sent_body else outcomes.transient(reason)
    return outcomes.transient(reason, may_have_committed=sent_body)


def _classify_urllib3(urllib3: Any, exc: BaseException, reason: str,
                      sent_body: bool) -> Outcome:
    # NewConnectionError and NameResolutionError are ConnectTimeoutError subclasses.
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError | urllib3.exceptions.SSLError):
        return outcomes.nothing_sent(reason)
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | urllib3.exceptions.ProtocolError):
        return outcomes.ambiguous(reason) if sent_body else outcomes.transient(reason)
    return outcomes.transient(reason, may_have_committed=sent_body)
