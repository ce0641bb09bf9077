"""An ERROR verdict says in the operator's language what went wrong at the station and what to
do (hmi/causes.py), the station's English sentence kept below as detail.

The causes are read from the sentences the real engine writes: runs of the real Runner (with
steps that raise what a station raises) turned into the API's ``pibench.run/1`` document, and
the real station with simulated fixture faults, on screen."""

from __future__ import annotations

import errno

import pytest
from hmi_support import (
    make_app,
    scan_until_startable,
    screen_text,
    tap,
    wait_for,
    wait_text,
)

from drivers.clock import SimClock
from drivers.gpio.pi import PiGPIOUnavailableError
from drivers.i2c.errors import I2CNackError
from edge.engine import EventBus, Runner, StationError, StationInfo
from edge.engine.memory import MemoryRecorder
from edge.plans import Registry, parse_plan
from edge.store.payload import record_to_json
from hmi.causes import CAUSES, cause_code
from hmi.state import Phase, RunView

REG = Registry()


@REG.step_type("ok")
def ok(ctx):
    pass


@REG.step_type("i2c_nack")
def i2c_nack(ctx):
    raise I2CNackError(errno.EREMOTEIO, "no ACK from 0x21", bus="i2c-1", address=0x21)


@REG.step_type("no_gpio")
def no_gpio(ctx):
    raise PiGPIOUnavailableError("GPIO unavailable: cannot open the Pi GPIO header through "
                                 "lgpio: no gpiochip")


@REG.step_type("bug")
def bug(ctx):
    return {}["missing"]


@REG.step_type("hang")
def hang(ctx):
    ctx.sleep(1000)


@REG.step_type("forgets", measurements=("v",))
def forgets(ctx):
    pass


@REG.step_type("station_fault")
def station_fault(ctx):
    raise StationError("load bank not responding")


class FullDisk(MemoryRecorder):
    def record_step(self, run_id, step):
        if step.index == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().record_step(run_id, step)


PLAN = """\
[plan]
name = "Bench"
version = "1"
product = "PB1"
revision = "A"
serial_pattern = "PB1-[0-9]{{4}}"
fixture = "bench-v1"
step_timeout = 2

[[step]]
name = "first"
type = "ok"

[[step]]
name = "second"
type = "{kind}"
critical = true
{extra}
"""


class Fixture:
    fixture_id = "fx-1"
    kind = "bench-v1"
    resources = None  # nothing to check plan resources against

    def resource(self, name):
        raise KeyError(name)


def engine_run(kind: str, recorder=None) -> RunView:
    """A run of the real engine whose second step is ``kind``, as the HMI receives it."""
    extra = '[[step.measurement]]\nname = "v"\nlow = 1\nhigh = 2\n' if kind == "forgets" else ""
    plan = parse_plan(PLAN.format(kind=kind, extra=extra), "bench.toml", registry=REG)
    runner = Runner(plan, Fixture(), recorder or MemoryRecorder(), clock=SimClock(),
                    station=StationInfo("bench-1", "0.1.0"), events=EventBus(),
                    clock_synced=lambda: True)
    return RunView.from_record(record_to_json(runner.run("PB1-0001")))


@pytest.mark.parametrize(("kind", "code"), [
    ("i2c_nack", "hardware"),
    ("no_gpio", "gpio_unavailable"),
    ("bug", "step_crashed"),
    ("hang", "step_timeout"),
    ("forgets", "plan_mismatch"),
    ("station_fault", "station_error"),
])
def test_the_engines_error_sentences_map_to_their_cause(kind, code):
    run = engine_run(kind)
    assert run.outcome == "ERROR"
    cause = run.cause()
    assert cause.code == code, cause.detail
    assert cause.detail  # the station's sentence, kept as detail


def test_a_result_store_failure_is_its_own_cause():
    run = engine_run("ok", FullDisk())
    assert run.outcome == "ERROR" and run.cause().code == "store_failed"


def test_fixture_sentences_and_unknown_ones():
    # The fixture's own sentences (edge/fixtures/runtime.py), as a step's error.
    assert cause_code("fixture expander not found at 0x21 on i2c-1 — is the fixture cable "
                      "plugged in?") == "fixture_absent"
    assert cause_code("I2C bus fault looking for the fixture expander at 0x20 on i2c-1: "
                      "I2CTimeoutError") == "fixture_absent"
    assert cause_code("wrong fixture: identity straps read 0b0101, expected 0b1010 "
                      "(hmi-io)") == "wrong_fixture"
    assert cause_code("result store failed at step 'x', later steps not run: "
                      "OperationalError: database is locked") == "store_failed"
    assert cause_code("something the station never said before") == "station_error"
    assert engine_run("ok").cause() is None  # a PASS has no cause
    for code, texts in CAUSES.items():
        for lang in ("fr", "en"):
            what, todo = texts[lang]
            assert what and todo, code
        assert texts["fr"] != texts["en"]


@pytest.mark.asyncio
@pytest.mark.slow
@pytest.mark.parametrize(("fault", "lang", "what", "todo", "detail"), [
    ("absent-expander", "fr", "Le gabarit ne répond pas",
     "Fermez le gabarit et vérifiez son câble", "fixture expander not found"),
    ("wrong-fixture", "en", "This is not this product's fixture",
     "Fit this product's fixture", "wrong fixture"),
])
async def test_an_error_verdict_says_what_happened_and_what_to_do(station_factory, fault, lang,
                                                                   what, todo, detail):
    station = station_factory(sim_faults=[fault])
    app = make_app(station.url, lang=lang)
    async with app.run_test(size=(100, 30)) as pilot:
        await scan_until_startable(pilot, "HIO-000090")
        await tap(pilot, "#start")
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "the verdict")
        assert app.state.run.outcome == "ERROR"
        await wait_text(pilot, what)
        text = " ".join(screen_text(app).replace("│", " ").split())  # wrapped lines joined
        assert todo in text
        assert detail in text  # the station's English sentence, below
        assert ("ne la mettez pas de côté comme mauvaise" if lang == "fr"
                else "do not set it aside as bad") in text


@pytest.mark.asyncio
async def test_a_stored_error_runs_detail_says_its_cause():
    import json
    from pathlib import Path

    from hmi.screens.run_detail import RunDetail

    doc = json.loads((Path(__file__).parent / "data" / "io-error.json").read_text())
    record = doc["events"][-1]["data"]["record"]
    app = make_app("http://127.0.0.1:9", connect=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(RunDetail(record, "fr"))
        await wait_text(pilot, "Le gabarit ne répond pas (fermé ? câble débranché ?) — Fermez")


def test_why_an_aborted_run_stopped():
    from hmi.causes import aborted_cause

    assert aborted_cause("aborted: aborted by operator", []).code == "operator_abort"
    # The station's own sentences: a stop signal, a run found interrupted after a power cut
    # (edge.store.recovery), a database that refused a write.
    assert aborted_cause("aborted: SIGTERM received: the station was told to stop",
                         []).code == "station_stopped"
    assert aborted_cause("interrupted: station stopped during the run (crash or power loss)",
                         []).code == "station_stopped"
    assert aborted_cause("interrupted: the result database refused a write: disk I/O error",
                         []).code == "store_failed"
    cause = aborted_cause("aborted: aborted by operator", [])
    assert cause.what("fr") == "Arrêté à la demande de l'opérateur" and cause.todo("fr") == ""
