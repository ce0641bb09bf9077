"""The operator flow against the real station service (subprocess, simulated hardware)."""

from __future__ import annotations

import asyncio

import pytest
from hmi_support import (
    make_app,
    scan_until_startable,
    screen_text,
    tap,
    type_scan,
    wait_for,
    wait_ready,
    wait_text,
)

from hmi.screens.confirm_abort import ConfirmAbort
from hmi.state import Phase

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def test_scan_start_live_steps_verdict_next_scan(station):
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await type_scan(pilot, "PBF-000001")
        await wait_for(pilot, lambda: app.state.scan is not None and app.state.scan.ok,
                       "the scan accepted")
        assert app.state.product == "PowerBank-Foolish"  # told by the serial, no tap
        await tap(pilot, "#start")
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "the verdict")
        await wait_text(pilot, "CONFORME")
        assert "PBF-000001" in screen_text(app)
        assert app.state.run.outcome == "PASS"
        assert [s.state for s in app.state.run.steps][-1] == "PASS"  # teardown ran
        # The next scan is the next board: no tap.
        await type_scan(pilot, "PBF-000002")
        await wait_for(pilot, lambda: app.state.phase is Phase.READY and
                       app.state.scan is not None and app.state.scan.serial == "PBF-000002",
                       "ready with the next serial")
        await wait_ready(pilot)
        assert "CONFORME" not in screen_text(app)


async def test_start_on_scan_starts_the_run_with_the_scan(station_factory):
    station = station_factory(start_on_scan=True)
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_text(pilot, "le test démarre au scan")
        assert not app.screen.query_one("#start").display  # no START to press
        await type_scan(pilot, "HIO-000001")
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "the verdict")
        assert app.state.run.serial == "HIO-000001"
        assert app.state.run.product == "HMI-IO-Board"


async def test_a_scan_answer_arriving_after_its_runs_verdict_keeps_the_verdict(
        station_factory):
    # The station starts the run inside the scan request: the run's events can reach the screen
    # before the scan's answer (a loaded machine, a fast plan), even its verdict. Hold the answer
    # back until the verdict is shown, as such a machine does, and the verdict must stay.
    station = station_factory(start_on_scan=True)
    app = make_app(station.url)
    submit = app.client.submit_scan
    answered: list[dict] = []

    async def answer_after_the_verdict(raw, product, revision=""):
        answer = await submit(raw, product, revision)
        while app.state.phase is not Phase.VERDICT:
            await asyncio.sleep(0.02)  # wait_for below bounds the whole wait
        answered.append(answer)
        return answer

    app.client.submit_scan = answer_after_the_verdict
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_text(pilot, "le test démarre au scan")
        await type_scan(pilot, "HIO-000001")
        await wait_for(pilot, lambda: bool(answered), "the scan's answer, after the verdict")
        assert answered[0]["started"] and answered[0]["run_id"] == app.state.run.run_id
        await pilot.pause()  # the answer's message is handled
        await pilot.pause()
        assert app.state.phase is Phase.VERDICT
        assert app.state.run.serial == "HIO-000001"


async def test_bad_scan_is_refused_with_its_reason_and_nothing_starts(station):
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await tap(pilot, "#product-PowerBank-Foolish")
        await wait_for(pilot, lambda: app.state.product == "PowerBank-Foolish", "the product")
        await type_scan(pilot, "PBF-0001")  # too short
        await wait_text(pilot, "LECTURE REFUSÉE")
        assert app.state.scan is not None and not app.state.scan.ok
        reason = app.state.scan.reason_text("fr")
        assert reason and reason[:30] in screen_text(app)
        assert "Rien n'a été mis sous tension" in screen_text(app)
        assert app.screen.query_one("#start").disabled
        await pilot.click("#start")  # disabled: nothing happens
        await pilot.pause(0.2)
        assert app.state.phase is Phase.READY


async def test_another_products_serial_is_refused_for_the_chosen_product(station):
    app = make_app(station.url, lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await tap(pilot, "#product-HMI-IO-Board")
        await wait_for(pilot, lambda: app.state.product == "HMI-IO-Board", "the product")
        await type_scan(pilot, "PBF-000001")
        await wait_text(pilot, "SCAN REFUSED")
        assert "PowerBank" in app.state.scan.reason_text("en")
        assert app.screen.query_one("#start").disabled


async def test_tap_on_start_then_the_scanners_enter_never_starts_twice(station_factory):
    station = station_factory(pace=0.05)
    app = make_app(station.url)
    starts: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await scan_until_startable(pilot, "PBF-000003")
        original = app.client.start

        async def counting_start(*args, **kwargs):
            starts.append(kwargs.get("request_id"))
            return await original(*args, **kwargs)

        app.client.start = counting_start
        start = app.screen.query_one("#start").region
        where = (start.x + start.width // 2, start.y + start.height // 2)
        await pilot.click(offset=where)
        assert app.focused is None  # the tap took no focus
        await pilot.press("enter")  # the scanner's Enter suffix, doubled
        await pilot.press("enter")
        await pilot.click(offset=where)  # and an impatient second tap, same place
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "the verdict")
        assert len(starts) == 1
    runs = await _runs(station.url, serial="PBF-000003")
    assert len(runs) == 1


async def _runs(url: str, **filters) -> list[dict]:
    from hmi.client import StationClient

    client = StationClient(url)
    try:
        return (await client.runs(**filters))["runs"]
    finally:
        await client.aclose()


async def test_abort_asks_first_then_the_run_ends_aborted(station_factory):
    # Real time: the run lasts ~25 s, for six taps and a dialog twice on a loaded machine
    # (at 0.2 it lasted ~5 s, and a run over before the last tap ends PASS). It is aborted, so
    # the length costs nothing.
    station = station_factory(pace=1.0)
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan_until_startable(pilot, "PBF-000004")
        await tap(pilot, "#start")
        await wait_for(pilot, lambda: app.state.phase is Phase.RUNNING, "the running screen")
        await tap(pilot, "#abort")
        await wait_text(pilot, "OUI, ARRÊTER")
        await tap(pilot, "#no")  # changed their mind: the run goes on
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmAbort), "no dialog")
        assert app.state.phase is Phase.RUNNING
        await tap(pilot, "#abort")
        await wait_text(pilot, "OUI, ARRÊTER")
        await tap(pilot, "#yes")
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "the verdict")
        assert app.state.run.outcome == "ABORTED"
        await wait_text(pilot, "INTERROMPU")
        assert app.state.run.steps[-1].state == "PASS"  # power off ran anyway


