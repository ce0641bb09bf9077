"""The run engine: one plan, one fixture, one DUT at a time, every step durable before the next.

``Runner(plan, fixture, recorder, clock=..., station=...).run(serial) -> RunRecord``

Sequence of a run:

1. The serial must fullmatch the plan's pattern, else :class:`InvalidSerial` and nothing starts.
2. The fixture is claimed (:class:`FixtureBusy` if another run holds it), a uuid4 run id is
   minted and ``recorder.begin_run(meta)`` makes the run durable before anything is powered.
3. Steps run in order, in the calling thread (no thread per step: OpenHTF's per-phase thread is
   where its ~0.7 ms/phase goes). Each attempt gets a deadline on the injected clock; timeouts
   and abort are cooperative (see :mod:`edge.engine.context`). A FAIL/ERROR attempt is retried
   up to ``retries`` times, every attempt recorded; the step's outcome is its last attempt's.
   Each StepResult goes to ``recorder.record_step`` before the next step starts.
4. A critical step that ends FAIL or ERROR, or an operator abort, stops the run: the remaining
   steps are recorded as SKIPPED, except ``always = true`` ones, which still run.
5. ``[[teardown]]`` steps always run afterwards (PASS, FAIL, ERROR, abort, a step's exception,
   even KeyboardInterrupt), each one regardless of the others, and cannot be aborted: they are
   what powers the DUT off.
6. ``recorder.finish_run`` makes the verdict durable; only then is RunFinished emitted.

Run outcome: ABORTED if an abort cut the run short; otherwise the worst outcome of the steps
(ERROR > FAIL > PASS-MARGINAL > PASS). Teardown outcomes never hide that verdict: they only count
when the steps passed, because a PASS is only a PASS if the station also got the DUT safely
powered off; a FAIL stays FAIL even if power-off also failed (the run's ``error`` says so).
An abort arriving after the last step finished changes nothing: nothing was cut short.
"""

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from drivers.clock import Clock
from drivers.named_tuple import NamedTuple
from edge import lazylog
from edge.engine.context import (
    NEVER_ABORTED,
    AbortFlag,
    DutFailure,
    RunAborted,
    StationError,
    StepContext,
    StepLogger,
    StepTimeout,
)
from edge.engine.events import (
    EventBus,
    Log,
    MeasurementTaken,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from edge.engine.timesync import ntp_synchronized
from edge.plans.loader import check_resources
from edge.plans.model import Plan, Step
from edge.records import (
    Attempt,
    Measurement,
    Outcome,
    RunMeta,
    RunRecord,
    StepResult,
    worst,
)
from edge.run_ids import new_run_id

_log = lazylog.getLogger("edge.engine")
_step_log = lazylog.getLogger("edge.engine.step")

_RETRYABLE = (Outcome.FAIL, Outcome.ERROR)


class Recorder(Protocol):
    """The result store as the engine uses it (implemented by ``edge.store.recorder``)."""

    def begin_run(self, meta: RunMeta) -> None: ...

    def record_step(self, run_id: str, step: StepResult) -> None:
        """Durable on return."""

    def finish_run(
        self,
        run_id: str,
        outcome: Outcome,
        ended_utc: str,
        duration_s: float,
        error: str | None = None,
    ) -> RunRecord: ...

    def has_runs_for(self, serial: str, product: str) -> bool: ...


class Fixture(Protocol):
    """What the engine needs of a fixture. ``kind`` must match the plan's ``fixture``; if the
    object also has ``resources: Mapping[str, str]`` (name -> kind), plan references are
    checked against it when the Runner is built."""

    fixture_id: str  # this physical fixture: the lock key, recorded in every run
    kind: str

    def resource(self, name: str) -> Any: ...


class StationInfo(NamedTuple):  # (a NamedTuple: no dataclasses at start, issue 14)
    """Which station and which software recorded a run."""

    station_id: str
    software_version: str


class InvalidSerial(ValueError):
    """The scanned serial does not match the plan's pattern: no run was started."""

    def __init__(self, serial: str, plan: Plan) -> None:
        super().__init__(f"serial {serial!r} is not a valid {plan.product} serial "
                         f"(plan '{plan.name}' expects {plan.serial_pattern.pattern})")
        self.serial = serial


class FixtureBusy(StationError):
    """Another run holds this fixture."""

    code = "fixture_busy"


class WrongFixture(StationError):
    """The plan needs another kind of fixture than the one on the station."""

    code = "wrong_fixture"


class StoreFailedAtStart(StationError):
    """The result store could not open the run: nothing was powered."""

    code = "store_failed"


class _StoreFailed(Exception):
    """The recorder raised: the run can no longer be made durable."""


class _FixtureClaims:
    """At most one run per fixture id, across all Runner objects of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: dict[str, str] = {}  # fixture id -> what holds it, for the message

    @contextmanager
    def claim(self, fixture_id: str, holder: str) -> Iterator[None]:
        with self._lock:
            current = self._holders.get(fixture_id)
            if current is not None:
                raise FixtureBusy(f"fixture '{fixture_id}' is busy: {current} is in progress; "
                                  "wait for it to finish or abort it")
            self._holders[fixture_id] = holder
        try:
            yield
        finally:
            with self._lock:
                del self._holders[fixture_id]


FIXTURE_CLAIMS = _FixtureClaims()


_utc_second: tuple[int, str] = (0, "")
# ".000+00:00" ... ".999+00:00": looked up rather than formatted, as ``:03d`` costs more than
# the rest of the function together. Filled as they are needed: all thousand made at import
# cost every command 0.3 ms (issue 14).
_MILLIS_SUFFIX: dict[int, str] = {}


def utc_now_iso() -> str:
    """Wall-clock UTC, ISO-8601 with milliseconds ("2026-03-14T09:00:00.250+00:00").

    Called twice per step, so the date-and-time part is formatted once per second and reused:
    ``datetime.now(UTC).isoformat()`` costs several µs on a small CPU, this well under one.
    """
    global _utc_second
    # Rounded to the microsecond first, as datetime rounds a timestamp: truncating the float
    # read x.001 s as x.000999... and wrote .000.
    second, micros = divmod(round(time.time() * 1_000_000), 1_000_000)
    cached = _utc_second  # one tuple read: consistent even if another thread replaces it
    if cached[0] != second:
        cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        _utc_second = cached
    millis = micros // 1000
    suffix = _MILLIS_SUFFIX.get(millis)
    if suffix is None:  # (two threads making the same one store equal strings)
        suffix = _MILLIS_SUFFIX[millis] = f".{millis:03d}+00:00"
    return cached[1] + suffix


class Runner:
    def __init__(
        self,
        plan: Plan,
        fixture: Fixture,
        recorder: Recorder,
        *,
        clock: Clock,
        station: StationInfo,
        events: EventBus | None = None,
        clock_synced: Callable[[], bool] = ntp_synchronized,
        utc_now: Callable[[], str] = utc_now_iso,
    ) -> None:
        kind = getattr(fixture, "kind", None)
        if plan.fixture is not None and kind != plan.fixture:
            raise WrongFixture(f"plan '{plan.name}' needs a '{plan.fixture}' fixture, but "
                               f"fixture '{fixture.fixture_id}' is a '{kind}'")
        resources = getattr(fixture, "resources", None)
        if isinstance(resources, Mapping):
            check_resources(plan, resources)  # PlanError with file and line
        self.plan = plan
        self.fixture = fixture
        self.recorder = recorder
        self.clock = clock
        self.station = station
        self.events = events if events is not None else EventBus()
        self._clock_synced = clock_synced
        self._utc_now = utc_now
        self._abort = AbortFlag()
        self._run_id: str | None = None
        self._stop_reason: str | None = None

    @property
    def run_id(self) -> str | None:
        """The run in progress, if any."""
        return self._run_id

    def abort(self, reason: str = "aborted by operator") -> bool:
        """Ask the run in progress to stop (from any thread). Takes effect at the next check:
        between steps, inside ctx waits, in measure(). Returns False if nothing is running."""
        if self._run_id is None:
            return False
        self._abort.reason = reason or "aborted by operator"
        self.clock.notify()  # wake a step waiting on the real clock
        return True

    def stop(self, reason: str) -> None:
        """The station is stopping (a signal): abort the run in progress, and also a run that
        has not quite started yet, which then records every step SKIPPED and runs its
        teardown. A stop is never lost in the instant between setting up and starting."""
        self._stop_reason = reason
        self.abort(reason)

    # -- a run --------------------------------------------------------------------------------
    def run(self, serial: str, operator: str = "", batch: str = "") -> RunRecord:
        serial = serial.strip()  # scanners append CR/LF
        if not self.plan.serial_pattern.fullmatch(serial):
            raise InvalidSerial(serial, self.plan)
        run_id = new_run_id()
        holder = f"run {run_id} of serial {serial}"
        with FIXTURE_CLAIMS.claim(self.fixture.fixture_id, holder):
            self._abort = AbortFlag()
            self._run_id = run_id
            if self._stop_reason is not None:  # after _run_id: see stop()
                self._abort.reason = self._stop_reason
            try:
                return self._run(run_id, serial, operator, batch)
            finally:
                self._run_id = None

    def _run(self, run_id: str, serial: str, operator: str, batch: str) -> RunRecord:
        plan, clock = self.plan, self.clock
        t0 = clock.now()
        try:
            synced = bool(self._clock_synced())
        except Exception:  # "unknown" is recorded as not synchronised
            synced = False
        try:
            retest = self.recorder.has_runs_for(serial, plan.product)
            meta = RunMeta(
                run_id=run_id, serial=serial, product=plan.product, revision=plan.revision,
                plan_name=plan.name, plan_version=plan.version, plan_hash=plan.sha256,
                station_id=self.station.station_id, fixture_id=self.fixture.fixture_id,
                software_version=self.station.software_version, started_utc=self._utc_now(),
                clock_synced=synced, operator=operator, batch=batch, retest=retest,
            )
            self.recorder.begin_run(meta)
        except Exception as exc:  # nothing has been powered yet: refuse to start
            raise StoreFailedAtStart(f"result store failed, run not started: "
                                     f"{type(exc).__name__}: {exc}") from exc
        self.events.emit(RunStarted, run_id, meta=meta,
                         steps=tuple(s.name for s in plan.all_steps),
                         teardown=tuple(s.name for s in plan.teardown))

        notes: list[str] = []  # run-level explanation, joined into RunRecord.error
        interrupt: BaseException | None = None
        aborted = False
        results: list[StepResult] = []
        recorded: set[int] = set()
        try:
            aborted = self._main_steps(run_id, results, notes, recorded)
        except _StoreFailed as exc:
            notes.append(str(exc))
        except BaseException as exc:  # KeyboardInterrupt or an engine bug: still power off
            interrupt = exc
            _log.error("run %s interrupted", run_id, exc_info=True)
            notes.append(f"run interrupted: {type(exc).__name__}: {exc}")
            self._record_unfinished(run_id, results, recorded, exc)
        teardown = self._teardown(run_id, notes)

        if aborted or isinstance(interrupt, KeyboardInterrupt | SystemExit):
            outcome = Outcome.ABORTED
        else:
            outcome = worst([r.outcome for r in results])
            if outcome.passed:  # teardown can only spoil a pass, never hide a FAIL or ERROR
                outcome = worst([outcome, *(r.outcome for r in teardown)])
            if outcome.passed and notes:  # a result not stored, an engine bug: not a PASS
                outcome = Outcome.ERROR
        record = self._finish(run_id, outcome, _elapsed(clock, t0), "; ".join(notes) or None)
        if isinstance(interrupt, KeyboardInterrupt | SystemExit):
            raise interrupt
        return record

    def _record_unfinished(self, run_id: str, results: list[StepResult], recorded: set[int],
                           exc: BaseException) -> None:
        """After an interruption, give every planned step its row: the one that was running
        ABORTED, the ones that never ran SKIPPED, so the record shows the whole plan."""
        now = self._utc_now()
        for index, step in enumerate(self.plan.steps):
            if index in recorded:
                continue
            if index < len(results):  # finished, but interrupted while being recorded
                result = results[index]
            elif index == len(results):
                attempt = Attempt(1, Outcome.ABORTED, 0.0, (),
                                  f"interrupted: {type(exc).__name__}")
                result = StepResult(index, step.name, Outcome.ABORTED, now, now, 0.0,
                                    (attempt,), step.critical)
            else:
                result = self._skipped(index, step)
            try:
                self._record(run_id, result)
            except _StoreFailed:  # e.g. it had been committed after all: keep going
                _log.warning("step %d of run %s: not recorded after the interruption",
                             index, run_id, exc_info=True)
            recorded.add(index)

    def _main_steps(self, run_id: str, results: list[StepResult], notes: list[str],
                    recorded: set[int]) -> bool:
        """Run the plan's steps; returns whether an abort cut the run short."""
        stop: str | None = None
        aborted = False

        def halt(index: int, reason: str) -> str:
            notes.append(reason)
            self.events.emit(Log, run_id, level=lazylog.WARNING, message=reason,
                             step_index=index)
            return reason

        for index, step in enumerate(self.plan.steps):
            if stop is None and self._abort.reason is not None:
                stop, aborted = halt(index, f"aborted: {self._abort.reason}"), True
            if stop is not None and not step.always:
                result = self._skipped(index, step)
            else:
                abort = NEVER_ABORTED if step.always else self._abort
                result = self._run_step(run_id, index, step, abort)
            results.append(result)
            self._record(run_id, result)
            recorded.add(index)
            if stop is None and result.outcome is Outcome.ABORTED:
                stop, aborted = halt(index, f"aborted: {self._abort.reason}"), True
            elif stop is None and step.critical and result.outcome in _RETRYABLE:
                stop = halt(index, f"critical step '{step.name}' {result.outcome.value}: "
                                   f"{_explain(result)}; remaining steps skipped")
        return aborted

    def _teardown(self, run_id: str, notes: list[str]) -> list[StepResult]:
        """Every teardown step runs, whatever happened before or to the other teardown steps."""
        results = []
        base = len(self.plan.steps)
        for offset, step in enumerate(self.plan.teardown):
            try:
                result = self._run_step(run_id, base + offset, step, NEVER_ABORTED)
                results.append(result)
                if not result.outcome.passed:
                    notes.append(f"teardown step '{step.name}' {result.outcome.value}: "
                                 f"{_explain(result)}")
                self._record(run_id, result)
            except _StoreFailed as exc:
                notes.append(str(exc))
            except Exception as exc:  # an engine bug must not stop the next power-off step
                _log.error("teardown step %r of run %s", step.name, run_id, exc_info=True)
                notes.append(f"teardown step '{step.name}' crashed: {type(exc).__name__}: {exc}")
        return results

    def _finish(self, run_id: str, outcome: Outcome, duration_s: float,
                error: str | None) -> RunRecord:
        try:
            with self.events.writing_verdict():
                record = self.recorder.finish_run(run_id, outcome, self._utc_now(), duration_s,
                                                  error)
        except Exception as exc:
            message = (f"result store failed, the verdict ({outcome.value}) of run {run_id} "
                       f"was NOT saved: {type(exc).__name__}: {exc}")
            _log.error(message)
            _log.debug("finish_run failed", exc_info=True)
            self.events.emit(Log, run_id, level=lazylog.ERROR, message=message)
            raise StationError(message) from exc
        self.events.emit(RunFinished, run_id, record=record)
        return record

    def _record(self, run_id: str, result: StepResult) -> None:
        try:
            self.recorder.record_step(run_id, result)
        except Exception as exc:
            # A described store fault (disk full, locked) is the news; its traceback is for a
            # developer who asks (debug), not for the bench.
            _log.error("record_step failed for run %s: %s", run_id, exc)
            _log.debug("record_step failed", exc_info=True)
            raise _StoreFailed(f"result store failed at step '{result.name}', later steps not "
                               f"run: {type(exc).__name__}: {exc}") from exc
        self.events.emit(StepFinished, run_id, result)  # (fields in order: see EventBus.emit)

    def _skipped(self, index: int, step: Step) -> StepResult:
        now = self._utc_now()
        return StepResult(index, step.name, Outcome.SKIPPED, now, now, 0.0, (), step.critical)

    # -- a step -------------------------------------------------------------------------------
    def _run_step(self, run_id: str, index: int, step: Step, abort: AbortFlag) -> StepResult:
        started_utc = self._utc_now()
        t0 = self.clock.now()
        attempts: list[Attempt] = []
        for number in range(1, step.retries + 2):
            attempt = self._attempt(run_id, index, step, number, abort)
            attempts.append(attempt)
            if attempt.outcome not in _RETRYABLE or abort.reason is not None:
                break
        return StepResult(index, step.name, attempts[-1].outcome, started_utc, self._utc_now(),
                          _elapsed(self.clock, t0), tuple(attempts), step.critical)

    def _attempt(self, run_id: str, index: int, step: Step, number: int,
                 abort: AbortFlag) -> Attempt:
        clock, emit = self.clock, self.events.emit
        # Fields in order (index, name, attempt, timeout_s, critical, teardown): see EventBus.emit.
        emit(StepStarted, run_id, index, step.name, number, step.timeout_s, step.critical,
             step.teardown)
        t0 = clock.now()
        deadline = t0 + step.timeout_s

        def on_measure(m: Measurement) -> None:
            emit(MeasurementTaken, run_id, index, step.name, m)  # step_index, step_name, value

        def on_log(level: int, message: str) -> None:
            emit(Log, run_id, level=level, message=message, step_index=index)

        def make_log() -> StepLogger:
            return StepLogger(_step_log, f"[{run_id[:8]} {step.name}] ", on_log)

        ctx = StepContext(step, number, fixture=self.fixture, parameters=self.plan.parameters,
                          clock=clock, deadline=deadline, abort=abort, on_measure=on_measure,
                          log=make_log)
        error: str | None = None
        try:
            if abort.reason is not None:
                raise RunAborted(abort.reason)
            returned = step.step_type.func(ctx)
            if returned is not None:
                ctx.take_returned(returned)
            if clock.now() > deadline:  # e.g. blocked in C code past the budget
                raise ctx._timeout()
            outcome, error = ctx.verdict()
        except RunAborted as exc:
            outcome, error = Outcome.ABORTED, f"aborted: {exc}"
        except StepTimeout as exc:
            outcome, error = Outcome.ERROR, str(exc)
        except DutFailure as exc:
            outcome, error = Outcome.FAIL, str(exc) or "DUT failure"
        except StationError as exc:
            outcome, error = Outcome.ERROR, str(exc)
            # An expected, described station fault: the message is the news; the traceback is
            # only for a developer who asks for it (debug level), not printed at the bench.
            _log.warning("step %r: %s", step.name, exc)
            _log.debug("step %r: station error", step.name, exc_info=True)
        except OSError as exc:  # hardware: drivers raise OSError subclasses with errno
            outcome, error = Outcome.ERROR, f"{type(exc).__name__}: {exc}"
            _log.warning("step %r: hardware error: %s", step.name, exc)
            _log.debug("step %r: hardware error", step.name, exc_info=True)
        except Exception as exc:  # a bug in the step: the operator gets one line, the log all
            outcome, error = Outcome.ERROR, f"{type(exc).__name__}: {exc}"
            _log.error("step %r raised", step.name, exc_info=True)
        measurements = tuple(ctx.measurements.values())
        if outcome is Outcome.FAIL and error is None:
            error = _describe_failures(measurements)
        return Attempt(number, outcome, _elapsed(clock, t0), measurements, error)


def _elapsed(clock: Clock, t0: float) -> float:
    """Seconds since ``t0`` on ``clock``, to the nanosecond: the resolution of the monotonic clock
    behind it. The digits below are noise from subtracting two large readings
    (1.8650000129127875e-05 for 1.865e-05), and a durable step writes its durations as text (its
    row's JSON, the outbox payload): longer to format and parse, and more bytes (issue 14)."""
    return round(clock.now() - t0, 9)


def _describe_failures(measurements: tuple[Measurement, ...]) -> str:
    return "; ".join(f"{m.name} = {m.value!r} {m.units}".rstrip() +
                     f" outside {m.limits.describe()}"
                     for m in measurements if m.outcome is Outcome.FAIL)


def _explain(result: StepResult) -> str:
    return result.error or result.outcome.value
