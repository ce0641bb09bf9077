"""The run engine against an in-memory recorder and a fake fixture whose "DUT power" relay must
always end up off. Simulated time throughout (SimClock); the two cross-thread tests use the real
clock but only wait on events, never sleep."""

from __future__ import annotations

import errno
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest

from drivers.clock import MonotonicClock, SimClock
from drivers.i2c.errors import I2CNackError
from edge.engine import (
    DutFailure,
    EventBus,
    FixtureBusy,
    InvalidSerial,
    Log,
    MeasurementTaken,
    RunFinished,
    Runner,
    RunStarted,
    StationError,
    StationInfo,
    StepFinished,
    StepStarted,
)
from edge.engine.memory import MemoryRecorder as BaseMemoryRecorder
from edge.plans import Param, PlanError, Registry, parse_plan, resource
from edge.records import Outcome, RunRecord, StepResult

# -- fakes ----------------------------------------------------------------------------------------


class MemoryRecorder(BaseMemoryRecorder):
    """In memory, plus what these tests need: the bus's last seq at each durable point (to prove
    "stored, then announced") and injected store failures."""

    def __init__(self, bus: EventBus) -> None:
        super().__init__()
        self.bus = bus
        self.stored_at_seq: list[int] = []  # bus.last_seq when each step became durable
        self.finished_at_seq: int | None = None
        self.fail_record_step_at: int | None = None  # step index whose record_step raises
        self.fail_finish = False
        self.verdict_held: bool | None = None  # whether finish_run ran inside writing_verdict

    def record_step(self, run_id: str, step: StepResult) -> None:
        if step.index == self.fail_record_step_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().record_step(run_id, step)
        self.stored_at_seq.append(self.bus.last_seq)

    def finish_run(self, run_id, outcome, ended_utc, duration_s, error=None) -> RunRecord:
        self.verdict_held = self.bus.verdict_since is not None
        if self.fail_finish:
            raise OSError(errno.EIO, "disk gone")
        self.finished_at_seq = self.bus.last_seq
        return super().finish_run(run_id, outcome, ended_utc, duration_s, error)


class Relay:
    def __init__(self) -> None:
        self.on = False
        self.history: list[bool] = []

    def set(self, on: bool) -> None:
        self.on = on
        self.history.append(on)


@dataclass
class FakeFixture:
    fixture_id: str = "fx-1"
    kind: str = "bench-v1"
    dut_power: Relay = field(default_factory=Relay)
    pulses: int = 0
    attempts: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    runner: Runner | None = None
    broken_relay: bool = False

    @property
    def resources(self) -> dict[str, str]:
        return {"dut_power": "relay"}

    def resource(self, name: str) -> Relay:
        return {"dut_power": self.dut_power}[name]


# -- step types -----------------------------------------------------------------------------------

REG = Registry()


@REG.step_type("relay", params={"relay": resource("relay"), "on": Param(bool)})
def relay(ctx):
    if ctx.fixture.broken_relay and not ctx.params["on"]:
        raise I2CNackError(errno.EREMOTEIO, "no ACK from 0x20", bus="i2c-1", address=0x20)
    ctx.resource("relay").set(ctx.params["on"])


@REG.step_type("values", params={"values": Param(dict)})
def values(ctx):
    return dict(ctx.params["values"])  # the return path: name -> value


@REG.step_type("measure", params={"value": Param(float)})
def measure(ctx):
    ctx.log.info("measuring %s", ctx.params["value"])
    for name in ctx.step.measurements:
        ctx.measure(name, ctx.params["value"])


@REG.step_type("flaky", params={"fail_times": Param(int)}, measurements=("v",))
def flaky(ctx):
    ctx.fixture.attempts += 1
    ctx.measure("v", 0.0 if ctx.fixture.attempts <= ctx.params["fail_times"] else 1.0)


@REG.step_type("dut_failure")
def dut_failure(ctx):
    raise DutFailure("DUT draws no current")


@REG.step_type("i2c_nack")
def i2c_nack(ctx):
    raise I2CNackError(errno.EREMOTEIO, "no ACK from 0x21", bus="i2c-1", address=0x21)


