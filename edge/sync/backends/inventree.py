"""The InvenTree backend, through the official ``inventree`` client where it is safe to.

Who makes which call, and why (docs/sync.md, "InvenTree"):

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
earlier attempt may have reached the server, the item's results are searched for that marker (the
runner waits ``reconcile_after_s`` first), and :meth:`InvenTreeBackend.audit` later deletes any
late copy that earlier attempt still committed (docs/sync.md, "Exactly once").
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from edge import lazylog
from edge.sync.requests_lean import requests  # before the client, which imports requests

# isort: split
from inventree.api import InvenTreeAPI
from inventree.part import Part, PartTestTemplate
from inventree.stock import StockItem

from edge.records import Outcome as RunOutcome
from edge.sync import outcomes
from edge.sync.backends.base import AuditResult, OutboxItem
from edge.sync.backends.inventree_mapping import (
    MappingError,
    PlannedResult,
    build_results,
    marker,
    plan_hidden_steps,
    planned_results,
)
from edge.sync.http_classify import classify_exception, classify_status, is_json
from edge.sync.http_session import make_session
from edge.sync.outcomes import Outcome, OutcomeClass
from edge.sync.secrets import REDACTOR, describe_error
from edge.sync.settings import SyncSettings

log = lazylog.getLogger(__name__)

_ITEM_CACHE_SIZE = 2048


class _Stop(Exception):
    """Carries an outcome out of a nested lookup."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


