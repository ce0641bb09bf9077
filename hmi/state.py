"""What the operator screen knows about the station: plain dataclasses, filled from the station's
snapshot and kept current by its events. No Textual import, so the whole model is tested without
a terminal, and no copy of the run's state machine: the station decides, this only mirrors.

The one rule that matters here: nothing is shown as *current* unless it came from the station
since the last (re)connection. A disconnect empties the live view (``link`` != "up"; a verdict
already shown stays, marked as from an unreachable station), and a reconnect starts again from
the snapshot.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from hmi.causes import Cause, aborted_cause, error_cause
from hmi.i18n import refusal_text

FINAL = ("PASS", "PASS-MARGINAL", "FAIL", "ERROR", "ABORTED")


class Phase(StrEnum):
    LINK = "link"  # no station state yet, or the link is down (and no verdict was on screen)
    READY = "ready"
    RUNNING = "running"
    VERDICT = "verdict"


_STEP_STATE = {"pending": "PENDING", "running": "RUNNING"}


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _age(started_utc: str) -> float:
    """Seconds since an ISO-8601 UTC time (the station runs on the same clock as the panel);
    0 when unknown, so the elapsed time never goes negative or wild."""
    try:
        started = datetime.fromisoformat(started_utc)
    except (TypeError, ValueError):
        return 0.0
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    age = (datetime.now(UTC) - started).total_seconds()
    return age if 0 <= age < 86400 else 0.0


@dataclass(slots=True)
class MeasurementView:
    name: str
    value: Any
    outcome: str
    units: str = ""
    low: float | None = None
    high: float | None = None
    marginal_low: float | None = None
    marginal_high: float | None = None
    expected: Any = None

    @classmethod
    def from_wire(cls, data: dict) -> MeasurementView:
        limits = data.get("limits") or data  # live events and stored runs: flat limits
        value = data.get("value")
        if data.get("value_type") == "float" and isinstance(value, str):
            value = float(value)  # "nan", "inf": strict JSON's way of sending them
        return cls(
            name=str(data.get("name", "")),
            value=value,
            outcome=str(data.get("outcome", "")),
            units=str(limits.get("units", "") or ""),
            low=_num(limits.get("low")),
            high=_num(limits.get("high")),
            marginal_low=_num(limits.get("marginal_low")),
            marginal_high=_num(limits.get("marginal_high")),
            expected=limits.get("expected"),
        )

    @property
    def passed(self) -> bool:
        return self.outcome in ("PASS", "PASS-MARGINAL")

    def value_text(self) -> str:
        v = self.value
        if v is None:
            text = "—"
        elif isinstance(v, bool):
            return "✔" if v else "✘"
        elif isinstance(v, float):
            text = "NaN" if math.isnan(v) else f"{v:.4g}"
        elif isinstance(v, int) and isinstance(self.expected, int) and not isinstance(
                self.expected, bool):
            text = f"{v:#06x}"
        else:
            text = str(v)
        return f"{text} {self.units}".strip() if not isinstance(v, str) else text

    def limits_text(self) -> str:
        if self.expected is not None:
            exp = self.expected
            if isinstance(exp, bool):
                return "= ✔" if exp else "= ✘"
            if isinstance(exp, int):
                return f"= {exp:#06x}"
            return f"= {exp}"
        lo = "" if self.low is None else f"{self.low:.4g} ≤ "
        hi = "" if self.high is None else f" ≤ {self.high:.4g}"
        if not lo and not hi:
            return ""
        return f"{lo}x{hi} {self.units}".strip()

    def marginal_text(self) -> str:
        if self.marginal_low is None and self.marginal_high is None:
            return ""
        lo = "" if self.marginal_low is None else f"{self.marginal_low:.4g}"
        hi = "" if self.marginal_high is None else f"{self.marginal_high:.4g}"
        return f"[{lo}…{hi}]"


@dataclass(slots=True)
class StepView:
    index: int
    name: str
    teardown: bool = False
    state: str = "PENDING"  # PENDING, RUNNING, then the step's outcome
    attempt: int = 1
    measurements: list[MeasurementView] = field(default_factory=list)
    error: str | None = None
    duration_s: float | None = None
    planned: int = 0  # measurements the plan declares for this step (rows reserved on screen)


@dataclass(slots=True)
class RunView:
    run_id: str
    serial: str
    product: str
    revision: str = ""
    started_utc: str = ""
    retest: bool = False
    steps: list[StepView] = field(default_factory=list)
    outcome: str = "RUNNING"
    error: str | None = None
    duration_s: float | None = None
    started_mono: float = field(default_factory=time.monotonic)
    seen_finish: bool = True  # False: it finished while the link was down (said on screen)

    @property
    def running(self) -> bool:
        return self.outcome == "RUNNING"

    def step(self, index: int, name: str = "", teardown: bool = False) -> StepView:
        for step in self.steps:
            if step.index == index:
                return step
        step = StepView(index, name, teardown)
        self.steps.append(step)
        self.steps.sort(key=lambda s: s.index)
        return step

    def failing(self) -> list[tuple[StepView, MeasurementView | None]]:
        """What the verdict screen lists: each bad measurement, or the bad step when it has
        none (a step that raised, a missing part)."""
        out: list[tuple[StepView, MeasurementView | None]] = []
        for step in self.steps:
            if step.state not in ("FAIL", "ERROR", "ABORTED"):
                continue
            bad = [m for m in step.measurements if not m.passed]
            if bad:
                out.extend((step, m) for m in bad)
            else:
                out.append((step, None))
        return out

    def cause(self) -> Cause | None:
        """Why an ERROR run is ERROR, or an ABORTED one stopped, as a stable code with the
        operator's words (hmi.causes); None for any other outcome."""
        if self.outcome not in ("ERROR", "ABORTED"):
            return None
        errors = [s.error or "" for s in self.steps if s.state == self.outcome]
        if self.outcome == "ABORTED":
            return aborted_cause(self.error, errors)
        return error_cause(self.error, errors)

    def marginal(self) -> list[tuple[StepView, MeasurementView]]:
        return [(s, m) for s in self.steps for m in s.measurements if m.outcome == "PASS-MARGINAL"]

    def elapsed(self, now: float | None = None) -> float:
        if not self.running and self.duration_s is not None:
            return self.duration_s
        return max(0.0, (time.monotonic() if now is None else now) - self.started_mono)

    @classmethod
    def from_record(cls, data: dict) -> RunView:
        """A run as the station stores it (GET /runs/{id}, or the snapshot's run)."""
        meta = data.get("meta") or data
        run = cls(
            run_id=str(meta.get("run_id", data.get("run_id", ""))),
            serial=str(meta.get("serial", "")),
            product=str(meta.get("product", "")),
            revision=str(meta.get("revision", "")),
            started_utc=str(meta.get("started_utc", "")),
            retest=bool(meta.get("retest", False)),
            outcome=str(data.get("outcome", "RUNNING")),
            error=data.get("error"),
            duration_s=_num(data.get("duration_s")),
        )
        elapsed = _num(data.get("elapsed_s"))  # the station's own count, when it sends one
        run.started_mono = time.monotonic() - (elapsed if elapsed is not None and elapsed >= 0
                                               else _age(run.started_utc))
        for name_index, name in enumerate(data.get("step_names") or ()):
            run.step(name_index, name)
        for step in data.get("steps") or ():
            view = run.step(int(step.get("index", 0)), str(step.get("name", "")),
                            bool(step.get("teardown", False)))
            view.state = str(step.get("outcome") or _STEP_STATE.get(
                str(step.get("state", "")), "PENDING"))
            attempts = step.get("attempts") or ()
            view.attempt = len(attempts) or 1
            meas = step.get("measurements")
            if meas is None and attempts:
                meas = attempts[-1].get("measurements")
            view.measurements = [MeasurementView.from_wire(m) for m in meas or ()]
            view.error = step.get("error") or (attempts[-1].get("error") if attempts else None)
            view.duration_s = _num(step.get("duration_s"))
        return run


