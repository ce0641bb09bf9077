"""The InvenTree backend, through the official ``inventree`` client where it is safe to.

Who makes which call, and why (inventory-api.md §2.4):

* **project-owned ``requests.Session``** for the unauthenticated ``GET /api/`` probe (the client's
  constructor conflates "down" and "bad token"), for ``GET /api/user/me/`` (auth check), and for
  the two delivery-critical calls, the bulk ``POST /api/stock/test/`` and the reconciling
  ``GET /api/stock/test/?stock_item=``: the client drops ``Retry-After``, has no connection reuse
  and puts the token into its exceptions.
* **the official client** (``InvenTreeAPI`` built with ``connect=False`` and the version we
  probed) for part and template discovery and for finding or creating the serialized stock item,
  and for the optional status ``PATCH``. Always ``raise_error=True`` (its ``list()`` returns
  ``[]`` on errors, which would look like "no such serial"), always a ``(connect, read)``
  timeout tuple, and its exceptions are turned into redacted outcomes here, never logged raw.

Exactly once: the run's marker goes into every result's ``notes``; before re-sending a run whose
earlier attempt may have reached the server, the item's results are searched for that marker.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import requests
from inventree.api import InvenTreeAPI
from inventree.part import Part, PartTestTemplate
from inventree.stock import StockItem

from edge.records import Outcome as RunOutcome
from edge.sync import outcomes
from edge.sync.backends.base import OutboxItem
from edge.sync.backends.inventree_mapping import MappingError, build_results, marker
from edge.sync.http_classify import classify_exception, classify_status, is_json
from edge.sync.http_session import make_session
from edge.sync.outcomes import Outcome, OutcomeClass
from edge.sync.secrets import REDACTOR, describe_error
from edge.sync.settings import SyncSettings

log = logging.getLogger(__name__)

_ITEM_CACHE_SIZE = 2048


class _Stop(Exception):
    """Carries an outcome out of a nested lookup."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def _client_failure(exc: BaseException, what: str, sent_body: bool) -> Outcome:
    """The client's exceptions as outcomes, without its token-laden text.

    Its ``HTTPError`` carries a dict (``status_code``, ``body``, and the request headers with the
    token) and no response, so ``Retry-After`` is gone; the runner's backoff applies instead.
    """
    if isinstance(exc, requests.exceptions.HTTPError) and exc.args and isinstance(
        exc.args[0], dict
    ):
        detail = exc.args[0]
        status = int(detail.get("status_code") or 0)
        body = REDACTOR.redact(" ".join(str(detail.get("body", "")).split()))[:200]
        fake = requests.Response()
        fake.status_code = status
        fake._content = body.encode()
        return classify_status(fake, 0.0, what, sent_body) or outcomes.transient(
            f"{what}: HTTP {status}"
        )
    if isinstance(exc, requests.RequestException | OSError):
        return classify_exception(exc, what, sent_body)
    # The client raises bare Exception/ValueError for odd answers (bad API version text...).
    return outcomes.transient(f"{what}: {describe_error(exc)}", may_have_committed=sent_body)


