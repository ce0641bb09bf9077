"""Both products end to end on the simulated station, through the real Runner: PASS on a good
board, the right FAIL or ERROR (with a message that names the problem) for each simulated fault,
the DUT powered off whatever happened, and the same plan unchanged on the real builder.

No sleeps and no wall-clock asserts: the simulated 555's 5-second periods pass on the SimClock,
so a PowerBank run covers ~30 s of simulated time in milliseconds."""

from __future__ import annotations

import pytest
from products_support import (
    FIXTURES,
    PLANS,
    MemoryRecorder,
    outcomes,
    sim_bench,
    step,
    values,
)

from drivers.clock import SimClock
from drivers.gpio.pi import SimPiFactory
from edge.engine import EventBus, Runner, StationInfo, StepStarted
from edge.fixtures import build_real
from edge.fixtures.sim import SimStation
from edge.fixtures.sim_faults import parse_faults
from edge.products.catalog import load_product
from edge.products.ne555 import astable_design
from edge.records import Outcome
from edge.store import load_run

PRODUCTS = ("PowerBank-Foolish", "HMI-IO-Board")


@pytest.fixture
def benches():
    made = []

    def make(*args, **kwargs):
        bench = sim_bench(*args, **kwargs)
        made.append(bench)
        return bench

    yield make
    for bench in made:
        bench.close()


def test_powerbank_passes_with_its_pulse_timing_measured(benches):
    bench = benches("PowerBank-Foolish")
    t0 = bench.fixture.clock.now()
    record = bench.run()
    assert record.outcome is Outcome.PASS, record.error
    assert outcomes(record) == {"fixture check": "PASS", "power on": "PASS",
                                "first pulse": "PASS", "pulse timing": "PASS",
                                "power off": "PASS"}
    timing = values(step(record, "pulse timing"))
    assert timing["pulse_width"] == pytest.approx(0.693 * 7_500 * 47e-6, rel=0.01)
    assert timing["period"] == pytest.approx(0.693 * 165_000 * 47e-6, rel=0.01)
    assert values(step(record, "first pulse"))["first_pulse"] == pytest.approx(
        0.693 * 157_500 * 47e-6 * 1.585, rel=0.01)
    assert bench.fixture.clock.now() - t0 > 25  # simulated seconds, not wall time
    assert not bench.fixture.sim.dut_powered


def test_hmi_board_passes_every_check(benches):
    bench = benches("HMI-IO-Board")
    record = bench.run()
    assert record.outcome is Outcome.PASS, record.error
    assert values(step(record, "output walk")) == {"walking_one": "pass",
                                                   "walking_zero": "pass", "failed_pins": 0}
    assert values(step(record, "input walk")) == {"buttons": "pass", "failed_pins": 0}
    assert values(step(record, "interrupt")) == {"asserted": True, "flagged": True,
                                                 "cleared": True}
    assert values(step(record, "relay")) == {"closed_when_on": True, "open_when_off": True}
    assert not bench.fixture.sim.dut_powered


@pytest.mark.parametrize("product", PRODUCTS)
def test_the_adafruit_backend_runs_the_same_plans(benches, product):
    assert benches(product, backend="adafruit").run().outcome is Outcome.PASS


@pytest.mark.parametrize("product", PRODUCTS)
def test_a_second_run_on_the_same_fixture_passes_and_is_a_retest(benches, product):
    bench = benches(product)
    first, second = bench.run(), bench.run()
    assert (first.outcome, second.outcome) == (Outcome.PASS, Outcome.PASS)
    assert (first.meta.retest, second.meta.retest) == (False, True)
    assert [on for _, on in bench.fixture.sim.power_log] == [True, False, True, False]


@pytest.mark.parametrize("product", PRODUCTS)
def test_pass_through_the_real_result_store(benches, product, recorder, store):
    bench = benches(product, recorder=recorder)
    record = bench.run()
    stored = load_run(store, record.meta.run_id)
    assert stored.outcome is Outcome.PASS
    assert [s.name for s in stored.steps] == [s.name for s in record.steps]
    assert stored.meta.fixture_id == bench.fixture.fixture_id
    assert ({m.name: m.value for s in stored.steps for m in s.measurements}
            == {m.name: m.value for s in record.steps for m in s.measurements})