@dataclass(slots=True)
class ProductView:
    name: str
    revision: str = ""
    example_serial: str = ""
    steps: list[str] = field(default_factory=list)
    measurements: dict[str, int] = field(default_factory=dict)  # step name -> how many


def plan_choices(products: list[ProductView]) -> list[tuple[str, str]]:
    """What the operator picks from, one per plan: (product, revision), the revision "" for a
    product the station has one plan of (its name says it all)."""
    plans_of: dict[str, int] = {}
    for p in products:
        plans_of[p.name] = plans_of.get(p.name, 0) + 1
    return [(p.name, p.revision if plans_of[p.name] > 1 else "") for p in products]


@dataclass(slots=True)
class HealthView:
    fixture: str = "unknown"  # ok, missing, unknown (with detail)
    fixture_detail: str = ""
    scanner: str = "none"  # ok, missing, none (keyboard wedge only)
    clock_synced: bool | None = None
    disk_low: bool = False
    database_ok: bool = True

    @classmethod
    def from_wire(cls, data: dict) -> HealthView:
        """The station's health document: fixtures[], scanner{state}, clock_synced, disk{low},
        database{writable}."""
        fixtures = data.get("fixtures") or []
        bad = [f for f in fixtures if f.get("present") is False or f.get("identified") is False
               or f.get("gpio_available") is False]
        if bad:
            fixture, detail = "missing", str(bad[0].get("message") or "")
        elif fixtures and all(f.get("present") and f.get("identified") for f in fixtures):
            fixture, detail = "ok", ""
        else:
            fixture, detail = "unknown", ""
        scanner = (data.get("scanner") or {}).get("state", "none")
        disk = data.get("disk") or {}
        return cls(
            fixture=fixture,
            fixture_detail=detail,
            scanner={"connected": "ok", "none": "none"}.get(str(scanner), "missing"),
            clock_synced=data.get("clock_synced"),
            disk_low=bool(disk.get("low", False)),
            database_ok=(data.get("database") or {}).get("writable", True) is not False,
        )