@REG.step_type("station_fault")
def station_fault(ctx):
    raise StationError("load bank not responding")


@REG.step_type("bug")
def bug(ctx):
    return 1 / 0


@REG.step_type("hang")
def hang(ctx):
    ctx.sleep(1000)  # far beyond the step's budget


@REG.step_type("blocked_in_c", params={"seconds": Param(float)}, measurements=("v",))
def blocked_in_c(ctx):
    ctx.clock.advance(ctx.params["seconds"])  # as if stuck in a C call the engine can't interrupt
    ctx.measure("v", 1.0)


@REG.step_type("pulses", params={"within_s": Param(float)}, measurements=("period",))
def pulses(ctx):
    if not ctx.wait_until(lambda: ctx.fixture.pulses > 0, ctx.params["within_s"]):
        ctx.log.warning("no pulses within %g s", ctx.params["within_s"])
        ctx.measure("period", None)  # no pulses: a DUT verdict (FAIL), not a timeout
        return
    ctx.measure("period", 0.1)


@REG.step_type("forgets_to_measure", measurements=("v",))
def forgets_to_measure(ctx):
    pass


@REG.step_type("operator_aborts")
def operator_aborts(ctx):
    ctx.fixture.runner.abort("operator pressed Abort")
    ctx.sleep(1)


@REG.step_type("wait_release")
def wait_release(ctx):
    ctx.wait_until(ctx.fixture.release.is_set)


@REG.step_type("ctrl_c")
def ctrl_c(ctx):
    raise KeyboardInterrupt


# -- plans ----------------------------------------------------------------------------------------

HEAD = """\
[plan]
name = "Bench test"
version = "7"
product = "PB1"
revision = "C"
serial_pattern = "PB1-[0-9]{4}"
fixture = "bench-v1"
step_timeout = 2
"""

POWER_ON = """
[[step]]
name = "power on"
type = "relay"
critical = true
params = { relay = "dut_power", on = true }
"""

TEARDOWN = """
[[teardown]]
name = "power off"
type = "relay"
params = { relay = "dut_power", on = false }
"""


def step(name: str, type_: str, params: str = "", *, extra: str = "",
         limits: str = "") -> str:
    text = f'\n[[step]]\nname = "{name}"\ntype = "{type_}"\n{extra}'
    if params:
        text += f"params = {{ {params} }}\n"
    if limits:
        text += f"[[step.measurement]]\n{limits}\n"
    return text


V_STEP = step("rail", "measure", "value = 5.0",
              limits='name = "v"\nunits = "V"\nlow = 4.5\nhigh = 5.5\nmarginal = 0.1')


def value_step(name: str, value: float, extra: str = "") -> str:
    return step(name, "measure", f"value = {value}", extra=extra,
                limits='name = "v"\nunits = "V"\nlow = 4.5\nhigh = 5.5\nmarginal = 0.1')


def build_plan(*steps: str, teardown: str = TEARDOWN):
    return parse_plan(HEAD + POWER_ON + "".join(steps) + teardown, "bench.toml", registry=REG)


@dataclass
class Bench:
    runner: Runner
    fixture: FakeFixture
    recorder: MemoryRecorder
    bus: EventBus
    clock: SimClock | MonotonicClock

    def run(self, serial: str = "PB1-0001", **kwargs) -> RunRecord:
        return self.runner.run(serial, **kwargs)

    def events(self, sub) -> list:
        return sub.drain()


def make_bench(*steps: str, teardown: str = TEARDOWN, clock=None, fixture=None,
               clock_synced=lambda: True) -> Bench:
    bus = EventBus()
    fixture = fixture or FakeFixture(fixture_id=f"fx-{uuid.uuid4().hex[:6]}")
    clock = clock or SimClock()
    recorder = MemoryRecorder(bus)
    runner = Runner(build_plan(*steps, teardown=teardown), fixture, recorder, clock=clock,
                    station=StationInfo("bench-1", "0.1.0"), events=bus,
                    clock_synced=clock_synced)
    fixture.runner = runner
    return Bench(runner, fixture, recorder, bus, clock)