FAULTS = [
    # product, fault, run outcome, the step that shows it, its outcome, words in its error
    ("PowerBank-Foolish", "wrong-resistor", Outcome.FAIL, "pulse timing", Outcome.FAIL,
     "pulse_width = 0.39"),
    ("PowerBank-Foolish", "no-pulses", Outcome.FAIL, "first pulse", Outcome.FAIL,
     "no keep-alive pulse on GPIO17 within 12.7 s of power-on"),
    ("PowerBank-Foolish", "absent-dut", Outcome.FAIL, "first pulse", Outcome.FAIL,
     "no keep-alive pulse on GPIO17"),
    ("PowerBank-Foolish", "absent-expander", Outcome.ERROR, "fixture check", Outcome.ERROR,
     "fixture expander not found at 0x21 on sim:powerbank-v1 — is the fixture cable plugged in?"),
    ("PowerBank-Foolish", "wrong-fixture", Outcome.ERROR, "fixture check", Outcome.ERROR,
     "wrong fixture: identity straps read 0b1010, expected 0b0101 (powerbank-v1)"),
    ("PowerBank-Foolish", "i2c-nack", Outcome.PASS, "pulse timing", Outcome.PASS, None),
    ("HMI-IO-Board", "stuck-output", Outcome.FAIL, "output walk", Outcome.FAIL,
     "walking one: LED3 (GPA2) stuck low; walking zero: LED3 (GPA2) stuck low"),
    ("HMI-IO-Board", "absent-dut", Outcome.FAIL, "expander present", Outcome.FAIL,
     "DUT expander not found at 0x20 on sim:hmi-io-v1 (answering: 0x21 (fixture), "
     "0x22 (stimulus)) — is the board seated and powered?"),
    ("HMI-IO-Board", "absent-expander", Outcome.ERROR, "fixture check", Outcome.ERROR,
     "fixture expander not found at 0x21 on sim:hmi-io-v1 — is the fixture cable plugged in? "
     "(answering instead: 0x22)"),
    ("HMI-IO-Board", "wrong-fixture", Outcome.ERROR, "fixture check", Outcome.ERROR,
     "wrong fixture: identity straps read 0b0101, expected 0b1010 (hmi-io-v1)"),
    ("HMI-IO-Board", "i2c-nack", Outcome.PASS, "output walk", Outcome.PASS, None),
]


@pytest.mark.parametrize(("product", "fault", "outcome", "where", "step_outcome", "words"),
                         FAULTS, ids=[f"{p}-{f}" for p, f, *_ in FAULTS])
def test_each_simulated_fault_gives_its_outcome_and_says_why(
        benches, product, fault, outcome, where, step_outcome, words):
    bench = benches(product, [fault])
    assert bench.fixture.sim.applied == [fault]
    record = bench.run()
    assert record.outcome is outcome
    result = step(record, where)
    assert result.outcome is step_outcome
    if words:
        assert words in result.error
    if outcome is Outcome.ERROR:  # the station's fault: the DUT was never powered
        assert bench.fixture.sim.power_log == []
        assert all(s.outcome is Outcome.SKIPPED for s in record.steps[1:-1])
        assert step(record, "power off").outcome is Outcome.PASS
    if fault == "i2c-nack":
        assert bench.fixture.sim.nacks > 0 and bench.fixture.bus.retried == bench.fixture.sim.nacks
    assert not bench.fixture.sim.dut_powered


def test_wrong_resistor_keeps_the_measurements_as_evidence(benches):
    record = benches("PowerBank-Foolish", ["wrong-resistor"]).run()
    timing = {m.name: m for m in step(record, "pulse timing").measurements}
    assert timing["pulse_width"].outcome is Outcome.FAIL
    assert timing["pulse_width"].value == pytest.approx(0.693 * 12_000 * 47e-6, rel=0.01)
    assert timing["period"].outcome.passed  # R2 is small next to R1: the period barely moves


def test_a_stuck_button_and_a_dead_relay_driver_are_named(benches):
    bench = benches("HMI-IO-Board")
    chips = bench.fixture.sim.chips
    chips["dut"].stick(10, False)  # GPB2 = SW3 shorted to GND
    chips["dut"].stick(6, False)  # GPA6 = the relay coil driver dead
    record = bench.run()
    assert record.outcome is Outcome.FAIL
    assert step(record, "input walk").error == "SW3 (GPB2) stuck low (always reads pressed)"
    assert step(record, "relay").error.startswith(
        "the relay contact did not close with dut:GPA6 on")
    assert step(record, "interrupt").outcome is Outcome.PASS  # SW1 still interrupts