async def test_english_and_french(station):
    for lang, words in (("fr", ("banc connecté", "Scannez le numéro de série")),
                        ("en", ("station connected", "Scan the serial number"))):
        app = make_app(station.url, lang=lang)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_ready(pilot)
            for text in words:
                await wait_text(pilot, text)
            await wait_for(pilot, lambda a=app: str(a.screen.query_one("#start").label)
                           .count("█") > 20, "START in block letters")


async def test_today_view_and_a_runs_detail_on_tap(station_factory):
    station = station_factory(sim_faults=["stuck-output:LED3"])
    app = make_app(station.url)
    async with app.run_test(size=(80, 30)) as pilot:
        await wait_ready(pilot)
        for serial in ("PBF-000201", "HIO-000202"):
            await type_scan(pilot, serial)
            await wait_for(pilot, lambda: app.state.can_start(), "startable")
            await tap(pilot, "#start")
            await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "verdict")
        runs_fetched: list[str] = []
        fetch_run = app.client.run

        def counting(run_id: str):
            runs_fetched.append(run_id)
            return fetch_run(run_id)

        app.client.run = counting
        await tap(pilot, "#today")
        await wait_text(pilot, "Cartes testées : 2")
        await wait_text(pilot, "HIO-000202")
        assert "Bon du premier coup" in screen_text(app)
        await wait_text(pilot, "period (cartes du jour)")  # the PowerBank's plots
        await wait_text(pilot, "duty (cartes du jour)")
        assert runs_fetched == []  # the day's measurements came in one request per name
        await tap(pilot, "#run-0")  # the newest: the I/O board that failed
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunDetail", "the detail")
        await wait_text(pilot, "GPA")
        text = screen_text(app)
        assert "HIO-000202" in text and "NON CONFORME" in text and "✘" in text
        await tap(pilot, "#close")
        await wait_text(pilot, "Cartes testées : 2")
        # a scan from the today view goes straight back to work
        await type_scan(pilot, "PBF-000203")
        await wait_for(pilot, lambda: app.state.scan is not None and
                       app.state.scan.serial == "PBF-000203", "the scan")
        await wait_ready(pilot)


async def test_a_scan_from_the_stations_serial_port_scanner_shows_the_same(station_factory):
    """The station owns the serial-port scanner (here a pseudo-terminal standing for it); its
    reads reach the screen as the station's scan events, good or refused."""
    import os
    import pty
    import tty

    master, slave = pty.openpty()
    tty.setraw(slave)
    try:
        station = station_factory(scanner=os.ttyname(slave))
        app = make_app(station.url)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_ready(pilot)
            await wait_text(pilot, "lecteur OK")
            os.write(master, b"PBF-0001\r\n")  # too short: refused, with the reason
            await wait_text(pilot, "LECTURE REFUSÉE")
            os.write(master, b"PBF-000401\r\n")
            await wait_for(pilot, lambda: app.state.scan is not None and app.state.scan.ok
                           and app.state.scan.serial == "PBF-000401", "the scanner's read")
            await wait_text(pilot, "PBF-000401")
            assert app.state.scan.source == "scanner"
    finally:
        os.close(master)
        os.close(slave)


async def test_a_powerbank_runs_detail_draws_its_pulse_train(station):
    from hmi.widgets.plots import PulseTrainPlot, pulse_times, train_points

    app = make_app(station.url)
    async with app.run_test(size=(80, 30)) as pilot:
        await scan_until_startable(pilot, "PBF-000301")
        await tap(pilot, "#start")
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "verdict")
        await tap(pilot, "#today")
        await wait_text(pilot, "PBF-000301")
        await tap(pilot, "#run-0")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunDetail", "the detail")
        await wait_text(pilot, "Train d'impulsions : bas")
        pulse, gap = pulse_times(app.screen.run)
        assert pulse.low is not None and pulse.low <= pulse.value <= pulse.high
        assert gap.low is not None and gap.low <= gap.value <= gap.high
        assert app.screen.query_one(PulseTrainPlot).display
        xs, ys = train_points(pulse.value, gap.value, cycles=1)
        assert xs == [0.0, gap.value, gap.value, gap.value + pulse.value,
                      gap.value + pulse.value] and ys == [1, 1, 0, 0, 1]
