"""StationService: the one object every client of a station talks to.

It owns an open :class:`~edge.station.Station` and is what both the local API and the terminal
console call, so there is one path into the engine, whoever asks:

* runs run in the service's one run thread (``edge/service/run_thread.py``), one at a time (a
  second start is refused with :class:`RunInProgress`); a client that vanishes never touches a run;
* the current run is kept as a snapshot (:class:`~edge.service.tracker.RunTracker`) fed by the
  event bus, with the seq it is exact at, so a client can read it and then follow the stream;
* scans (from the station's serial-port scanner, or submitted by a client), health changes and
  sync-status changes are published on the same bus as the engine's events;
* stream ids carry a boot id (``<boot>:<seq>``): a client of a previous process is told to
  resynchronise instead of being replayed a sequence that no longer means anything.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from drivers.named_tuple import NamedTuple
from drivers.scanner.serials import SerialRejected
from edge import lazylog
from edge.engine.context import StationError
from edge.engine.events import Event, RunStarted, Subscription
from edge.engine.timesync import ntp_synchronized
from edge.records import RunRecord
from edge.service import health as health_checks
from edge.service.events import HealthChanged, ScanRead, SyncStatusChanged
from edge.service.run_thread import RunThread
from edge.service.tracker import RunTracker
from edge.service.views import limits_view, record_to_json

_log = lazylog.getLogger("edge.service")

START_TIMEOUT_S = 30.0  # loading the plan and building the fixture, before RunStarted


class ServiceError(Exception):
    """A request the service refuses; ``code`` is a stable machine-readable word for the kind
    of refusal, ``cause`` (the same unless told) the precise reason a client can translate."""

    code = "refused"

    def __init__(self, *args: object, cause: str | None = None) -> None:
        super().__init__(*args)
        self.cause = cause or self.code


class RunInProgress(ServiceError):
    code = "run_in_progress"


class NoRunInProgress(ServiceError):
    code = "no_run_in_progress"


class UnknownProductError(ServiceError):
    code = "unknown_product"


class RevisionRequired(ServiceError):
    """The product has plans for several revisions here, and the request named none."""

    code = "revision_required"


class SyncOff(ServiceError):
    code = "sync_off"


class StartFailed(ServiceError):
    """The run could not start (fixture unreachable, plan unusable): nothing was powered.
    ``cause``: start_timeout, start_failed, or the StationError's own code (fixture_fault,
    fixture_busy, wrong_fixture, plan_unusable, store_failed, station_stopping,
    station_error)."""

    code = "station_cannot_start"


class PlanUnusable(StationError):
    code = "plan_unusable"


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class ServiceSettings(NamedTuple):
    start_on_scan: bool = False
    health_interval_s: float = 30.0  # fixture checks while idle
    sync_poll_s: float = 5.0  # how often delivery status is re-read for change events


class _PendingStart:
    """A start asked for, until the run thread has taken it (or refused it)."""

    __slots__ = ("done", "error", "product", "request_id", "revision", "run_id", "serial")

    def __init__(self, request_id: str | None, product: str, revision: str | None, serial: str,
                 done: threading.Event) -> None:
        self.request_id = request_id
        self.product = product
        self.revision = revision
        self.serial = serial
        self.done = done
        self.run_id: str | None = None
        self.error: BaseException | None = None


def _collect_previous_run() -> None:
    """A full garbage collection, in the run thread before a run powers anything.

    Not for garbage: CPython keeps freed tuples of 1 to 20 items on free lists, up to 2,000 of
    each size, and empties them only in a full collection, which its own thresholds made about
    once per 1,500 simulated runs (bench/bench_station_rss.py). Each run leaves a few tuples
    there that the next run's allocations do not take back (a tuple built by ``tuple()`` of a
    generator, for one, is shrunk to a size the next run may not allocate): the station grew by
    0.1 MiB per 100 runs over its first ~2,000 runs. One
    collection per run keeps them to one run's worth, for about 5 ms of CPU here (a few times
    that on a Pi). At the start of a run it delays nothing an operator sees; after a verdict, a
    start right behind it would be refused while it lasts, and in another thread it would
    pause a run's steps."""
    gc.collect()