@dataclass(slots=True)
class SyncView:
    state: str = "off"  # off, delivered, waiting, unreachable, login
    waiting: int = 0
    since: str | None = None

    @classmethod
    def from_wire(cls, data: dict) -> SyncView:
        """The station's delivery status: backend, state (up/down/auth/incompatible),
        queue_depth, parked, last_success_utc."""
        if not data or not data.get("enabled", False) or data.get("backend") == "none":
            return cls()
        waiting = int(data.get("queue_depth", 0) or 0) + int(data.get("parked", 0) or 0)
        state = str(data.get("state", "up"))
        if state == "auth" or data.get("paused_for_auth"):
            return cls("login", waiting)
        if state in ("down", "incompatible"):
            since = data.get("last_success_utc") or data.get("oldest_undelivered_utc")
            return cls("unreachable", waiting, since)
        return cls("waiting" if waiting else "delivered", waiting)


@dataclass(slots=True)
class ScanView:
    raw: str
    ok: bool
    serial: str = ""
    product: str = ""
    reason: dict[str, str] = field(default_factory=dict)  # language -> message
    source: str = "keyboard"  # keyboard, serial-port
    code: str = ""  # the station's refusal code (serial_rejected, start_timeout…), if any
    run_id: str = ""  # with start-on-scan: the run this scan started
    start_refused: bool = False  # a good serial, but the station would not start the test

    def reason_text(self, lang: str) -> str:
        return refusal_text(self.code, self.reason, lang)

    @classmethod
    def from_wire(cls, data: dict) -> ScanView:
        reason = data.get("messages") or data.get("message") or {
            lang: text for lang in ("fr", "en") if (text := data.get(f"message_{lang}"))}
        code = data.get("code") or data.get("reason") or ""
        if isinstance(code, dict):  # an older answer: the texts under "reason"
            reason, code = reason or code, ""
        if isinstance(reason, str):
            reason = {"en": reason}
        valid = bool(data.get("valid", data.get("ok", False)))
        # With start-on-scan a valid serial carries the refusal of its start (start_timeout,
        # run_in_progress…): that scan did not start anything and the screen must say why.
        start_refused = valid and bool(code) and not data.get("started", False)
        return cls(
            raw=str(data.get("raw", "")),
            ok=valid and not start_refused,
            serial=str(data.get("serial", "") or ""),
            product=str(data.get("product", "") or ""),
            reason=dict(reason),
            source=str(data.get("source", "keyboard")),
            code=str(code),
            run_id=str(data.get("run_id", "") or ""),
            start_refused=start_refused,
        )


