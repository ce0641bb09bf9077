"""The station: one process that owns the hardware and the result database.

It ties the pieces together in the order that keeps results safe:

0. take the station's owner lock (:mod:`edge.owner`): a second ``pibench station`` or
   ``pibench run`` on the same data directory is refused before it touches anything;
1. open the result store and close any run a crash left RUNNING (it becomes ABORTED, with the
   steps it had, and is queued for delivery like any other run). Only the lock holder does
   this, so a RUNNING run found here really has lost its process;
2. build each fixture once (simulated or real, from configuration) and check it before any DUT
   is powered;
3. run plans through the engine, which commits every step before the next one starts;
4. deliver finished runs to the inventory from the outbox, in the background.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

from drivers.clock import MonotonicClock, PacedSimClock
from drivers.gpio.errors import PiGPIOUnavailableError
from drivers.scanner.serials import SerialRule, SerialRuleConflict, SerialRules
from edge import __version__, lazylog
from edge.config import StationConfig
from edge.engine import EventBus, Runner, StationError, StationInfo
from edge.fixtures.runtime import FixtureFault
from edge.owner import OwnerLock, OwnerLockError
from edge.records import RunRecord
from edge.store import RunRecorder, open_store, recover_interrupted
from edge.store.db import classify_sqlite_error, os_error_to_store_error
from edge.store.integrity import (
    STAMP_NAME,
    checked_this_boot,
    note_checked,
    verify_at_startup,
)

_log = lazylog.getLogger("edge.station")


def software_version() -> str:
    """The version recorded with every run (``edge.__version__``, pyproject.toml's)."""
    return __version__


class Station:
    """Use as a context manager: ``with Station(config) as station: station.run(...)``."""

    def __init__(self, config: StationConfig, *, events: EventBus | None = None,
                 command: str = "pibench", sim_pace: float | None = None,
                 check_once_per_boot: bool = False) -> None:
        self.config = config
        self.command = command  # recorded in the owner lock, for "already running as …"
        # Simulated station only: simulated time also passes in real time, at this pace.
        self.sim_pace = sim_pace
        self.owner = OwnerLock(config.data_dir)
        # The database's integrity check (every page read: seconds on a Pi for years of
        # results) at every open, or, for a process per board (`pibench run`), only when
        # nobody found the file intact since boot or the previous owner died (integrity.py).
        self.check_once_per_boot = check_once_per_boot
        self._stop_reason: str | None = None
        # Guards _runner and _stop_reason; close() waits on it for a run in another thread
        # (the local API's) to finish its teardown before the store is closed under it.
        self._run_lock = threading.Condition(threading.Lock())
        self.events = events if events is not None else EventBus()
        self.info = StationInfo(config.station_id, software_version())
        self.recovered: list[str] = []
        self._fixtures: dict[str, Any] = {}  # fixture id -> built fixture
        self._fixtures_lock = threading.Lock()
        self._serial_rules: SerialRules | None = None
        self._products: list[Any] = []  # read with the serial rules
        self._recorder: RunRecorder | None = None
        self._sync_worker = None
        self._wal_room: threading.Thread | None = None
        self._runner: Runner | None = None

    # -- life cycle ------------------------------------------------------------------------
    def open(self) -> Station:
        """Take the owner lock (StationBusyError if another process has it: nothing touched),
        then open the store and recover. Store faults raise StoreError subclasses that say
        what is wrong (read-only filesystem, full disk, a file that is not a database)."""
        try:
            self.owner.acquire(self.command)
        except OwnerLockError as exc:  # the data directory cannot even hold a lock file
            raise os_error_to_store_error(exc, self.owner.path, "create the station's lock "
                                          "file") from exc
        try:
            checked = self._verify_database()  # a damaged file: say so before writing
            conn = open_store(self.config.database)
            if checked:  # (noted once open: a new file only exists from here)
                note_checked(self.config.database, self.config.data_dir / STAMP_NAME)
            try:
                self.recovered = recover_interrupted(conn, datetime.now(UTC))
            except sqlite3.Error as exc:
                conn.close()
                raise classify_sqlite_error(exc, self.config.database,
                                            "close the interrupted runs") from exc
            for run_id in self.recovered:
                _log.warning("run %s was interrupted earlier: recorded as ABORTED", run_id)
            self._recorder = RunRecorder(conn)
        except BaseException:
            self.owner.release()
            raise
        return self

    def _verify_database(self) -> bool:
        """The integrity check, when due; whether it ran (and passed)."""
        if (self.check_once_per_boot and not self.owner.previous_owner_died
                and checked_this_boot(self.config.database, self.config.data_dir / STAMP_NAME)):
            return False
        verify_at_startup(self.config.database)
        return True

    def __enter__(self) -> Station:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._run_lock:
            if self._runner is not None:
                _log.warning("closing the station: waiting for the run in progress to end")
            self._run_lock.wait_for(lambda: self._runner is None)
        self.stop_sync()
        if self._wal_room is not None:
            self._wal_room.join()  # it holds the recorder's connection while it writes
            self._wal_room = None
        with self._fixtures_lock:
            fixtures, self._fixtures = list(self._fixtures.values()), {}
        for fixture in fixtures:
            close = getattr(fixture, "close", None)
            if close:
                close()
        if self._recorder is not None:
            self._recorder.close()
            # open() made this connection (the recorder only borrows it): closing the last
            # connection checkpoints the WAL into the file and removes it, rather than leaving
            # that to the interpreter's exit (which `pibench` skips, see edge.cli).
            self._recorder.connection.close()
            self._recorder = None
        self.owner.release()  # last: nobody else may recover while this process still writes

    @property
    def recorder(self) -> RunRecorder:
        if self._recorder is None:
            raise RuntimeError("station is not open")
        return self._recorder

    # -- products and serials ----------------------------------------------------------------
    def products(self, catalog: Any = None) -> list[Any]:
        """The products this station offers, read with their serial rules (below)."""
        self.serial_rules(catalog)
        return list(self._products)

    def serial_rules(self, catalog: Any = None) -> SerialRules:
        """Every product's serial rule, read from the plans once per station start rather than
        on every scan (each run still loads its plan afresh, and its pattern is checked again
        by the engine, so a plan edited meanwhile is never bypassed). ``catalog``: the plans
        already read by the caller, so they are not parsed twice."""
        if self._serial_rules is None:
            from edge.products.catalog import list_products

            products = list_products(catalog if catalog is not None else self.config.plans_dirs)
            rules = SerialRules()
            plan_paths = {}  # product -> the plan file its rule comes from
            for rule, plan_path in _serial_rules_by_product(products):
                plan_paths[rule.product] = plan_path
                try:
                    rules.add(rule)
                except SerialRuleConflict as exc:
                    if exc.other is None:  # one rule per product: cannot happen
                        raise
                    raise _serial_rule_error(exc, exc.other, plan_paths) from exc
            self._products, self._serial_rules = products, rules
        return self._serial_rules

    def revisions(self, product: str) -> tuple[str, ...]:
        """The revisions of ``product`` this station has plans for, as read with the serial
        rules (once per station start), in the plans' order."""
        self.serial_rules()
        return tuple(dict.fromkeys(p.revision for p in self._products if p.product == product))

    def check_serial(self, product: str, raw: str, catalog: Any = None) -> str:
        """The cleaned serial, or :class:`SerialRejected` with a specific reason (garbled
        read, keyboard layout mismatch, another product's serial, wrong format)."""
        rules = self.serial_rules(catalog)
        if product not in rules:
            # Let the plan's own pattern decide for a product without a serial rule.
            return raw.strip()
        return rules.validate(product, raw)

    # -- fixtures -----------------------------------------------------------------------------
    def fixture_for(self, fixture_spec: Any) -> Any:
        """The fixture for a spec, built and checked once, then reused for every run."""
        from edge.products.catalog import build_fixture

        key = fixture_spec.fixture_id
        with self._fixtures_lock:
            fixture = self._fixtures.get(key)
            if fixture is None:
                try:
                    fixture = build_fixture(
                        fixture_spec,
                        simulated=self.config.simulated,
                        i2c_bus=self.config.i2c_bus,
                        expander_backend=self.config.expander_backend,
                        sim_faults=self.config.sim_faults,
                        clock=(PacedSimClock(self.sim_pace)
                               if self.config.simulated and self.sim_pace else None),
                        # lgpio's notification pipe: in the data dir the station owns (a
                        # unit's LG_WD still wins), never a new temporary dir per run.
                        gpio_workdir=None if self.config.simulated else self.config.data_dir,
                    )
                except (OSError, PiGPIOUnavailableError) as exc:
                    # No I2C bus, no GPIO: the station cannot test at all. Said plainly, with
                    # the driver's own hint (how to enable I2C, which group to join).
                    raise FixtureFault(
                        f"the station cannot reach fixture '{key}': {exc}") from exc
                self._fixtures[key] = fixture
        return fixture

    # -- runs ---------------------------------------------------------------------------------
    def runner_for(self, product: str, catalog: Any = None,
                   revision: str | None = None) -> Runner:
        """A runner on the product's plan (its revision ``revision``'s), read afresh from the
        plans (or from ``catalog``, the plans this very run has just read)."""
        from edge.products.catalog import load_product, plan_key

        plan, fixture_spec = load_product(
            plan_key(product, revision) if revision else product,
            plans_dirs=self.config.plans_dirs, fixtures_dirs=self.config.fixtures_dirs,
            catalog=catalog,
        )
        fixture = self.fixture_for(fixture_spec)
        clock = getattr(fixture, "clock", None) or MonotonicClock()
        return Runner(plan, fixture, self.recorder, clock=clock, station=self.info,
                      events=self.events)

    def run(self, product: str, serial: str, *, operator: str = "", batch: str = "",
            revision: str | None = None) -> RunRecord:
        """Validate the serial, check the fixture, run the plan (the product's revision
        ``revision``, which a product with several plans needs). Raises SerialRejected /
        InvalidSerial before anything is powered; every other problem ends up in the record."""
        catalog = None
        if self._serial_rules is None:
            # This station's first run (every `pibench run`): one reading of the plans serves
            # both the serial rules and the run's plan, instead of parsing every plan twice.
            from edge.products.catalog import read_catalog

            catalog = read_catalog(self.config.plans_dirs)
        cleaned = self.check_serial(product, serial, catalog)
        runner = self.runner_for(product, catalog, revision)
        with self._run_lock:
            if self._stop_reason is not None:
                raise StationStopping(f"the station is stopping ({self._stop_reason}): "
                                      "no new run")
            self._runner = runner
        try:
            return runner.run(cleaned, operator=operator, batch=batch)
        finally:
            with self._run_lock:
                self._runner = None
                self._run_lock.notify_all()

    def abort(self, reason: str = "aborted by operator") -> bool:
        runner = self._runner
        return runner.abort(reason) if runner is not None else False

    def stop(self, reason: str) -> bool:
        """The station is told to stop (a signal, from any thread): the run in progress is
        aborted through the engine (its teardown powers the board off, every step gets its
        row, the run is stored ABORTED with ``reason``) and no new run starts. True when a run
        was in progress (what the operator is told depends on it)."""
        with self._run_lock:
            self._stop_reason = reason
            runner = self._runner
        if runner is not None:
            runner.stop(reason)
        return runner is not None

    @property
    def stopping(self) -> str | None:
        return self._stop_reason

    # -- the WAL's room ------------------------------------------------------------------------
    def start_wal_room(self) -> None:
        """Reserve the WAL file's room (:mod:`edge.store.wal_room`) in a background thread, so
        the station's first boards commit their steps in place, as its later ones do.

        For a long-lived station only: SQLite removes the WAL when the last connection closes,
        so a process that tests one board (``pibench run``) would write the room (about 2.6 MB)
        for a WAL of about 0.1 MB. In a thread because on an SD card writing it takes a few
        hundred ms, which the prompt and the API need not wait for; a run that starts meanwhile
        waits for the recorder's lock, as for any other write."""
        thread = threading.Thread(target=self._reserve_wal_room, name="pibench-wal-room",
                                  daemon=True)
        self._wal_room = thread
        thread.start()

    def _reserve_wal_room(self) -> None:
        from edge.store.db import StoreError

        try:
            added = self.recorder.reserve_wal_room()
        except (StoreError, OSError, RuntimeError) as exc:
            _log.warning("could not reserve room in the WAL file (results are safe; steps "
                         "commit as before, a little slower until the first checkpoint): %s", exc)
            return
        _log.info("WAL file given its room (%d bytes added): steps overwrite it in place", added)

    # -- delivery -----------------------------------------------------------------------------
    def start_sync(self) -> bool:
        """Deliver in a background thread of this process, if a backend is configured.
        Returns False when sync is off. Testing never waits for it."""
        from edge.sync.settings import from_station_config

        settings = from_station_config(self.config)
        if not settings.enabled:
            return False
        from edge.sync.worker import SyncWorker  # the HTTP stack: only with a sync to run

        self._sync_worker = SyncWorker(self.config.database, settings)
        # start() reports a worker that cannot run (another process holds the database's sync
        # lock) in the sync status instead of letting a bare thread die silently.
        self._sync_worker.start()
        return True

    def wake_sync(self) -> None:
        if self._sync_worker is not None:
            self._sync_worker.wake()

    def stop_sync(self) -> None:
        if self._sync_worker is not None:
            self._sync_worker.stop(timeout=5)  # its thread closes the backend on the way out
            self._sync_worker = None


def _serial_rules_by_product(products: list[Any]) -> list[tuple[SerialRule, Any]]:
    """One serial rule per product, with the plan file it comes from. Several revisions of a
    product (a plan file each) share one rule: a serial any of their patterns accepts. Which
    revision a run uses is chosen with the plan, by its file name when the product alone is
    ambiguous (edge.products.catalog.find_plan)."""
    by_product: dict[str, list[Any]] = {}
    for info in products:
        by_product.setdefault(info.product, []).append(info)
    out = []
    for product, infos in by_product.items():
        patterns = list(dict.fromkeys(info.serial_pattern for info in infos))
        pattern = patterns[0] if len(patterns) == 1 else "|".join(f"(?:{p})" for p in patterns)
        out.append((SerialRule(product, pattern, infos[0].example_serial), infos[0].plan_path))
    return out


def _serial_rule_error(exc: SerialRuleConflict, other: SerialRule,
                       plan_paths: dict[str, Any]) -> Exception:
    """Two products whose serials a scan could not tell apart: the plan file's error (exit 78),
    at its ``serial_pattern``, naming the other product's plan file."""
    from edge.plans.loader import read_toml

    rule = exc.rule
    return read_toml(plan_paths[rule.product]).error(
        ("plan", "serial_pattern"),
        f"{rule.product}'s serial pattern {rule.pattern!r} and {other.product}'s "
        f"{other.pattern!r} ({plan_paths[other.product]}) accept each other's serials "
        f"({rule.example!r}, {other.example!r}): a scan could not tell the two products apart. "
        "Give each product a pattern of its own, e.g. its own prefix")


class StationStopping(StationError):
    """A run was asked for after the station was told to stop."""

    code = "station_stopping"


__all__ = ["Station", "StationStopping", "software_version"]
