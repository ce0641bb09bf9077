"""The API's endpoints: each a plain function ``(service, request) -> (status, body)``.

Inputs are checked here, field by field, so every bad request gets a 4xx naming the field; the
service below only ever sees well-formed values. ``openapi.json`` beside this file is the
contract these functions keep (tests check the real answers against it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from drivers.scanner.serials import SerialRejected
from edge.engine import InvalidSerial
from edge.records import Outcome
from edge.service import (
    NoRunInProgress,
    RevisionRequired,
    RunInProgress,
    ServiceError,
    StartFailed,
    StationService,
    SyncOff,
    UnknownProductError,
)
from edge.service.core import rejection_view

PREFIX = "/api/v1"
MAX_TEXT = 200  # product, serial, operator, batch, reason: far above any real value
_RUN_ID = r"^[0-9a-fA-F-]{1,64}$"  # (compiled at the first request, in re's cache)
_OUTCOMES = tuple(o.value for o in Outcome)


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                 cause: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.cause = cause or code
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        # error: the kind of refusal; code: its precise cause, a stable word clients translate
        # (the HMI's texts are keyed by it); message: the station's own sentence, as detail.
        return {"error": self.code, "code": self.cause, "message": self.message, **self.extra}


class Request:
    """One request as the handlers see it. (A plain class, not a dataclass: no dataclasses at
    a station's start, issue 14.)"""

    __slots__ = ("body", "headers", "method", "params", "path", "query")

    def __init__(self, method: str, path: str, query: dict[str, list[str]], headers: Any,
                 body: dict[str, Any] | None = None, params: dict[str, str] | None = None) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body: dict[str, Any] = {} if body is None else body
        self.params: dict[str, str] = {} if params is None else params


Handler = Callable[[StationService, Request], tuple[int, Any]]


# -- input checks ------------------------------------------------------------------------------
def _query(req: Request, name: str) -> str | None:
    values = req.query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise HttpError(400, "bad_query", f"query parameter '{name}' given more than once")
    return values[0]


def _query_int(req: Request, name: str, default: int, low: int, high: int) -> int:
    text = _query(req, name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise HttpError(400, "bad_query", f"query parameter '{name}' must be an integer from "
                        f"{low} to {high}")
    return int(text)


def _query_day(req: Request, name: str = "day") -> str | None:
    text = _query(req, name)
    if text is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise HttpError(400, "bad_query", f"query parameter '{name}' must be a day as "
                        "YYYY-MM-DD (UTC)") from None


def _query_text(req: Request, name: str) -> str | None:
    text = _query(req, name)
    if text is not None and (not text or len(text) > MAX_TEXT):
        raise HttpError(400, "bad_query", f"query parameter '{name}' must be 1 to {MAX_TEXT} "
                        "characters")
    return text


def _field(req: Request, name: str, *, required: bool = False, default: str = "") -> str:
    if name not in req.body:
        if required:
            raise HttpError(422, "missing_field", f"'{name}' is required")
        return default
    value = req.body[name]
    if not isinstance(value, str):
        raise HttpError(422, "bad_field", f"'{name}' must be a string")
    if len(value) > MAX_TEXT:
        raise HttpError(422, "bad_field", f"'{name}' is longer than {MAX_TEXT} characters")
    if required and not value:
        raise HttpError(422, "bad_field", f"'{name}' must not be empty")
    return value


def _no_unknown_fields(req: Request, known: tuple[str, ...]) -> None:
    for name in req.body:
        if name not in known:
            raise HttpError(422, "unknown_field", f"unknown field '{name}' (known: "
                            f"{', '.join(known)})")


def _service_error(exc: ServiceError) -> HttpError:
    status = {RunInProgress: 409, NoRunInProgress: 409, UnknownProductError: 404,
              RevisionRequired: 422, SyncOff: 409, StartFailed: 503}.get(type(exc), 409)
    return HttpError(status, exc.code, str(exc), cause=exc.cause)


# -- reads ---------------------------------------------------------------------------------------
def get_station(service: StationService, req: Request) -> tuple[int, Any]:
    return 200, service.identity()


def get_health(service: StationService, req: Request) -> tuple[int, Any]:
    return 200, service.health()


def get_products(service: StationService, req: Request) -> tuple[int, Any]:
    return 200, {"products": service.products()}


def get_current(service: StationService, req: Request) -> tuple[int, Any]:
    return 200, service.current()


def get_run(service: StationService, req: Request) -> tuple[int, Any]:
    run_id = req.params["run_id"]
    record = service.run_record(run_id) if re.match(_RUN_ID, run_id) else None
    if record is None:
        raise HttpError(404, "unknown_run", f"no run {run_id[:80]!r} on record")
    return 200, record


def get_runs(service: StationService, req: Request) -> tuple[int, Any]:
    outcome = _query(req, "outcome")
    if outcome is not None and outcome not in _OUTCOMES:
        raise HttpError(400, "bad_query", f"query parameter 'outcome' must be one of "
                        f"{', '.join(_OUTCOMES)}")
    return 200, service.history(
        serial=_query_text(req, "serial"), product=_query_text(req, "product"),
        day=_query_day(req), outcome=outcome,
        limit=_query_int(req, "limit", 50, 1, 500),
        offset=_query_int(req, "offset", 0, 0, 10**9))


def get_measurements(service: StationService, req: Request) -> tuple[int, Any]:
    product = _query_text(req, "product")
    if product is None:
        raise HttpError(400, "bad_query", "query parameter 'product' is required")
    return 200, service.measurements(
        product=product, day=_query_day(req) or datetime.now(UTC).date().isoformat(),
        name=_query_text(req, "name"), limit=_query_int(req, "limit", 500, 1, 2000),
        offset=_query_int(req, "offset", 0, 0, 10**9))


def get_yield(service: StationService, req: Request) -> tuple[int, Any]:
    day = _query_day(req) or datetime.now(UTC).date().isoformat()
    return 200, service.yield_by_product(day=day, product=_query_text(req, "product"))


def get_sync(service: StationService, req: Request) -> tuple[int, Any]:
    return 200, service.sync_status()


# -- acts ------------------------------------------------------------------------------------------
def post_validate(service: StationService, req: Request) -> tuple[int, Any]:
    _no_unknown_fields(req, ("product", "serial"))
    product = _field(req, "product", required=True)
    serial = _field(req, "serial", required=True)
    try:
        return 200, service.validate_serial(product, serial)
    except ServiceError as exc:
        raise _service_error(exc) from None


def post_run(service: StationService, req: Request) -> tuple[int, Any]:
    _no_unknown_fields(req, ("product", "revision", "serial", "operator", "batch",
                             "request_id"))
    product = _field(req, "product", required=True)
    serial = _field(req, "serial", required=True)
    request_id = _field(req, "request_id") or None
    try:
        started = service.start_run(product, serial, operator=_field(req, "operator"),
                                    batch=_field(req, "batch"), request_id=request_id,
                                    revision=_field(req, "revision") or None)
    except SerialRejected as exc:
        raise HttpError(422, "serial_rejected", str(exc), rejection_view(exc)) from None
    except InvalidSerial as exc:
        raise HttpError(422, "serial_rejected", str(exc), {
            "reason": "bad_format", "product": product,
            "messages": {"fr": str(exc), "en": str(exc)}}) from None
    except ServiceError as exc:
        raise _service_error(exc) from None
    return 202, started


def post_abort(service: StationService, req: Request) -> tuple[int, Any]:
    _no_unknown_fields(req, ("reason",))
    try:
        return 202, service.abort(_field(req, "reason"))
    except ServiceError as exc:
        raise _service_error(exc) from None


def post_scan(service: StationService, req: Request) -> tuple[int, Any]:
    _no_unknown_fields(req, ("serial", "product", "revision"))
    serial = _field(req, "serial", required=True)
    product = _field(req, "product") or None
    try:
        return 200, service.submit_scan(serial, product=product,
                                        revision=_field(req, "revision") or None,
                                        source="client")
    except ServiceError as exc:
        raise _service_error(exc) from None


def post_retry_parked(service: StationService, req: Request) -> tuple[int, Any]:
    _no_unknown_fields(req, ("run_id",))
    run_id = _field(req, "run_id") if "run_id" in req.body else None
    if run_id is not None and not re.match(_RUN_ID, run_id):
        raise HttpError(422, "bad_field", "'run_id' is not a run id")
    return 200, service.retry_parked(run_id)


def post_deliver_now(service: StationService, req: Request) -> tuple[int, Any]:
    _no_unknown_fields(req, ())
    try:
        return 202, service.deliver_now()
    except ServiceError as exc:
        raise _service_error(exc) from None


# (method, path pattern, handler). "{name}" matches one path segment. The event stream and the
# schema are served by the HTTP layer itself (they are not JSON answers).
ROUTES: list[tuple[str, str, Handler | None]] = [
    ("GET", "/openapi.json", None),
    ("GET", "/events", None),
    ("GET", "/station", get_station),
    ("GET", "/health", get_health),
    ("GET", "/products", get_products),
    ("GET", "/runs", get_runs),
    ("POST", "/runs", post_run),
    ("GET", "/runs/current", get_current),
    ("POST", "/runs/current/abort", post_abort),
    ("GET", "/runs/{run_id}", get_run),
    ("GET", "/measurements", get_measurements),
    ("GET", "/yield", get_yield),
    ("GET", "/sync", get_sync),
    ("POST", "/sync/retry-parked", post_retry_parked),
    ("POST", "/sync/deliver-now", post_deliver_now),
    ("POST", "/serials/validate", post_validate),
    ("POST", "/scans", post_scan),
]


def match(method: str, path: str) -> tuple[str, Handler | None, dict[str, str]]:
    """The route's pattern, handler and path parameters; HttpError 404/405 otherwise."""
    if not path.startswith(PREFIX + "/"):
        raise HttpError(404, "not_found", f"no such endpoint (the API lives under {PREFIX}/)")
    parts = path[len(PREFIX):].split("/")
    allowed: list[str] = []
    for route_method, pattern, handler in ROUTES:
        pattern_parts = pattern.split("/")
        if len(pattern_parts) != len(parts):
            continue
        params: dict[str, str] = {}
        for want, got in zip(pattern_parts, parts, strict=True):
            if want.startswith("{"):
                if not got:
                    break
                params[want[1:-1]] = got
            elif want != got:
                break
        else:
            if route_method == method:
                return pattern, handler, params
            allowed.append(route_method)
    if allowed:
        allow = ", ".join(sorted(set(allowed)))
        raise HttpError(405, "method_not_allowed", f"{method} is not allowed here (allowed: "
                        f"{allow})", headers={"Allow": allow})
    raise HttpError(404, "not_found", "no such endpoint")