def test_dut_power_off_is_guaranteed_after_an_abort(benches):
    bench = benches("PowerBank-Foolish")
    sub = bench.events.subscribe()

    def abort_on_pulse_timing() -> None:
        for event in sub.drain():
            if isinstance(event, StepStarted) and event.name == "first pulse":
                bench.runner.abort("operator pressed Abort")

    sub.on_ready = abort_on_pulse_timing
    record = bench.run()
    assert record.outcome is Outcome.ABORTED
    assert step(record, "first pulse").outcome is Outcome.ABORTED
    assert step(record, "power off").outcome is Outcome.PASS
    assert [on for _, on in bench.fixture.sim.power_log] == [True, False]
    assert not bench.fixture.sim.dut_powered


def test_a_good_board_passes_on_the_same_fixture_right_after_an_aborted_run(benches):
    # Aborted while waiting for the first pulse (the 555's output high), the teardown cuts the
    # power and the output falls low at that very instant; the next run powers on at the same
    # simulated instant. That fall is the last board's, not a pulse of this one: it was measured
    # as first_pulse = 0 s and every good board failed until the station restarted.
    bench = benches("PowerBank-Foolish")
    sub = bench.events.subscribe()

    def abort_in_first_pulse() -> None:
        for event in sub.drain():
            if isinstance(event, StepStarted) and event.name == "first pulse":
                bench.runner.abort("operator pressed Abort")

    sub.on_ready = abort_in_first_pulse
    assert bench.run().outcome is Outcome.ABORTED
    sub.on_ready = None
    record = bench.run()
    assert record.outcome is Outcome.PASS, record.error
    first = step(record, "first pulse").attempts[-1].measurements[0]
    assert first.value > 6.0  # the 555's first high phase, about 8.1 s


def test_dut_power_off_is_guaranteed_when_a_step_raises(benches, monkeypatch):
    bench = benches("HMI-IO-Board")

    def explode(*_args, **_kwargs):
        raise RuntimeError("bug in a step")

    monkeypatch.setattr(bench.fixture.resource("outputs"), "read", explode)
    record = bench.run()
    assert record.outcome is Outcome.ERROR
    assert step(record, "output walk").error == "RuntimeError: bug in a step"
    assert bench.fixture.sim.power_log[-1][1] is False and not bench.fixture.sim.dut_powered


@pytest.mark.parametrize("product", PRODUCTS)
def test_the_same_plan_runs_unchanged_on_the_real_builder(product):
    """The real builder (open_bus on an SMBus-like object, a gpiozero mock pin factory) over a
    simulated world: the plan object is the one load_product gives the simulated station."""
    plan, spec = load_product(product, plans_dirs=PLANS, fixtures_dirs=FIXTURES)
    clock = SimClock()
    factory = SimPiFactory(clock)
    world = SimStation(spec, clock=clock, pi_factory=factory, faults=parse_faults(()))
    # The real fixture hands no design to a simulated 555, so the test does it.
    world.set_ne555_design(astable_design(plan.parameters) if spec.pulse_inputs else None)
    fixture = build_real(spec, i2c_bus=world.smbus, pin_factory=factory, clock=clock)
    events = EventBus()
    try:
        runner = Runner(plan, fixture, MemoryRecorder(), clock=clock,
                        station=StationInfo("bench-1", "0.1.0"), events=events,
                        clock_synced=lambda: True)
        record = runner.run("PBF-000001" if product.startswith("Power") else "HIO-000001")
        assert record.outcome is Outcome.PASS, record.error
        assert record.meta.plan_hash == plan.sha256
        assert not world.dut_powered
    finally:
        fixture.close()
        world.close()
        factory.close()


@pytest.mark.parametrize(("fault", "where", "pins"), [
    ("stuck-output:LED3", "output walk", {"GPA2"}),
    ("stuck-output:LED1", "output walk", {"GPA0"}),
])
def test_the_walks_record_which_pins_failed_as_data(benches, fault, where, pins):
    """The words say "LED3 (GPA2) stuck low"; ``failed_pins`` says the same as a mask of DUT
    pins, so a screen draws the pin map without reading the words."""
    from drivers.mcp23017.config import PIN_NAMES

    record = benches("HMI-IO-Board", [fault]).run()
    assert record.outcome is Outcome.FAIL
    failed = next(m for m in step(record, where).measurements if m.name == "failed_pins")
    assert failed.outcome is Outcome.FAIL and failed.limits.expected == 0
    assert {PIN_NAMES[n] for n in range(16) if failed.value >> n & 1} == pins
    assert values(step(record, "input walk"))["failed_pins"] == 0