@dataclass
class StationState:
    link: str = "connecting"  # connecting, up, down
    down_since: float | None = None  # wall-clock time.time() of the first failure
    resynced: bool = False  # the last reconnection found a new station process
    boot: str | None = None
    last_seq: int = 0
    station_id: str = ""
    software_version: str = ""
    products: list[ProductView] = field(default_factory=list)
    product: str = ""  # the product the next run is for
    revision: str = ""  # its revision, when the station has plans for several: the operator's
    product_tapped: bool = False  # chosen by a tap: scans are checked against it, not guessed
    start_on_scan: bool = False
    health: HealthView = field(default_factory=HealthView)
    sync: SyncView = field(default_factory=SyncView)
    run: RunView | None = None  # the running run, or the finished one whose verdict is shown
    scan: ScanView | None = None  # the scan waiting for Start, or the last refused one
    starting: bool = False  # Start pressed, the station has not answered yet
    lost_run: RunView | None = None  # running when the link dropped: its state is unknown

    @property
    def phase(self) -> Phase:
        if self.link != "up":
            # A finished run's verdict is a stored fact: it stays, marked unreachable.
            return Phase.VERDICT if self.run is not None else Phase.LINK
        if self.run is not None:
            return Phase.RUNNING if self.run.running else Phase.VERDICT
        return Phase.READY

    # -- the link -------------------------------------------------------------------------
    def link_lost(self, now: float | None = None) -> None:
        """Forget everything live: it may be stale by the time the link is back. A verdict
        already shown stays (its run is finished and stored; the screen marks the link down);
        a run that was going is only remembered as ``lost_run``, whose state is unknown."""
        if self.down_since is None:
            self.down_since = time.time() if now is None else now
        self.link = "down"
        if self.run is not None and self.run.running:
            self.lost_run = self.run
            self.run = None
        self.scan = None  # waiting for START at a station that may have restarted: rescan
        self.starting = False

    def load_snapshot(self, snap: dict) -> None:
        """The whole truth after a (re)connection; replaces every live field."""
        boot = snap.get("boot")
        self.resynced = self.boot is not None and boot is not None and boot != self.boot
        self.boot = boot
        self.last_seq = int(snap.get("seq", 0) or 0)
        station = snap.get("station") or {}
        self.station_id = str(station.get("station_id", station.get("id", self.station_id)))
        self.software_version = str(station.get("software_version", self.software_version))
        if "products" in snap:
            self.products = [
                ProductView(str(p.get("product", p.get("name", ""))), str(p.get("revision", "")),
                            str(p.get("example_serial", "")),
                            [str(s.get("name", s)) if isinstance(s, dict) else str(s)
                             for s in p.get("steps") or ()],
                            {str(s.get("name")): len(s.get("measurements") or ())
                             for s in p.get("steps") or () if isinstance(s, dict)})
                for p in snap["products"]
            ]
        if snap.get("product"):
            self.product = str(snap["product"])
            self.revision = str(snap.get("revision") or "")
        if not self.product and len(self.products) == 1:
            self.product = self.products[0].name
        self.start_on_scan = bool(snap.get("start_on_scan", self.start_on_scan))
        if "health" in snap:
            self.health = HealthView.from_wire(snap["health"] or {})
        if "sync" in snap:
            self.sync = SyncView.from_wire(snap["sync"] or {})
        run, shown = snap.get("run"), self.run or self.lost_run
        self.lost_run = None
        self.run = RunView.from_record(run) if run else None
        last = snap.get("last_run") or {}
        if self.run is None and shown is not None and last.get("run_id") == shown.run_id:
            # A resync (a reconnection, or a stream too slow that the station cut short with a
            # gap) after the run on screen finished: its verdict stays, as if seen live.
            if shown.running:
                finished = RunView.from_record(last)
                finished.seen_finish = False
                self.run = finished
            else:
                self.run = shown
        self.link = "up"
        self.down_since = None
        self.starting = False

    def show_finished(self, record: dict, *, seen_finish: bool) -> None:
        """Show the verdict of a run this screen was watching when the link dropped."""
        self.run = RunView.from_record(record)
        self.run.seen_finish = seen_finish

    # -- events -----------------------------------------------------------------------------
    def apply(self, kind: str, data: dict, seq: int | None = None) -> str:
        """Apply one station event; returns what changed ("run", "step:<i>", "scan", "health",
        "sync", "none") so the screen repaints only that."""
        if seq is not None:
            self.last_seq = seq
        handler = getattr(self, f"_on_{kind}", None)
        return handler(data) if handler else "none"

    def _on_run_started(self, data: dict) -> str:
        meta = data.get("meta") or {}
        run = RunView(str(data.get("run_id", meta.get("run_id", ""))), str(meta.get("serial", "")),
                      str(meta.get("product", "")), str(meta.get("revision", "")),
                      str(meta.get("started_utc", "")), bool(meta.get("retest", False)))
        teardown = list(data.get("teardown") or ())
        names = list(data.get("steps") or ())
        n_main = len(names) - len(teardown) if names[-len(teardown):] == teardown else len(names)
        plan = next((p.measurements for p in self.products if p.name == run.product), {})
        for i, name in enumerate(names):
            run.step(i, str(name), teardown=i >= n_main).planned = plan.get(str(name), 0)
        self.run = run
        self.scan = None
        self.starting = False
        if run.product:
            if run.product != self.product:
                self.revision = ""
            self.product = run.product
            if self.needs_revision():  # the run says which revision it was
                self.revision = run.revision
        return "run"

    def _current(self, data: dict) -> RunView | None:
        run = self.run
        if run is None or (data.get("run_id") and data["run_id"] != run.run_id):
            return None  # an event of a run this screen never saw start: the snapshot will say
        return run

    def _on_step_started(self, data: dict) -> str:
        run = self._current(data)
        if run is None:
            return "none"
        step = run.step(int(data.get("index", 0)), str(data.get("name", "")),
                        bool(data.get("teardown", False)))
        step.state = "RUNNING"
        step.attempt = int(data.get("attempt", 1))
        if step.attempt > 1:
            step.measurements = []
        return f"step:{step.index}"

    def _on_measurement(self, data: dict) -> str:
        run = self._current(data)
        if run is None:
            return "none"
        step = run.step(int(data.get("step_index", 0)), str(data.get("step_name", "")))
        step.measurements.append(MeasurementView.from_wire(data.get("measurement") or {}))
        return f"step:{step.index}"

    def _on_step_finished(self, data: dict) -> str:
        run = self._current(data)
        if run is None:
            return "none"
        result = data.get("result") or data
        step = run.step(int(result.get("index", 0)), str(result.get("name", "")))
        step.state = str(result.get("outcome", "ERROR"))
        attempts = result.get("attempts") or ()
        if attempts:
            step.attempt = len(attempts)
            step.measurements = [MeasurementView.from_wire(m)
                                 for m in attempts[-1].get("measurements") or ()]
            step.error = attempts[-1].get("error")
        step.duration_s = _num(result.get("duration_s"))
        return f"step:{step.index}"

    def _on_run_finished(self, data: dict) -> str:
        run = self._current(data)
        record = data.get("record") or data
        if run is None:
            self.run = RunView.from_record(record)
            return "run"
        finished = RunView.from_record(record)
        finished.started_mono = run.started_mono
        live = {step.index: step for step in run.steps}
        for step in finished.steps:  # a stored record does not say which steps were teardown
            if step.index in live:
                step.teardown = live[step.index].teardown
                step.planned = live[step.index].planned
        self.run = finished
        return "run"

    def _on_scan(self, data: dict) -> str:
        scan = ScanView.from_wire(data)
        if self.run is not None and self.run.running:
            return "none"  # the station ignores scans during a run; so does the screen
        if scan.run_id and self.run is not None and self.run.run_id == scan.run_id:
            # The scan that started the run on screen: its answer (or its ScanRead event) can
            # arrive after the run's own events, even after its verdict; it is not a next board.
            return "none"
        self.run = None  # a scan after a verdict is the next board: the verdict goes away
        self.scan = scan
        if scan.ok and scan.product:
            if scan.product != self.product:
                self.revision = ""  # another product: its revision is to be chosen again
            self.product = scan.product
        return "scan"

    def scan_product(self) -> str | None:
        """The product a scan is checked against: the one the operator tapped, else none (the
        station tells the product from the serial's pattern)."""
        return self.product if self.product_tapped and self.product else None

    def _on_health(self, data: dict) -> str:
        self.health = HealthView.from_wire(data.get("health", data))
        return "health"

    def _on_sync(self, data: dict) -> str:
        self.sync = SyncView.from_wire(data.get("status", data))
        return "sync"

    def _on_settings(self, data: dict) -> str:
        self.start_on_scan = bool(data.get("start_on_scan", self.start_on_scan))
        return "scan"

    # -- local actions ------------------------------------------------------------------------
    def revisions(self, product: str | None = None) -> list[str]:
        """The revisions the station has plans for, of ``product`` (default: the chosen one)."""
        name = self.product if product is None else product
        return [p.revision for p in self.products if p.name == name]

    def needs_revision(self) -> bool:
        """The chosen product has plans for several revisions: which board it is must be
        tapped, the station will not guess."""
        return len(self.revisions()) > 1

    def choose_product(self, name: str, revision: str = "") -> None:
        self.product = name
        self.revision = revision if len(self.revisions(name)) > 1 else ""
        self.product_tapped = True
        if self.scan is not None and self.scan.product and self.scan.product != name:
            self.scan = None  # a serial read for another product is not for this one

    def next_board(self) -> None:
        """The verdict was seen; back to the ready screen."""
        if self.run is not None and not self.run.running:
            self.run = None

    def can_start(self) -> bool:
        return (self.phase is Phase.READY and not self.starting and self.scan is not None
                and self.scan.ok and bool(self.product)
                and (bool(self.revision) or not self.needs_revision()))