def outcomes(record: RunRecord) -> list[tuple[str, Outcome]]:
    return [(s.name, s.outcome) for s in record.steps]


# -- outcomes -------------------------------------------------------------------------------------


def test_pass():
    bench = make_bench(V_STEP)
    record = bench.run(operator="ann", batch="B7")
    assert record.outcome is Outcome.PASS
    assert outcomes(record) == [("power on", Outcome.PASS), ("rail", Outcome.PASS),
                                ("power off", Outcome.PASS)]
    assert [s.index for s in record.steps] == [0, 1, 2]
    assert record.steps[1].measurements[0].value == 5.0
    assert bench.fixture.dut_power.history == [True, False]
    assert record.error is None


def test_pass_marginal():
    record = make_bench(value_step("rail", 4.55)).run()
    assert record.outcome is Outcome.MARGINAL
    assert record.steps[1].measurements[0].marginal


def test_fail_continues_past_a_non_critical_step_and_explains():
    bench = make_bench(value_step("rail", 6.0), value_step("rail 2", 5.0))
    record = bench.run()
    assert record.outcome is Outcome.FAIL
    assert outcomes(record)[1:] == [("rail", Outcome.FAIL), ("rail 2", Outcome.PASS),
                                    ("power off", Outcome.PASS)]
    assert record.steps[1].error == "v = 6.0 V outside 4.5 ≤ x ≤ 5.5 V"
    assert not bench.fixture.dut_power.on


def test_dut_failure_exception_is_fail():
    record = make_bench(step("current", "dut_failure")).run()
    assert record.outcome is Outcome.FAIL
    assert record.steps[1].error == "DUT draws no current"


def test_hardware_oserror_is_error_with_its_message():
    record = make_bench(step("expander", "i2c_nack")).run()
    assert record.outcome is Outcome.ERROR
    assert record.steps[1].error.startswith("I2CNackError: no ACK from 0x21 [errno 121")


def test_station_error_is_error():
    record = make_bench(step("load", "station_fault")).run()
    assert (record.outcome, record.steps[1].error) == (Outcome.ERROR, "load bank not responding")


def test_unexpected_exception_is_error_with_type_and_message_and_a_logged_traceback(caplog):
    with caplog.at_level(logging.ERROR, logger="edge.engine"):
        record = make_bench(step("maths", "bug")).run()
    assert record.outcome is Outcome.ERROR
    assert record.steps[1].error == "ZeroDivisionError: division by zero"
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


def test_return_values_are_measured():
    record = make_bench(step("vals", "values", "values = { a = 1.0 }",
                             limits='name = "a"\nlow = 0\nhigh = 2')).run()
    assert record.outcome is Outcome.PASS
    assert record.steps[1].measurements[0].value == 1.0


def test_declared_but_never_measured_is_error():
    record = make_bench(step("lazy", "forgets_to_measure", limits='name = "v"\nhigh = 1')).run()
    assert record.outcome is Outcome.ERROR
    assert record.steps[1].error == "step 'lazy' finished without measuring 'v'"


# -- time: all on the SimClock, all instant -------------------------------------------------------


def test_step_over_its_time_budget_is_error_and_takes_exactly_the_budget():
    bench = make_bench(step("stuck", "hang", extra="timeout = 2.5\n"))
    start = bench.clock.now()
    record = bench.run()
    assert record.outcome is Outcome.ERROR
    assert record.steps[1].error == "step 'stuck' exceeded its 2.5 s time budget"
    assert record.steps[1].duration_s == pytest.approx(2.5)
    assert bench.clock.now() - start == pytest.approx(2.5)
    assert not bench.fixture.dut_power.on


def test_dut_without_pulses_is_fail_not_timeout():
    record = make_bench(step("555", "pulses", "within_s = 0.5",
                             limits='name = "period"\nlow = 0.09\nhigh = 0.11')).run()
    assert record.outcome is Outcome.FAIL
    assert record.steps[1].measurements[0].value is None