class InvenTreeRefusal(_Stop):
    """What `pibench sync setup` could not do, with the server's (redacted) reason."""


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
        self._hidden: dict[tuple[str, str], frozenset[str]] = {}  # plan's unposted steps
        self._status_for_new: int | None = None  # stock status a board made now is created with
        self._created_with_status: int | None = None  # pk of the item made so in this delivery

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
        configured = self.opts.product(product).part
        ref = product if configured is None else configured
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

    def template_rows(self, part_pk: int) -> list[dict[str, Any]]:
        """Every test template of the part, as the server describes them."""
        api = self._client_api()
        rows = self._client_call(
            f"list templates of part {part_pk}",
            lambda: PartTestTemplate.list(api, part=part_pk, raise_error=True))
        return [dict(getattr(t, "_data", {}) or {}, pk=int(t.pk)) for t in rows]

    def _template_map(self, part_pk: int, refresh: bool = False) -> dict[str, int]:
        if refresh or part_pk not in self._templates:
            # The server's key, never the client's; disabled templates reject results.
            self._templates[part_pk] = {
                str(t["key"]): int(t["pk"]) for t in self.template_rows(part_pk)
                if t.get("enabled", True) and t.get("key")}
        return self._templates[part_pk]

    def _hidden_steps(self, record: Mapping[str, Any]) -> frozenset[str]:
        """The plan's teardown and fixture-check steps: not posted unless asked (the record
        itself does not say which steps were teardown)."""
        key = (str(record.get("product", "")), str(record.get("revision", "")))
        if key not in self._hidden:
            self._hidden[key] = frozenset(self._load_hidden(*key))
        return self._hidden[key]

    def _load_hidden(self, product: str, revision: str) -> set[str]:
        if not self.settings.plans_dirs:
            return set()
        from edge.products.catalog import find_plan, plan_key

        for name in (plan_key(product, revision), product):
            try:
                return plan_hidden_steps(find_plan(name, self.settings.plans_dirs))
            except Exception:  # no plan on this station any more: steps without measurements
                continue  # are not posted anyway (docs/sync.md)
        return set()

    def _items_for_serial(self, part_pk: int, serial: str) -> list[int]:
        """Every stock item of the part with this serial, oldest (lowest pk) first."""
        api = self._client_api()
        rows = self._client_call(
            f"find stock item {serial!r}",
            lambda: StockItem.list(api, part=part_pk, serial=serial, raise_error=True))
        return sorted(int(r.pk) for r in rows
                      if str((getattr(r, "_data", {}) or {}).get("serial")) == serial)

    @staticmethod
    def _choose(serial: str, pks: list[int]) -> tuple[int, str | None]:
        """Two stations creating the same serial at once can both succeed (a race inside
        InvenTree): deliver to the oldest item, every station alike, and tell the shop."""
        if len(pks) < 2:
            return pks[0], None
        return pks[0], (
            f"serial {serial} has {len(pks)} stock items in InvenTree (pks "
            f"{', '.join(map(str, pks))}): results go to the oldest, {pks[0]}; merge or delete "
            "the others")

    def _stock_item(self, part_pk: int, serial: str,
                    new_board: bool) -> tuple[int | None, str | None]:
        """(item pk, duplicate notice); pk None: it does not exist and may not be made.

        A board new to this station is created first (one request instead of a lookup that
        finds nothing), then looked up: that lookup also sees an item a racing station created.
        Items this worker created are not cached, so the next run of the serial looks again.
        """
        key = (part_pk, serial)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        created = False
        if new_board and self.opts.create_items:
            created = self._create_item(part_pk, serial)
            pks = self._items_for_serial(part_pk, serial)
        else:
            pks = self._items_for_serial(part_pk, serial)
            if not pks and self.opts.create_items:
                created = self._create_item(part_pk, serial)
                pks = self._items_for_serial(part_pk, serial)
        if not pks:
            if created or self.opts.create_items:
                raise _Stop(outcomes.transient(
                    f"stock item {serial!r} was created but is not found by lookup"))
            return None, None
        chosen = self._choose(serial, pks)
        if not created:
            self._items[key] = chosen
            while len(self._items) > _ITEM_CACHE_SIZE:
                self._items.popitem(last=False)
        return chosen

    def _forget_item(self, part_pk: int, serial: str) -> None:
        self._items.pop((part_pk, serial), None)

    def _create_item(self, part_pk: int, serial: str) -> bool:
        """Create the serialized item; False when the serial already exists (made by another
        station, by hand, or by an earlier attempt whose answer was lost)."""
        api = self._client_api()
        # serial_numbers, never serial: InvenTree ignores 'serial' on create and would make an
        # unserialized item.
        body: dict[str, Any] = {"part": part_pk, "quantity": 1, "serial_numbers": serial}
        if self.opts.location is not None:
            body["location"] = self.opts.location
        if self._status_for_new is not None:
            # A new board gets the run's stock status as it is made: one request less per run.
            body["status"] = self._status_for_new
        try:
            made = self._client_call(f"create stock item {serial!r}",
                                     lambda: StockItem.create(api, body), sent_body=True)
        except _Stop as stop:
            out = stop.outcome
            if out.cls is OutcomeClass.PERMANENT and "already exist" in out.reason:
                return False
            raise
        if made and self._status_for_new is not None:
            self._created_with_status = int(made[0].pk)
        return True

    # ---- delivery ------------------------------------------------------------------------------

    def _marked_results(self, item_pk: int, mark: str, now: float) -> list[dict[str, Any]]:
        rows = self._get_json("stock/test/", f"reconcile results of item {item_pk}",
                              params={"stock_item": item_pk}, now=now)
        if isinstance(rows, dict):  # paginated shape (a proxy adding limit, a future default)
            rows = rows.get("results") or []
        return [r for r in rows if isinstance(r, dict) and mark in str(r.get("notes") or "")]

    def _already_there(self, item_pk: int, mark: str, now: float) -> list[int]:
        return sorted(int(r["pk"]) for r in self._marked_results(item_pk, mark, now))

    def _post_results(self, results: list[dict], now: float) -> tuple[Outcome, Any]:
        """The bulk POST; with a 400, also the server's per-result error list."""
        try:
            response = self.session.post(self._url("stock/test/"), json=results,
                                         timeout=self.settings.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            return classify_exception(exc, "POST results", sent_body=True), None
        failure = classify_status(response, now, "POST results", sent_body=True)
        if failure is not None:
            errors = None
            if response.status_code == 400 and is_json(response):
                try:
                    errors = response.json()
                except ValueError:
                    errors = None
            return failure, errors
        if not is_json(response):
            ctype = response.headers.get("Content-Type", "?")
            return outcomes.transient(f"POST results: HTTP {response.status_code} with {ctype}, "
                                      "not JSON (a proxy page?)", may_have_committed=True), None
        try:
            created = response.json()
        except ValueError:
            return outcomes.transient("POST results: malformed JSON",
                                      may_have_committed=True), None
        pks = [int(r["pk"]) for r in created if isinstance(r, dict) and "pk" in r] if isinstance(
            created, list) else []
        return outcomes.delivered(remote_ref=",".join(map(str, pks))), None

    def _status_for(self, record: Mapping[str, Any]) -> int | None:
        run_outcome = str(record.get("outcome", ""))
        if run_outcome == RunOutcome.FAIL:
            return self.opts.fail_status
        if run_outcome in (RunOutcome.PASS, RunOutcome.MARGINAL):
            return self.opts.pass_status
        return None  # ERROR and ABORTED never change the board's status

    def _set_status(self, item_pk: int, record: Mapping[str, Any]) -> None:
        status = self._status_for(record)
        if status is None or item_pk == self._created_with_status:
            return
        api = self._client_api()
        self._client_call(f"set status {status} on stock item {item_pk}",
                          lambda: api.patch(f"stock/{item_pk}/", {"status": status}),
                          sent_body=True)

    def _finish(self, item_pk: int, record: Mapping[str, Any], ref: str, reason: str,
                duplicate: str | None) -> Outcome:
        """The results are on the server: set the stock status and call it delivered. A status
        the server refuses never parks a run whose results are stored (docs/sync.md)."""
        notices = [duplicate] if duplicate else []
        try:
            self._set_status(item_pk, record)
        except _Stop as stop:
            out = stop.outcome
            refused = out.cls is OutcomeClass.PERMANENT or out.http_status == 403
            if not refused:
                # Down or token expired: the next attempt finds the results by marker and
                # sets the status then, without posting twice.
                return Outcome(out.cls, out.reason, out.retry_after_s, may_have_committed=True,
                               http_status=out.http_status)
            notices.append(f"results stored but stock status not set: {out.reason}")
        kind = "duplicate-item" if duplicate else ("status-not-set" if notices else None)
        return outcomes.delivered(remote_ref=ref, reason=reason,
                                  notice="; ".join(notices) or None, notice_kind=kind)

    def _explain(self, errors: Any, planned: list[PlannedResult]) -> str | None:
        """A bulk 400 answers one error object per result, in order: name each one's
        measurement and template, so the shop knows what to fix."""
        if not isinstance(errors, list) or len(errors) != len(planned):
            return None
        parts = []
        for p, err in zip(planned, errors, strict=True):
            if isinstance(err, dict) and err:
                text = "; ".join(
                    f"{field}: {' '.join(map(str, m if isinstance(m, list) else [m]))}"
                    for field, m in err.items())
                parts.append(f"{p.source} (template '{p.key}'): {text}")
        return REDACTOR.redact(" | ".join(parts)) if parts else None

    def deliver(self, item: OutboxItem, now: float, before_send: Callable[[], None]) -> Outcome:
        record = item.record
        try:
            self._ensure_ready(now)
            product = str(record.get("product", ""))
            part_pk = self._part_pk(product)
            planned = planned_results(record, self.opts.product(product),
                                      self._hidden_steps(record), self.opts.run_template)
            try:
                results = build_results(planned, self._template_map(part_pk), part_pk)
            except MappingError:
                # Maybe a template was added since we cached the list: look once more.
                try:
                    results = build_results(planned, self._template_map(part_pk, refresh=True),
                                            part_pk)
                except MappingError as exc:
                    return outcomes.permanent(str(exc))
            self._status_for_new = self._status_for(record)
            self._created_with_status = None
            item_pk, duplicate = self._stock_item(part_pk, item.serial,
                                                  new_board=not record.get("retest"))
            if item_pk is None:
                return outcomes.permanent(
                    f"no stock item with serial '{item.serial}' for part {part_pk} and "
                    "create_items is off: create it in InvenTree, then retry parked runs")
            mark = marker(record)
            if item.needs_reconcile:
                found = self._already_there(item_pk, mark, now)
                if found:
                    return self._finish(item_pk, record,
                                        f"item {item_pk} results {','.join(map(str, found))}",
                                        "found on the server after an uncertain attempt",
                                        duplicate)
            if not results:
                # Nothing judged the board (an ERROR or ABORTED run before its first judged
                # step): InvenTree gets nothing, by design (docs/sync.md).
                return self._finish(item_pk, record, f"item {item_pk}: nothing to post", "",
                                    duplicate)
            before_send()
            for repair in (True, False):
                posted, errors = self._post_results(
                    [{**r, "stock_item": item_pk} for r in results], now)
                if posted.delivered:
                    return self._finish(item_pk, record,
                                        f"item {item_pk} results {posted.remote_ref}", "",
                                        duplicate)
                if posted.http_status != 400:
                    return posted
                text = str(errors)
                # A bulk 400 stores nothing (one transaction): repairing and re-posting is safe.
                if repair and "stock_item" in text and "Invalid pk" in text:
                    # The item was deleted on the server since we cached it: look it up again.
                    self._forget_item(part_pk, item.serial)
                    item_pk, duplicate = self._stock_item(part_pk, item.serial, new_board=False)
                    if item_pk is None:
                        return outcomes.permanent(
                            f"stock item for serial '{item.serial}' was deleted in InvenTree "
                            "and create_items is off")
                    continue
                if repair and "template" in text and "Invalid pk" in text:
                    try:
                        results = build_results(
                            planned, self._template_map(part_pk, refresh=True), part_pk)
                    except MappingError as exc:
                        return outcomes.permanent(str(exc))
                    continue
                explained = self._explain(errors, planned)
                return outcomes.permanent(f"POST results: HTTP 400: {explained}") if explained \
                    else posted
            return posted
        except _Stop as stop:
            return stop.outcome

    # ---- late copies ---------------------------------------------------------------------------

    def audit(self, item: OutboxItem, now: float) -> AuditResult:
        """Delete copies of a delivered run that an earlier, timed-out request committed late:
        per template, the oldest results carrying the run's marker stay, as many as one copy of
        the run holds (two measurements may share a template key), and the others go. Only
        results with this station's marker for this run are ever touched, and none of a template
        the run does not post (any more): those cannot be told apart from a copy."""
        record = item.record
        try:
            self._ensure_ready(now)
            product = str(record.get("product", ""))
            part_pk = self._part_pk(product)
            mark = marker(record)
            rows = []
            for item_pk in self._items_for_serial(part_pk, item.serial):
                rows += self._marked_results(item_pk, mark, now)
            by_template: dict[Any, list[int]] = {}
            for r in rows:
                by_template.setdefault(r.get("template"), []).append(int(r["pk"]))
            per_copy = self._results_per_copy(record, product, part_pk, set(by_template))
            extra = sorted(pk for template, pks in by_template.items() if per_copy.get(template)
                           for pk in sorted(pks)[per_copy[template]:])
            for pk in extra:
                self._delete_result(pk, now)
        except _Stop as stop:
            return AuditResult(error=stop.outcome)
        return AuditResult(removed=tuple(extra))

    def _results_per_copy(self, record: Mapping[str, Any], product: str, part_pk: int,
                          seen: set[Any]) -> Counter[Any]:
        """Template pk -> how many results one copy of the run posts on it."""
        planned = planned_results(record, self.opts.product(product), self._hidden_steps(record),
                                  self.opts.run_template)
        for refresh in (False, True):
            templates = self._template_map(part_pk, refresh=refresh)
            per_copy = Counter(templates[p.key] for p in planned if p.key in templates)
            if seen <= set(per_copy):
                break  # else a template may have been re-created since cached: look once more
        return per_copy

    def _delete_result(self, pk: int, now: float) -> None:
        what = f"DELETE late copy, result {pk}"
        try:
            response = self.session.delete(self._url(f"stock/test/{pk}/"),
                                           timeout=self.settings.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise _Stop(classify_exception(exc, what, sent_body=True)) from None
        if response.status_code == 404:
            return  # already gone (a person, or an earlier audit whose answer was lost)
        failure = classify_status(response, now, what, sent_body=True)
        if failure is not None:
            raise _Stop(failure)

    # ---- for `pibench sync setup` ---------------------------------------------------------------

    def find_part(self, product: str, now: float) -> int:
        """The product's part pk; raises :class:`InvenTreeRefusal` with the reason."""
        try:
            self._ensure_ready(now)
            return self._part_pk(product)
        except _Stop as stop:
            raise InvenTreeRefusal(stop.outcome) from None

    def list_templates(self, part_pk: int) -> list[dict[str, Any]]:
        try:
            return self.template_rows(part_pk)
        except _Stop as stop:
            raise InvenTreeRefusal(stop.outcome) from None

    def create_template(self, part_pk: int, test_name: str, description: str,
                        required: bool, now: float) -> dict[str, Any]:
        what = f"create test template {test_name!r}"
        try:
            response = self.session.post(self._url("part/test-template/"), json={
                "part": part_pk, "test_name": test_name, "description": description,
                "required": required, "requires_value": True, "enabled": True},
                timeout=self.settings.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise InvenTreeRefusal(classify_exception(exc, what, sent_body=True)) from None
        failure = classify_status(response, now, what, sent_body=True)
        if failure is not None:
            raise InvenTreeRefusal(failure)
        return response.json()

    def forget_cache(self) -> None:
        self._parts.clear()
        self._templates.clear()
        self._items.clear()
        self._hidden.clear()

    def close(self) -> None:
        self.session.close()