class InvenTreeBackend:
    needs_presend_mark = True  # no idempotency keys on InvenTree: reconcile by marker instead

    def __init__(self, settings: SyncSettings, token: str) -> None:
        self.settings = settings
        self.opts = settings.inventree
        self.base = settings.url.rstrip("/")
        if self.base.endswith("/api"):
            self.base = self.base[: -len("/api")]
        self.session = make_session(self.base)
        self.session.headers["Accept"] = "application/json"
        self._token = ""
        self.set_token(token)
        self._client: InvenTreeAPI | None = None
        self.api_version: int | None = None
        self._parts: dict[str, int] = {}  # product -> part pk
        self._templates: dict[int, dict[str, int]] = {}  # part pk -> key -> template pk
        self._items: OrderedDict[tuple[int, str], int] = OrderedDict()  # (part, serial) -> pk

    # ---- plumbing ------------------------------------------------------------------------------

    def set_token(self, token: str) -> None:
        self._token = token
        self.session.headers["Authorization"] = f"Token {token}"
        self._client = None  # rebuilt with the new token on next use

    def _url(self, path: str) -> str:
        return f"{self.base}/api/{path.lstrip('/')}"

    def _get_json(self, path: str, what: str, params: Mapping[str, Any] | None = None,
                  auth: bool = True, now: float = 0.0) -> Any:
        headers = None if auth else {"Authorization": None}  # None drops the session header
        try:
            response = self.session.get(self._url(path), params=params, headers=headers,
                                        timeout=self.settings.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise _Stop(classify_exception(exc, what, sent_body=False)) from None
        failure = classify_status(response, now, what, sent_body=False)
        if failure is not None:
            raise _Stop(failure)
        if not is_json(response):
            ctype = response.headers.get("Content-Type", "?")
            raise _Stop(outcomes.transient(
                f"{what}: HTTP {response.status_code} with {ctype}, not JSON"))
        try:
            return response.json()
        except ValueError:
            raise _Stop(outcomes.transient(f"{what}: malformed JSON")) from None

    def _client_api(self) -> InvenTreeAPI:
        if self._client is None:
            # connect=False: the client's own connect() cannot tell "down" from "unauthorized";
            # we probed both ourselves, so tell it what we found.
            api = InvenTreeAPI(self.base + "/", token=self._token, timeout=self.settings.timeout,
                               connect=False, use_token_auth=True)
            api.connected = True
            api.api_version = self.api_version
            api.server_details = {"server": "InvenTree", "apiVersion": self.api_version}
            self._client = api
        return self._client

    def _client_call(self, what: str, fn: Callable[[], Any], sent_body: bool = False) -> Any:
        try:
            return fn()
        except _Stop:
            raise
        except Exception as exc:
            raise _Stop(_client_failure(exc, what, sent_body)) from None

    # ---- probe, auth, version ------------------------------------------------------------------

    def probe(self, now: float) -> Outcome:
        try:
            info = self._get_json("", "probe GET /api/", auth=False, now=now)
        except _Stop as stop:
            return stop.outcome
        if not isinstance(info, dict) or "apiVersion" not in info:
            return outcomes.transient("probe GET /api/: not an InvenTree answer")
        try:
            version = int(info["apiVersion"])
        except (TypeError, ValueError):
            return outcomes.transient(f"probe GET /api/: odd apiVersion {info['apiVersion']!r}")
        if version < self.opts.min_api_version:
            return outcomes.incompatible(
                f"InvenTree API version {version} is too old: pibench needs at least "
                f"{self.opts.min_api_version} (bulk test results, InvenTree 1.0 or newer). "
                "Upgrade the InvenTree server; results stay queued meanwhile."
            )
        if version != self.api_version:
            self.api_version = version
            self._client = None
        return outcomes.delivered(reason=f"InvenTree API {version}")

    def check_auth(self, now: float) -> Outcome | None:
        try:
            self._get_json("user/me/", "GET /api/user/me/", now=now)
        except _Stop as stop:
            return stop.outcome
        return outcomes.delivered(reason="token accepted")

    def _ensure_ready(self, now: float) -> None:
        if self.api_version is None:
            result = self.probe(now)
            if not result.delivered:
                raise _Stop(result)

    # ---- lookups (cached) ----------------------------------------------------------------------

    def _part_pk(self, product: str) -> int:
        if product in self._parts:
            return self._parts[product]
        api = self._client_api()
        ref = self.opts.parts.get(product, product)
        if isinstance(ref, int):
            part = self._client_call(f"GET part {ref}", lambda: Part(api, ref))
            where = f"part pk {ref}"
        else:
            found = self._client_call(
                f"find part IPN {ref!r}", lambda: Part.list(api, IPN=ref, raise_error=True))
            if not found:
                raise _Stop(outcomes.permanent(
                    f"no InvenTree part with IPN '{ref}' (product '{product}'): set its pk in "
                    "[sync.parts]"))
            if len(found) > 1:
                raise _Stop(outcomes.permanent(
                    f"IPN '{ref}' matches {len(found)} InvenTree parts: set the pk of the right "
                    f"one for product '{product}' in [sync.parts]"))
            part = found[0]
            where = f"part IPN {ref}"
        data = getattr(part, "_data", {}) or {}
        if data.get("trackable") is False:
            raise _Stop(outcomes.permanent(f"{where} is not trackable: serialized results need "
                                           "a trackable part (edit the part in InvenTree)"))
        if data.get("testable") is False:
            raise _Stop(outcomes.permanent(f"{where} is not testable: enable 'testable' on it"))
        self._parts[product] = int(part.pk)
        return int(part.pk)

    def _template_map(self, part_pk: int, refresh: bool = False) -> dict[str, int]:
        if refresh or part_pk not in self._templates:
            api = self._client_api()
            rows = self._client_call(
                f"list templates of part {part_pk}",
                lambda: PartTestTemplate.list(api, part=part_pk, raise_error=True))
            mapping = {}
            for t in rows:
                data = getattr(t, "_data", {}) or {}
                if data.get("enabled", True) and data.get("key"):
                    mapping[str(data["key"])] = int(t.pk)  # the server's key, never the client's
            self._templates[part_pk] = mapping
        return self._templates[part_pk]

    def _find_item(self, part_pk: int, serial: str) -> int | None:
        api = self._client_api()
        rows = self._client_call(
            f"find stock item {serial!r}",
            lambda: StockItem.list(api, part=part_pk, serial=serial, raise_error=True))
        exact = [r for r in rows if str((getattr(r, "_data", {}) or {}).get("serial")) == serial]
        return int(exact[0].pk) if exact else None

    def _stock_item(self, part_pk: int, serial: str) -> int | None:
        """The item's pk, creating it if allowed. None: it does not exist (and may not be made)."""
        key = (part_pk, serial)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        pk = self._find_item(part_pk, serial)
        if pk is None and self.opts.create_items:
            pk = self._create_item(part_pk, serial)
        if pk is not None:
            self._items[key] = pk
            while len(self._items) > _ITEM_CACHE_SIZE:
                self._items.popitem(last=False)
        return pk

    def _create_item(self, part_pk: int, serial: str) -> int:
        api = self._client_api()
        # serial_numbers, never serial: InvenTree ignores 'serial' on create and would make an
        # unserialized item (§1.6).
        body: dict[str, Any] = {"part": part_pk, "quantity": 1, "serial_numbers": serial}
        if self.opts.location is not None:
            body["location"] = self.opts.location
        try:
            created = self._client_call(f"create stock item {serial!r}",
                                        lambda: StockItem.create(api, body), sent_body=True)
        except _Stop as stop:
            duplicate = "already exist" in stop.outcome.reason
            if stop.outcome.cls is OutcomeClass.PERMANENT and duplicate:
                # Created by an earlier attempt whose answer we lost: look it up again.
                pk = self._find_item(part_pk, serial)
                if pk is not None:
                    return pk
                raise _Stop(outcomes.transient(
                    f"serial {serial!r} exists on the server but was not found by lookup"
                )) from None
            raise
        if not created:
            # The client returns None when a 2xx body is not JSON: the item may exist now.
            pk = self._find_item(part_pk, serial)
            if pk is None:
                raise _Stop(outcomes.transient(f"create stock item {serial!r}: unreadable answer"))
            return pk
        return int(created[0].pk)

    # ---- delivery ------------------------------------------------------------------------------

    def _already_there(self, item_pk: int, mark: str, now: float) -> list[int]:
        rows = self._get_json("stock/test/", f"reconcile results of item {item_pk}",
                              params={"stock_item": item_pk}, now=now)
        if isinstance(rows, dict):  # paginated shape (a proxy adding limit, a future default)
            rows = rows.get("results") or []
        return [int(r["pk"]) for r in rows if mark in str(r.get("notes") or "")]

    def _post_results(self, results: list[dict], now: float) -> Outcome:
        try:
            response = self.session.post(self._url("stock/test/"), json=results,
                                         timeout=self.settings.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            return classify_exception(exc, "POST results", sent_body=True)
        failure = classify_status(response, now, "POST results", sent_body=True)
        if failure is not None:
            return failure
        if not is_json(response):
            ctype = response.headers.get("Content-Type", "?")
            return outcomes.transient(f"POST results: HTTP {response.status_code} with {ctype}, "
                                      "not JSON (a proxy page?)", may_have_committed=True)
        try:
            created = response.json()
        except ValueError:
            return outcomes.transient("POST results: malformed JSON", may_have_committed=True)
        pks = [int(r["pk"]) for r in created if isinstance(r, dict) and "pk" in r] if isinstance(
            created, list) else []
        return outcomes.delivered(remote_ref=",".join(map(str, pks)))

    def _set_status(self, item_pk: int, record: Mapping[str, Any]) -> None:
        run_outcome = str(record.get("outcome", ""))
        status = None
        if run_outcome == RunOutcome.FAIL:
            status = self.opts.fail_status
        elif run_outcome in (RunOutcome.PASS, RunOutcome.MARGINAL):
            status = self.opts.pass_status
        if status is None:
            return
        api = self._client_api()
        self._client_call(f"set status {status} on stock item {item_pk}",
                          lambda: api.patch(f"stock/{item_pk}/", {"status": status}),
                          sent_body=True)

    def deliver(self, item: OutboxItem, now: float, before_send: Callable[[], None]) -> Outcome:
        record = item.record
        try:
            self._ensure_ready(now)
            part_pk = self._part_pk(str(record.get("product", "")))
            templates = self._template_map(part_pk)
            try:
                results = build_results(record, 0, templates, self.opts.templates,
                                        self.opts.run_template)
            except MappingError:
                # Maybe a template was added since we cached the list: look once more.
                templates = self._template_map(part_pk, refresh=True)
                try:
                    results = build_results(record, 0, templates, self.opts.templates,
                                            self.opts.run_template)
                except MappingError as exc:
                    return outcomes.permanent(str(exc))
            item_pk = self._stock_item(part_pk, item.serial)
            if item_pk is None:
                return outcomes.permanent(
                    f"no stock item with serial '{item.serial}' for part {part_pk} and "
                    "create_items is off: create it in InvenTree, then retry parked runs")
            mark = marker(record)
            if item.needs_reconcile:
                found = self._already_there(item_pk, mark, now)
                if found:
                    self._set_status(item_pk, record)
                    return outcomes.delivered(
                        remote_ref=f"item {item_pk} results {','.join(map(str, found))}",
                        reason="found on the server after an uncertain attempt")
            if not results:
                self._set_status(item_pk, record)
                # A run aborted before any step was judged, and no [sync] run_template to
                # record the run itself: InvenTree has nowhere to put it (docs/sync.md).
                return outcomes.delivered(
                    remote_ref=f"item {item_pk}: nothing to post (no judged step, no "
                    "run_template)")
            for r in results:
                r["stock_item"] = item_pk
            before_send()
            posted = self._post_results(results, now)
            if not posted.delivered:
                return posted
            try:
                self._set_status(item_pk, record)
            except _Stop as stop:
                # The results are stored: whatever the status call says, the next attempt must
                # find them by marker instead of posting twice.
                return Outcome(stop.outcome.cls, stop.outcome.reason, stop.outcome.retry_after_s,
                               may_have_committed=True)
            return outcomes.delivered(remote_ref=f"item {item_pk} results {posted.remote_ref}")
        except _Stop as stop:
            return stop.outcome

    def forget_cache(self) -> None:
        self._parts.clear()
        self._templates.clear()
        self._items.clear()

    def close(self) -> None:
        self.session.close()