def rejection_view(exc: SerialRejected) -> dict[str, Any]:
    return {"reason": str(exc.reason), "product": exc.product,
            "messages": {"fr": exc.message("fr"), "en": exc.message("en")}}


def parse_event_id(text: str | None) -> tuple[str | None, int | None]:
    """``"<boot>:<seq>"`` -> (boot, seq); anything else -> (None, None)."""
    if not text:
        return None, None
    boot, sep, seq = text.strip().rpartition(":")
    if not sep or not boot or not seq.isdigit() or len(seq) > 18:
        return None, None
    return boot, int(seq)


class StationService:
    """Use as a context manager around an open station: ``with StationService(station): ...``."""

    def __init__(self, station: Any, settings: ServiceSettings | None = None, *,
                 boot_id: str | None = None) -> None:
        self.station = station
        self.config = station.config
        self.settings = settings or ServiceSettings()
        self.bus = station.events
        self.boot_id = boot_id or os.urandom(4).hex()  # new at every start
        self.started_utc = datetime.now(UTC).isoformat(timespec="seconds")
        self._lock = threading.RLock()  # tracker, pending start, worker, cached views
        self._db_lock = threading.Lock()  # the service's own SQLite connection
        self._hardware = threading.Lock()  # held by a run, and by fixture checks
        self._conn = None
        self._tracker = RunTracker(self._load_run_or_none)
        self._sub: Subscription | None = None
        self._pending: _PendingStart | None = None
        self._last_start: tuple[str, dict[str, Any]] | None = None  # (request id, answer)
        self._runs = RunThread()
        self._worker_record: RunRecord | None = None
        self._worker_error: BaseException | None = None
        self._selected_product: str | None = None
        self._selected_revision: str | None = None  # of that product; None: its only plan
        self._fixture_specs: list[tuple[Any, list[str]]] | None = None
        self._fixture_health: dict[str, health_checks.FixtureHealth] = {}
        self._health: dict[str, Any] | None = None
        self._health_sig: tuple | None = None
        self._sync: dict[str, Any] | None = None
        self._sync_sig: str | None = None
        self._scanner = None
        self._scanner_status: dict[str, Any] = {"state": "none", "port": None,
                                                "messages": None}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._monitor: threading.Thread | None = None
        self._scan_listeners: list[Callable[[str | SerialRejected], None]] = []
        self._status_listeners: list[Callable[[Any], None]] = []
        # The scanner's last status and its listeners, under one lock: a listener added after
        # the scanner reported (the console registers once the service runs) is told that state
        # at once, and every listener sees each state once, in order.
        self._scanner_last: Any = None
        self._status_listeners_lock = threading.Lock()

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> StationService:
        from edge.store import open_store

        self._conn = open_store(self.config.database, migrate=False)
        # Reads of history and status: a small page cache is plenty, and memory is tight (each
        # connection's cache fills up to its cap as the file grows: 512 KiB here was the largest
        # part of the station's growth over its first thousand runs, bench_station_rss.py).
        self._conn.execute("PRAGMA cache_size = -128")
        self._sub = self.bus.subscribe(maxlen=4096, on_ready=self._on_bus_ready,
                                       gather_progress=True)
        self._start_scanner()
        self.refresh_health()
        self.refresh_sync()
        self._monitor = threading.Thread(target=self._monitor_loop, name="pibench-monitor",
                                         daemon=True)
        self._monitor.start()
        return self

    def __enter__(self) -> StationService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, run_timeout: float | None = None) -> None:
        """Stop the monitor and the scanner. A run in progress is left to finish (its worker
        is joined up to ``run_timeout``; the station's own close powers the fixtures off)."""
        self._stop.set()
        self._wake.set()
        self._runs.stop(run_timeout)
        if self._monitor is not None:
            self._monitor.join(10)
        if self._scanner is not None:
            self._scanner.stop()
        if self._sub is not None:
            self._sub.close()
        if self._conn is not None:
            with self._db_lock:
                self._conn.close()
                self._conn = None

    # -- the bus ---------------------------------------------------------------------------------
    def _on_bus_ready(self) -> None:
        """Called inside ``EventBus.emit``, in the emitting thread (the engine's, during a run).
        Nothing may escape from here into the engine: every failure is logged and swallowed.

        A run's progress events do not call it (the subscription gathers them): keeping the
        snapshot's views at every step cost the engine ~30 µs a step (issue 14 goal 2). They
        are applied with the next other event, or by whoever reads the tracker first."""
        try:
            with self._lock:
                self._catch_up()
        except Exception:
            _log.exception("the run snapshot could not follow an event")

    def _catch_up(self) -> None:
        """Apply what the bus has queued to the tracker (the lock held): before every read."""
        sub = self._sub
        if sub is None:
            return
        for event in sub.drain():
            self._tracker.apply(event)
            pending = self._pending
            if isinstance(event, RunStarted) and pending is not None:
                pending.run_id = event.run_id
                pending.done.set()

    def _emit(self, cls: type[Event], run_id: str = "", **fields: Any) -> Event:
        return self.bus.emit(cls, run_id, **fields)

    def open_stream(self, last_event_id: str | None,
                    maxlen: int = 1024) -> tuple[dict[str, Any] | None, Subscription]:
        """A subscription for one client, and the resync document it must be sent first (None
        when the client resumes exactly where it left off: same process, id still known)."""
        boot, seq = parse_event_id(last_event_id)
        with self._lock:
            if boot == self.boot_id and seq is not None and seq <= self.bus.last_seq:
                return None, self.bus.subscribe(since=seq, maxlen=maxlen,
                                                gather_progress=True)
            if last_event_id is None:
                reason = "connected"
            elif boot is not None and boot != self.boot_id:
                reason = "station_restarted"
            else:
                reason = "unknown_event_id"
            resync = self.resync_document(reason)
            return resync, self.bus.subscribe(since=resync["seq"], maxlen=maxlen,
                                              gather_progress=True)

    def resync_document(self, reason: str) -> dict[str, Any]:
        """Everything a client shows, exact at one seq: the current run, health, sync."""
        with self._lock:
            snap = self.current()
            return {"reason": reason, "boot": self.boot_id, "seq": snap["seq"],
                    "current": snap, "health": self._health, "sync": self._sync}

    # -- reads -----------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        info = self.station.info
        return {"station_id": info.station_id, "software_version": info.software_version,
                "hardware": self.config.hardware, "boot_id": self.boot_id,
                "started_utc": self.started_utc,
                "start_on_scan": self.settings.start_on_scan}

    def current(self) -> dict[str, Any]:
        with self._lock:
            self._catch_up()
            snap = self._tracker.snapshot()
            snap["boot"] = self.boot_id
            snap["product"] = self._selected_product
            snap["revision"] = self._selected_revision
            if snap["run"] is None and self._pending is not None:
                snap["state"] = "starting"
            return snap

    def products(self) -> list[dict[str, Any]]:
        from edge.products.catalog import find_plan, list_products

        out = []
        for info in list_products(self.config.plans_dirs):
            plan = find_plan(str(info.plan_path), self.config.plans_dirs)
            out.append({
                "product": info.product, "revision": info.revision, "plan_name": info.name,
                "plan_version": info.version, "description": info.description,
                "serial_pattern": info.serial_pattern, "example_serial": info.example_serial,
                "fixture": info.fixture, "plan_hash": plan.sha256,
                "parameters": [{"name": p.name, "value": p.value, "units": p.units,
                                "tolerance": p.tolerance} for p in plan.parameters.values()],
                "steps": [{
                    "index": i, "name": s.name, "type": s.step_type.name,
                    "timeout_s": s.timeout_s, "retries": s.retries, "critical": s.critical,
                    "always": s.always, "teardown": s.teardown,
                    "measurements": [{"name": name, "limits": limits_view(lim)}
                                     for name, lim in s.measurements.items()],
                } for i, s in enumerate(plan.all_steps)],
            })
        return out

    def _load_run_or_none(self, run_id: str) -> RunRecord | None:
        from edge.store import UnknownRunError, load_run

        with self._db_lock:
            try:
                return load_run(self._conn, run_id)
            except UnknownRunError:
                return None

    def run_record(self, run_id: str) -> dict[str, Any] | None:
        record = self._load_run_or_none(run_id)
        return None if record is None else record_to_json(record)

    def history(self, *, serial: str | None = None, product: str | None = None,
                day: str | None = None, outcome: str | None = None, limit: int = 50,
                offset: int = 0) -> dict[str, Any]:
        from edge.store import find_runs

        with self._db_lock:
            rows = find_runs(self._conn, serial=serial, product=product, day=day,
                             outcome=outcome, limit=limit + 1, offset=offset)
        more = len(rows) > limit
        return {
            "runs": [{
                **{k: v for k, v in record_to_json(RunRecord(r.meta, r.outcome, r.ended_utc,
                                                             r.duration_s, (), r.error)).items()
                   if k not in ("steps", "schema")},
                "step_count": r.step_count,
            } for r in rows[:limit]],
            "limit": limit, "offset": offset, "next_offset": offset + limit if more else None,
        }

    def measurements(self, *, product: str, day: str, name: str | None = None,
                     limit: int = 500, offset: int = 0) -> dict[str, Any]:
        """A day's measurements of one product, paged, from one query (the today plots)."""
        from edge.store import find_measurements
        from edge.store.payload import _measurement_to_json

        with self._db_lock:
            rows = find_measurements(self._conn, product=product, day=day, name=name,
                                     limit=limit + 1, offset=offset)
        more = len(rows) > limit
        return {
            "product": product, "day": day,
            "measurements": [{
                "run_id": r.run_id, "serial": r.serial, "started_utc": r.started_utc,
                "run_outcome": str(r.run_outcome), "step_index": r.step_index, "step": r.step,
                **_measurement_to_json(r.measurement)} for r in rows[:limit]],
            "limit": limit, "offset": offset, "next_offset": offset + limit if more else None,
        }

    def yield_by_product(self, *, day: str, product: str | None = None) -> dict[str, Any]:
        from edge.store import yield_by_product

        with self._db_lock:
            found = yield_by_product(self._conn, product=product, day=day)
        return {"day": day, "products": [{
            "product": y.product, "runs": y.runs, "outcomes": y.outcomes,
            "serials": y.serials, "first_pass": y.first_pass,
            "first_pass_yield": y.first_pass_yield} for y in found.values()]}

    def health(self) -> dict[str, Any]:
        with self._lock:
            return self._health or {}

    def sync_status(self) -> dict[str, Any]:
        with self._lock:
            return self._sync or {}

    # -- serials and runs ------------------------------------------------------------------------
    def _known_products(self) -> tuple[str, ...]:
        return self.station.serial_rules().products

    def _require_product(self, product: str) -> None:
        if product not in self._known_products():
            known = ", ".join(self._known_products()) or "none"
            raise UnknownProductError(f"no product {product!r} on this station (known: {known})")

    def _require_plan(self, product: str, revision: str | None) -> str | None:
        """The revision to run (None: the product's only plan). A product with plans for
        several revisions needs one named: which board is on the bench is the operator's to
        say, the station never guesses (a board judged against the wrong plan)."""
        self._require_product(product)
        revisions = self.station.revisions(product)
        if revision:
            if revision not in revisions:
                raise UnknownProductError(f"no revision {revision!r} of {product} on this "
                                          f"station (known: {', '.join(revisions)})")
            return revision
        if len(revisions) > 1:
            raise RevisionRequired(f"{product} has plans for revisions {', '.join(revisions)} "
                                   "on this station: say which board this is")
        return None

    def validate_serial(self, product: str, serial: str) -> dict[str, Any]:
        """``{"valid": True, "serial": cleaned}`` or the rejection with its French and English
        reasons (the same ones the console prints)."""
        self._require_product(product)
        try:
            cleaned = self.station.check_serial(product, serial)
        except SerialRejected as exc:
            return {"valid": False, "product": product, "serial": None, **rejection_view(exc)}
        return {"valid": True, "product": product, "serial": cleaned, "reason": None,
                "messages": None}

    def start_run(self, product: str, serial: str, *, operator: str = "", batch: str = "",
                  request_id: str | None = None, timeout: float = START_TIMEOUT_S,
                  revision: str | None = None) -> dict[str, Any]:
        """Start a run in the service's worker and return once it is durable (RunStarted) or
        has failed to start. Raises SerialRejected before anything is powered, RunInProgress
        if a run is going (unless ``request_id`` repeats the start that began it: the same
        answer again, so a double tap or a retried request never starts twice)."""
        from edge.engine import InvalidSerial

        with self._lock:
            if request_id and self._last_start and self._last_start[0] == request_id:
                return self._last_start[1]
            self._catch_up()
            if self._pending is not None or self._tracker.run is not None or self._runs.busy():
                running = self._tracker.run["run_id"] if self._tracker.run else None
                raise RunInProgress("a run is in progress"
                                    + (f" (run {running})" if running else "")
                                    + "; wait for its verdict or abort it")
            revision = self._require_plan(product, revision)
            cleaned = self.station.check_serial(product, serial)  # SerialRejected
            pending = _PendingStart(request_id, product, revision, cleaned, threading.Event())
            self._pending = pending
            self._selected_product, self._selected_revision = product, revision
            self._worker_record = self._worker_error = None
            try:
                self._runs.submit(lambda: self._run_worker(pending, operator, batch))
            except RuntimeError:  # the service is closing: nothing was powered
                self._pending = None
                raise StartFailed("the station is stopping: no new run",
                                  cause="station_stopping") from None
        if not pending.done.wait(timeout):
            raise StartFailed(f"the run did not start within {timeout:.0f} s",
                              cause="start_timeout")
        if pending.error is not None:
            if isinstance(pending.error, SerialRejected | InvalidSerial | ServiceError):
                raise pending.error
            if isinstance(pending.error, StationError):
                raise StartFailed(str(pending.error),
                                  cause=pending.error.code) from pending.error
            raise StartFailed(f"{type(pending.error).__name__}: {pending.error}",
                              cause="start_failed")
        answer = {"run_id": pending.run_id, "product": product, "revision": revision,
                  "serial": cleaned, "boot": self.boot_id}
        with self._lock:
            if request_id:
                self._last_start = (request_id, answer)
        return answer

    def _run_worker(self, pending: _PendingStart, operator: str, batch: str) -> None:
        from edge.plans.loader import PlanError
        from edge.products.catalog import UnknownProduct

        record = None
        try:
            _collect_previous_run()
            with self._hardware:
                record = self.station.run(pending.product, pending.serial, operator=operator,
                                          batch=batch, revision=pending.revision)
        except UnknownProduct as exc:
            self._worker_error = UnknownProductError(str(exc))
        except PlanError as exc:
            self._worker_error = PlanUnusable(f"the plan cannot be used: {exc}")
        except BaseException as exc:  # recorded for the waiter; the run's record says the rest
            self._worker_error = exc
            if pending.run_id is not None:
                _log.error("run %s ended with %s", pending.run_id, exc, exc_info=True)
        finally:
            self._worker_record = record
            with self._lock:
                self._catch_up()
                if pending.run_id is None:
                    pending.error = self._worker_error or StartFailed("the run did not start",
                                                                      cause="start_failed")
                elif record is None:
                    # Started but no stored verdict (the store failed at the end): the run must
                    # not stay on every screen as if it were still going.
                    self._tracker.abandon(pending.run_id)
                if self._pending is pending:
                    self._pending = None
            pending.done.set()
            self.station.wake_sync()
            self._wake.set()  # health and sync status, now

    def wait_run(self, timeout: float | None = None) -> RunRecord | None:
        """Wait for the service's current run to end; its record (None if it never started or
        its verdict could not be stored: :attr:`last_error` says why)."""
        self._runs.wait_idle(timeout)
        return self._worker_record

    def run_and_wait(self, product: str, serial: str, *, operator: str = "",
                     batch: str = "", revision: str | None = None) -> RunRecord:
        """Start a run and wait for its stored record (the terminal console's way): the same
        refusals as :meth:`start_run`; StationError if the verdict could not be stored."""
        self.start_run(product, serial, operator=operator, batch=batch, revision=revision)
        record = self.wait_run()
        if record is None:
            error = self.last_error
            if isinstance(error, StationError):
                raise error
            raise StationError(f"the run ended without a stored verdict: {error}")
        return record

    def running(self) -> bool:
        """A run is starting or in progress in the service's run thread."""
        return self._runs.busy()

    @property
    def last_error(self) -> BaseException | None:
        return self._worker_error

    def abort(self, reason: str = "") -> dict[str, Any]:
        reason = reason.strip() or "aborted by operator"
        with self._lock:
            self._catch_up()
            run = self._tracker.run
            if run is None or not self.station.abort(reason):
                raise NoRunInProgress("no run is in progress")
            return {"run_id": run["run_id"], "reason": reason}

    # -- scans -----------------------------------------------------------------------------------
    def add_scan_listener(self, listener: Callable[[str | SerialRejected], None]) -> None:
        """Also hand each read of the station's serial-port scanner, as read (text, or the
        rejection of a garbled line), to ``listener``: the terminal console's prompt."""
        self._scan_listeners.append(listener)

    def add_scanner_status_listener(self, listener: Callable[[Any], None]) -> None:
        """Hand each state change of the serial-port scanner to ``listener``, starting with
        the state it is in now if it has reported one (a scanner found absent at start-up is
        said, whenever the listener comes)."""
        with self._status_listeners_lock:
            self._status_listeners.append(listener)
            if self._scanner_last is not None:
                self._tell_status(listener, self._scanner_last)

    def submit_scan(self, raw: str | SerialRejected, *, product: str | None = None,
                    revision: str | None = None, source: str = "client") -> dict[str, Any]:
        """Check a scan and publish it. With ``start_on_scan``, a valid scan while the station
        is idle starts the run at once. The product is the one given, else the one the serial
        identifies, else the last product chosen on this station; its revision the one given
        with it, else the last one chosen for that product."""
        from edge.engine import InvalidSerial

        if product is not None:
            if revision:
                self._require_plan(product, revision)
            else:
                self._require_product(product)
        elif revision:
            raise UnknownProductError("a revision was given without its product")
        if isinstance(raw, SerialRejected):  # garbled on the serial line itself
            rejected, text = raw, raw.raw.decode("utf-8", "replace") if isinstance(
                raw.raw, bytes) else str(raw.raw or "")
        else:
            rejected, text = None, raw
        rules = self.station.serial_rules()
        product = product or (rules.identify(text) if rejected is None else None) \
            or self._selected_product
        if not revision and product is not None and product == self._selected_product:
            revision = self._selected_revision
        cleaned = None
        if rejected is None and product is not None:
            try:
                cleaned = self.station.check_serial(product, text)
            except SerialRejected as exc:
                rejected = exc
        answer: dict[str, Any] = {
            "valid": cleaned is not None, "product": product, "serial": cleaned,
            "reason": None, "messages": None, "run_id": None, "started": False}
        if rejected is not None:
            answer.update(rejection_view(rejected), product=product)
        elif product is None:
            answer.update(reason="no_product", messages={
                "fr": "Choisissez d'abord le produit : ce numéro de série ne l'indique pas.",
                "en": "Choose the product first: this serial does not tell which it is."})
        if cleaned is not None and product is not None:
            self._selected_product, self._selected_revision = product, revision
            if self.settings.start_on_scan:
                try:
                    started = self.start_run(product, cleaned, revision=revision)
                    answer.update(run_id=started["run_id"], started=True)
                except RunInProgress as exc:
                    answer.update(reason="run_in_progress", messages={
                        "fr": "Un test est en cours : attendez son verdict.", "en": str(exc)})
                except ServiceError as exc:  # start_timeout, fixture_fault…: nothing powered
                    # The precise cause, so a client can say it in its language; the station's
                    # sentence is English only (it is not an operator text).
                    answer.update(reason=exc.cause, messages={"en": str(exc)})
                except (StationError, SerialRejected, InvalidSerial) as exc:
                    answer.update(reason=getattr(exc, "code", None) or "station_cannot_start",
                                  messages={"en": str(exc)})
        self._emit(ScanRead, answer["run_id"] or "", source=source, raw=text[:256],
                           serial=cleaned, product=product, valid=answer["valid"],
                           reason=answer["reason"],
                           message_fr=(answer["messages"] or {}).get("fr"),
                           message_en=(answer["messages"] or {}).get("en"))
        return answer

    def _start_scanner(self) -> None:
        url = self.config.scanner_url
        if not url:
            return
        from drivers.scanner.serial_scanner import SerialScanner

        def on_status(status) -> None:
            with self._status_listeners_lock:
                self._scanner_last = status
                for listener in self._status_listeners:
                    self._tell_status(listener, status)
            with self._lock:
                self._scanner_status = {
                    "state": str(status.state), "port": status.port,
                    "messages": {"fr": status.message("fr"), "en": status.message("en")}}
            self._wake.set()

        def on_scan(read) -> None:
            for listener in list(self._scan_listeners):
                try:
                    listener(read)
                except Exception:
                    _log.exception("scan listener failed")
            self.submit_scan(read, source="scanner")

        self._scanner = SerialScanner(url, baudrate=self.config.scanner_baudrate,
                                      on_scan=on_scan, on_status=on_status)
        self._scanner.start()

    @staticmethod
    def _tell_status(listener: Callable[[Any], None], status: Any) -> None:
        try:
            listener(status)
        except Exception:
            _log.exception("scanner status listener failed")

    # -- delivery --------------------------------------------------------------------------------
    def _sync_settings(self):
        from edge.sync.settings import from_station_config

        return from_station_config(self.config)

    def retry_parked(self, run_id: str | None = None) -> dict[str, Any]:
        from edge.sync.outbox import Outbox

        settings = self._sync_settings()
        with self._db_lock:
            outbox = Outbox(self._conn, settings.target)
            count = outbox.retry_parked(time.time(), run_id)
            outbox.wake(time.time())
        self.station.wake_sync()
        self._wake.set()
        return {"requeued": count}

    def deliver_now(self) -> dict[str, Any]:
        from edge.sync.outbox import Outbox

        settings = self._sync_settings()
        if not settings.enabled:
            raise SyncOff("inventory sync is off ([sync] backend = 'none')")
        with self._db_lock:
            Outbox(self._conn, settings.target).wake(time.time())
        self.station.wake_sync()
        self._wake.set()
        return {"woken": True}

    # -- monitoring ------------------------------------------------------------------------------
    def _monitor_loop(self) -> None:
        next_health = time.monotonic() + self.settings.health_interval_s
        next_sync = time.monotonic() + self.settings.sync_poll_s
        while not self._stop.is_set():
            woken = self._wake.wait(max(0.0, min(next_health, next_sync) - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                return
            now = time.monotonic()
            try:
                if woken or now >= next_sync:
                    self.refresh_sync()
                    next_sync = now + self.settings.sync_poll_s
                if woken or now >= next_health:
                    self.refresh_health()
                    next_health = now + self.settings.health_interval_s
            except Exception:  # the monitor must outlive any one failed check
                _log.exception("station monitor check failed")

    def _fixture_list(self) -> list[tuple[Any, list[str]]]:
        if self._fixture_specs is None:
            from edge.products.catalog import list_products, load_product, read_catalog

            # One reading of the plans for the fixtures and the station's serial rules.
            catalog = read_catalog(self.config.plans_dirs)
            self.station.serial_rules(catalog)
            specs: dict[str, tuple[Any, list[str]]] = {}
            for info in list_products(catalog):
                try:
                    _plan, spec = load_product(str(info.plan_path),
                                               plans_dirs=self.config.plans_dirs,
                                               fixtures_dirs=self.config.fixtures_dirs,
                                               catalog=catalog)
                except Exception as exc:  # reported by the run that needs it, with file:line
                    _log.warning("product %s: %s", info.product, exc)
                    continue
                specs.setdefault(spec.fixture_id, (spec, []))[1].append(info.product)
            self._fixture_specs = list(specs.values())
        return self._fixture_specs

    def refresh_health(self) -> dict[str, Any]:
        """Re-check everything; fixtures only while no run holds them (else the last result
        stays). Publishes a ``health`` event when anything changed."""
        for spec, products in self._fixture_list():
            entry = self._fixture_health.setdefault(spec.fixture_id, health_checks.FixtureHealth(
                spec.fixture_id, spec.kind, products))
            if self._hardware.acquire(blocking=False):
                try:
                    health_checks.check_fixture(self.station, spec, entry)
                finally:
                    self._hardware.release()
        with self._db_lock:
            database = health_checks.database_view(self._conn, self.config.data_dir,
                                                   self.config.database)
        with self._lock:
            scanner = dict(self._scanner_status)
        doc: dict[str, Any] = {
            "checked_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "fixtures": [e.view() for e in self._fixture_health.values()],
            "scanner": scanner,
            "gpio_available": all(e.gpio_available is not False
                                  for e in self._fixture_health.values()),
            "clock_synced": ntp_synchronized(),
            "disk": health_checks.disk_view(self.config.data_dir),
            "database": database,
            "simulated": self.config.simulated,
        }
        doc["ok"] = health_checks.overall(doc)
        sig = health_checks.signature(doc)
        with self._lock:
            self._health = doc
            changed, self._health_sig = sig != self._health_sig, sig
        if changed:
            self._emit(HealthChanged, health=doc)
        return doc

    def refresh_sync(self) -> dict[str, Any]:
        from edge.sync.status import parked_runs, read_status

        settings = self._sync_settings()
        with self._db_lock:
            status = read_status(self._conn, settings.target, settings.backend, time.time())
            parked = parked_runs(self._conn, settings.target, limit=20)
        doc = {**status.to_dict(), "enabled": settings.enabled, "parked_runs": parked}
        # A change is anything but the age of the oldest waiting result, which grows by itself.
        sig = repr(sorted((k, v) for k, v in doc.items() if k != "oldest_undelivered_age_s"))
        with self._lock:
            self._sync = doc
            changed, self._sync_sig = sig != self._sync_sig, sig
        if changed:
            self._emit(SyncStatusChanged, status=doc)
        return doc


__all__ = [
    "NoRunInProgress",
    "RunInProgress",
    "ServiceError",
    "ServiceSettings",
    "StartFailed",
    "StationService",
    "SyncOff",
    "UnknownProductError",
    "parse_event_id",
    "rejection_view",
]