def test_pulses_arriving_in_simulated_time_pass():
    bench = make_bench(step("555", "pulses", "within_s = 0.5",
                            limits='name = "period"\nlow = 0.09\nhigh = 0.11'))
    bench.clock.schedule_in(0.3, lambda: setattr(bench.fixture, "pulses", 1))
    assert bench.run().outcome is Outcome.PASS


def test_overrun_while_blocked_in_c_is_detected_when_control_returns():
    record = make_bench(step("slow", "blocked_in_c", "seconds = 3.0",
                             limits='name = "v"\nlow = 0\nhigh = 2')).run()
    assert record.outcome is Outcome.ERROR
    assert "exceeded its 2 s time budget" in record.steps[1].error
    assert record.steps[1].measurements[0].value == 1.0  # kept for diagnosis


# -- retries and critical steps -------------------------------------------------------------------


def test_retries_record_every_attempt_and_the_last_decides():
    flaky_step = step("flaky", "flaky", "fail_times = 2", extra="retries = 3\n",
                      limits='name = "v"\nlow = 0.5\nhigh = 1.5')
    record = make_bench(flaky_step).run()
    attempts = record.steps[1].attempts
    assert [(a.number, a.outcome) for a in attempts] == [
        (1, Outcome.FAIL), (2, Outcome.FAIL), (3, Outcome.PASS)]
    assert record.steps[1].outcome is Outcome.PASS and record.outcome is Outcome.PASS


def test_retries_exhausted_keeps_the_failure():
    flaky_step = step("flaky", "flaky", "fail_times = 5", extra="retries = 1\n",
                      limits='name = "v"\nlow = 0.5\nhigh = 1.5')
    record = make_bench(flaky_step).run()
    assert [a.outcome for a in record.steps[1].attempts] == [Outcome.FAIL, Outcome.FAIL]
    assert record.outcome is Outcome.FAIL


def test_a_pass_is_not_retried():
    record = make_bench(value_step("rail", 5.0, extra="retries = 3\n")).run()
    assert len(record.steps[1].attempts) == 1


def test_critical_failure_skips_the_rest_but_always_steps_and_teardown_run():
    bench = make_bench(step("expander", "i2c_nack", extra="critical = true\n"),
                       value_step("rail", 5.0),
                       value_step("discharge check", 5.0, extra="always = true\n"),
                       value_step("rail 2", 5.0))
    record = bench.run()
    assert outcomes(record) == [
        ("power on", Outcome.PASS), ("expander", Outcome.ERROR), ("rail", Outcome.SKIPPED),
        ("discharge check", Outcome.PASS), ("rail 2", Outcome.SKIPPED),
        ("power off", Outcome.PASS)]
    assert record.outcome is Outcome.ERROR
    assert record.error.startswith("critical step 'expander' ERROR: I2CNackError")
    assert record.steps[2].attempts == () and record.steps[2].critical is False
    assert not bench.fixture.dut_power.on


# -- teardown: the DUT always ends up powered off -------------------------------------------------

ENDINGS = {
    "pass": (value_step("rail", 5.0), Outcome.PASS),
    "fail": (value_step("rail", 9.0), Outcome.FAIL),
    "error": (step("expander", "i2c_nack"), Outcome.ERROR),
    "exception": (step("maths", "bug"), Outcome.ERROR),
    "timeout": (step("stuck", "hang"), Outcome.ERROR),
    "abort": (step("abort", "operator_aborts"), Outcome.ABORTED),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_teardown_powers_the_dut_off_whatever_happened(ending):
    steps, expected = ENDINGS[ending]
    bench = make_bench(steps, value_step("after", 5.0))
    record = bench.run()
    assert record.outcome is expected
    assert record.steps[-1].name == "power off" and record.steps[-1].outcome is Outcome.PASS
    assert bench.fixture.dut_power.history == [True, False]


def test_teardown_runs_on_keyboard_interrupt_and_the_run_is_recorded_aborted():
    bench = make_bench(step("ctrl-c", "ctrl_c"), value_step("after", 5.0))
    with pytest.raises(KeyboardInterrupt):
        bench.run()
    (record,) = bench.recorder.records.values()
    assert record.outcome is Outcome.ABORTED
    assert not bench.fixture.dut_power.on
    # Every planned step has its row: the interrupted one ABORTED, the rest SKIPPED.
    assert [(s.index, s.name, s.outcome) for s in record.steps] == [
        (0, "power on", Outcome.PASS), (1, "ctrl-c", Outcome.ABORTED),
        (2, "after", Outcome.SKIPPED), (3, "power off", Outcome.PASS)]
    assert "KeyboardInterrupt" in record.steps[1].error


def test_stop_before_the_run_starts_is_not_lost():
    bench = make_bench(value_step("after", 5.0))
    bench.runner.stop("SIGTERM received")  # arrives while the run is being set up
    record = bench.run()
    assert record.outcome is Outcome.ABORTED and "SIGTERM" in record.error
    assert [s.outcome for s in record.steps] == [Outcome.SKIPPED, Outcome.SKIPPED, Outcome.PASS]
    assert bench.fixture.dut_power.history == [False]  # never powered; teardown still ran


def test_teardown_failure_never_hides_a_fail():
    bench = make_bench(value_step("rail", 9.0))
    bench.fixture.broken_relay = True
    record = bench.run()
    assert record.outcome is Outcome.FAIL
    assert record.steps[-1].outcome is Outcome.ERROR
    assert "teardown step 'power off' ERROR: I2CNackError" in record.error


def test_teardown_failure_turns_a_pass_into_error():
    bench = make_bench(value_step("rail", 5.0))
    bench.fixture.broken_relay = True
    record = bench.run()
    assert record.outcome is Outcome.ERROR  # a PASS needs the DUT safely powered off too
    assert "teardown step 'power off' ERROR" in record.error


# -- abort ----------------------------------------------------------------------------------------


def test_abort_inside_a_step_skips_the_rest():
    bench = make_bench(step("abort", "operator_aborts"), value_step("rail", 5.0))
    record = bench.run()
    assert outcomes(record) == [("power on", Outcome.PASS), ("abort", Outcome.ABORTED),
                                ("rail", Outcome.SKIPPED), ("power off", Outcome.PASS)]
    assert record.outcome is Outcome.ABORTED
    assert record.error == "aborted: operator pressed Abort"


def test_abort_from_another_thread_wakes_a_waiting_step():
    bench = make_bench(step("wait", "wait_release", extra="timeout = 600\n"),
                       clock=MonotonicClock())
    sub = bench.bus.subscribe()
    worker = RunInThread(bench)
    wait_for_step(sub, "wait")
    assert bench.runner.abort("operator pressed Abort")
    record = worker.result()
    assert record.outcome is Outcome.ABORTED
    assert record.steps[1].outcome is Outcome.ABORTED
    assert not bench.fixture.dut_power.on


def test_abort_with_nothing_running_is_a_no_op():
    bench = make_bench(V_STEP)
    assert bench.runner.abort() is False
    assert bench.run().outcome is Outcome.PASS  # an earlier abort does not leak into a run


# -- one run per fixture; serial check ------------------------------------------------------------


class RunInThread:
    def __init__(self, bench: Bench, serial: str = "PB1-0001") -> None:
        self._out: list = []
        self._thread = threading.Thread(target=lambda: self._out.append(bench.run(serial)))
        self._thread.start()

    def result(self) -> RunRecord:
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()
        return self._out[0]


def wait_for_step(sub, name: str) -> None:
    while True:
        event = sub.get(timeout=30)
        assert event is not None, f"step {name!r} never started"
        if isinstance(event, StepStarted) and event.name == name:
            return


def test_a_second_concurrent_run_on_the_same_fixture_is_refused():
    bench = make_bench(step("wait", "wait_release", extra="timeout = 600\n"),
                       clock=MonotonicClock())
    other = Runner(build_plan(V_STEP), bench.fixture, MemoryRecorder(bench.bus),
                   clock=bench.clock, station=StationInfo("bench-1", "0.1.0"))
    sub = bench.bus.subscribe()
    worker = RunInThread(bench, "PB1-0001")
    wait_for_step(sub, "wait")
    with pytest.raises(FixtureBusy, match=r"fixture 'fx-\w+' is busy: run .* of serial PB1-0001"):
        other.run("PB1-0002")
    with pytest.raises(FixtureBusy):
        bench.runner.run("PB1-0003")
    bench.fixture.release.set()
    bench.clock.notify()
    assert worker.result().outcome is Outcome.PASS
    assert other.run("PB1-0002").outcome is Outcome.PASS  # free again


def test_invalid_serial_is_rejected_before_anything_happens():
    bench = make_bench(V_STEP)
    sub = bench.bus.subscribe()
    with pytest.raises(InvalidSerial, match=r"'PB2-0001' is not a valid PB1 serial"):
        bench.run("PB2-0001")
    assert bench.recorder.metas == {}
    assert bench.fixture.dut_power.history == []
    assert sub.drain() == []


def test_scanner_line_ending_is_ignored():
    assert make_bench(V_STEP).run("PB1-0001\r\n").meta.serial == "PB1-0001"


# -- the record's meta ----------------------------------------------------------------------------


def test_meta_retest_clock_sync_and_identity():
    bench = make_bench(V_STEP, clock_synced=lambda: False)
    first = bench.run(operator="ann", batch="B7")
    second = bench.run()
    meta = first.meta
    assert uuid.UUID(meta.run_id).version == 4 and meta.run_id != second.meta.run_id
    assert (meta.serial, meta.product, meta.revision) == ("PB1-0001", "PB1", "C")
    assert (meta.plan_name, meta.plan_version) == ("Bench test", "7")
    assert meta.plan_hash == bench.runner.plan.sha256
    assert (meta.station_id, meta.fixture_id) == ("bench-1", bench.fixture.fixture_id)
    assert (meta.operator, meta.batch, meta.software_version) == ("ann", "B7", "0.1.0")
    assert meta.clock_synced is False
    assert (first.meta.retest, second.meta.retest) == (False, True)


def test_durations_come_from_the_monotonic_clock():
    bench = make_bench(step("555", "pulses", "within_s = 0.5",
                            limits='name = "period"\nlow = 0.09\nhigh = 0.11'))
    record = bench.run()
    assert record.duration_s == pytest.approx(0.5)  # exactly the simulated wait
    assert record.steps[1].attempts[0].duration_s == pytest.approx(0.5)


# -- store failures -------------------------------------------------------------------------------


def test_record_step_failure_stops_the_run_but_still_powers_off():
    bench = make_bench(value_step("rail", 5.0), value_step("rail 2", 5.0))
    bench.recorder.fail_record_step_at = 1
    record = bench.run()
    assert record.outcome is Outcome.ERROR
    assert "result store failed at step 'rail'" in record.error
    assert [s.name for s in record.steps] == ["power on", "power off"]  # what was stored
    assert bench.fixture.dut_power.history == [True, False]


def test_finish_failure_is_a_station_error_and_no_verdict_is_announced():
    bench = make_bench(V_STEP)
    bench.recorder.fail_finish = True
    sub = bench.bus.subscribe()
    with pytest.raises(StationError, match=r"verdict \(PASS\) of run .* was NOT saved"):
        bench.run()
    assert not any(isinstance(e, RunFinished) for e in sub.drain())
    assert not bench.fixture.dut_power.on
    # The verdict was written with gathered progress held back, and a failure lets it go.
    assert bench.recorder.verdict_held and bench.bus.verdict_since is None


def test_the_verdict_is_written_with_gathered_progress_held_back_then_released():
    bench = make_bench(V_STEP)
    bench.run()
    assert bench.recorder.verdict_held and bench.bus.verdict_since is None


def test_fixture_must_match_the_plan():
    plan = build_plan(V_STEP)
    recorder, station = MemoryRecorder(EventBus()), StationInfo("b", "0")
    with pytest.raises(StationError, match="needs a 'bench-v1' fixture, but fixture 'fx-1' is"):
        Runner(plan, FakeFixture(kind="other"), recorder, clock=SimClock(), station=station)

    class NoPowerFixture(FakeFixture):
        @property
        def resources(self) -> dict[str, str]:
            return {"load": "relay"}

    with pytest.raises(PlanError, match=r"bench.toml:\d+: step\[1\].params.relay: .*'dut_power'"):
        Runner(plan, NoPowerFixture(), recorder, clock=SimClock(), station=station)


# -- events ---------------------------------------------------------------------------------------


def test_event_order_and_durability_before_announcement():
    bench = make_bench(V_STEP)
    sub = bench.bus.subscribe()
    record = bench.run()
    events = sub.drain()
    assert [e.seq for e in events] == sorted({e.seq for e in events})  # strictly increasing
    assert all(e.run_id == record.meta.run_id for e in events)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["RunStarted",
                     "StepStarted", "StepFinished",  # power on
                     "StepStarted", "Log", "MeasurementTaken", "StepFinished",  # rail
                     "StepStarted", "StepFinished",  # power off
                     "RunFinished"]
    started = events[0]
    assert isinstance(started, RunStarted)
    assert started.steps == ("power on", "rail", "power off") and started.teardown == ("power off",)
    measured = next(e for e in events if isinstance(e, MeasurementTaken))
    assert (measured.step_name, measured.measurement.value) == ("rail", 5.0)
    logged = next(e for e in events if isinstance(e, Log))
    assert (logged.message, logged.step_index) == ("measuring 5.0", 1)

    # Each step was durable before it was announced and before the next step started...
    finished = [e for e in events if isinstance(e, StepFinished)]
    step_started = [e for e in events if isinstance(e, StepStarted)]
    for stored_at, done, nxt in zip(bench.recorder.stored_at_seq, finished, step_started[1:],
                                    strict=False):
        assert stored_at < done.seq < nxt.seq
    # ...and the verdict was durable before RunFinished.
    assert bench.recorder.finished_at_seq < events[-1].seq
    assert events[-1].record is record


def test_retry_attempts_each_announce_a_step_start():
    bench = make_bench(step("flaky", "flaky", "fail_times = 1", extra="retries = 1\n",
                            limits='name = "v"\nlow = 0.5\nhigh = 1.5'))
    sub = bench.bus.subscribe()
    bench.run()
    starts = [(e.name, e.attempt) for e in sub.drain() if isinstance(e, StepStarted)]
    assert starts == [("power on", 1), ("flaky", 1), ("flaky", 2), ("power off", 1)]


# -- per-step overhead (reported, never asserted: no timing asserts in tests) ---------------------


def test_per_step_overhead_is_measured(capsys):
    n = 500
    steps = "".join(value_step(f"s{i}", 5.0) for i in range(n))
    bench = make_bench(steps)
    bench.bus.subscribe(maxlen=100_000)  # one live subscriber, as with the HMI attached
    bench.run()  # warm up
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        record = bench.run()
        best = min(best, time.perf_counter() - t0)
    assert record.outcome is Outcome.PASS and len(record.steps) == n + 2
    with capsys.disabled():
        print(f"\n[engine overhead] {best / (n + 2) * 1e6:.1f} µs/step "
              f"(1 measurement, 1 log line, 4 events, in-memory record_step, {n + 2} steps)")


def test_utc_now_iso_is_datetimes_own_spelling_to_the_millisecond(monkeypatch):
    """The records' timestamps: what ``datetime.isoformat(timespec="milliseconds")`` gives for
    the same instant, across a second's edges and with its cache of the formatted second."""
    from datetime import UTC, datetime

    from edge.engine import runner

    for now in (1_700_000_000.0, 1_700_000_000.0005, 1_700_000_000.25, 1_700_000_000.9999,
                1_700_000_001.001, 1_700_000_001.5, 1_699_999_999.75):
        monkeypatch.setattr(runner.time, "time", lambda now=now: now)
        expected = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        assert runner.utc_now_iso() == expected, now
