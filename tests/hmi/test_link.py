"""The station goes away and comes back: the screen says so at once, never leaves a run or a
verdict on screen as if current, and resumes from the station's state."""

from __future__ import annotations

import pytest
from hmi_support import (
    drop_link,
    make_app,
    restore_link,
    scan_until_startable,
    screen_text,
    tap,
    type_scan,
    wait_for,
    wait_ready,
    wait_stored,
    wait_text,
)

from hmi.client import StationClient
from hmi.state import Phase

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def test_station_killed_mid_run_and_restarted(station_factory):
    station = station_factory(pace=0.2)
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan_until_startable(pilot, "PBF-000010")
        await tap(pilot, "#start")
        await wait_for(pilot, lambda: app.state.phase is Phase.RUNNING, "running")
        run_id = app.state.run.run_id
        boot = app.state.boot
        station.kill()  # SIGKILL: the power-cut case, the run cannot finish
        await wait_text(pilot, "BANC INJOIGNABLE")
        assert app.state.run is None  # nothing of the live run is left as current
        # The board is named, its state said unknown; none of its progress is left on screen.
        await wait_text(pilot, "Test de PBF-000010 (PowerBank-Foolish) : état inconnu")
        text = screen_text(app)
        assert "DÉMARRER" not in text and "ARRÊTER" not in text and "power on" not in text
        station.start()  # the station finds the run interrupted: recorded ABORTED
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "the run's verdict")
        assert app.state.boot != boot
        assert app.state.run.run_id == run_id
        assert app.state.run.outcome == "ABORTED"
        assert not app.state.run.seen_finish
        await wait_text(pilot, "pendant la coupure de liaison")
        # and the next scan is the next board
        await type_scan(pilot, "PBF-000011")
        await wait_for(pilot, lambda: app.state.phase is Phase.READY and app.state.scan
                       is not None and app.state.scan.ok, "ready for the next board")


async def test_station_not_there_at_start_then_comes(station_factory, tmp_path):
    from hmi_support import StationProcess

    station = StationProcess(tmp_path / "late")
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_text(pilot, "BANC INJOIGNABLE")
        station.start()
        try:
            await wait_ready(pilot)
            assert "banc connecté" in screen_text(app)
        finally:
            station.close()


async def _verdict_of(pilot, serial: str) -> str:
    """Scan, START, wait for the verdict; the run's id."""
    app = pilot.app
    await type_scan(pilot, serial)
    await wait_for(pilot, lambda: app.state.can_start() and app.state.scan.serial == serial,
                   "startable")
    await tap(pilot, "#start")
    await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT
                   and app.state.run.serial == serial, "the verdict")
    await wait_text(pilot, "CONFORME")
    return app.state.run.run_id


async def test_a_verdict_stays_through_a_link_drop_marked_and_after_it_if_nothing_happened(
        station):
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        run_id = await _verdict_of(pilot, "PBF-000020")
        url = await drop_link(pilot)
        # The board's verdict is a stored fact: it stays, said to be from a station that does
        # not answer now, and the next scan is not asked for.
        assert app.state.phase is Phase.VERDICT and app.state.run.run_id == run_id
        await wait_text(pilot, "BANC INJOIGNABLE : résultat enregistré, état actuel du banc")
        text = screen_text(app)
        assert "CONFORME" in text and "PBF-000020" in text
        assert "attendez son retour pour scanner" in text
        assert "Scannez la carte suivante" not in text
        await type_scan(pilot, "PBF-000021")  # not sent: the station is not there
        assert app.state.scan is None and app.state.run.run_id == run_id
        restore_link(pilot, url)
        await wait_text(pilot, "banc connecté")
        # No run since: the station's current state is still that verdict.
        assert app.state.phase is Phase.VERDICT and app.state.run.run_id == run_id
        await wait_text(pilot, "Scannez la carte suivante")
        assert "résultat enregistré" not in screen_text(app)


async def test_a_verdict_gives_way_to_the_current_state_after_a_run_made_meanwhile(station):
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await _verdict_of(pilot, "PBF-000030")
        url = await drop_link(pilot)
        await wait_text(pilot, "PBF-000030")
        other = StationClient(station.url)  # another client tests a board meanwhile
        try:
            started = await other.start("PowerBank-Foolish", "PBF-000031")
        finally:
            await other.aclose()
        await wait_stored(pilot, station.url, started["run_id"])
        restore_link(pilot, url)
        await wait_ready(pilot)  # the station is idle: ready, no verdict of an old board
        text = screen_text(app)
        assert "PBF-000030" not in text and "CONFORME" not in text


async def test_a_verdict_gives_way_after_the_station_restarted(station):
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await _verdict_of(pilot, "PBF-000032")
        station.kill()
        await wait_text(pilot, "BANC INJOIGNABLE : résultat enregistré")
        assert "PBF-000032" in screen_text(app)
        station.start()  # another process: it holds no current verdict
        await wait_ready(pilot)
        assert "PBF-000032" not in screen_text(app)


async def test_a_scan_waiting_for_start_is_forgotten_when_the_link_drops(station):
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan_until_startable(pilot, "PBF-000040")
        url = await drop_link(pilot)
        restore_link(pilot, url)
        await wait_ready(pilot)
        # Read before the drop: the station may have restarted, the board been swapped.
        assert app.state.scan is None and not app.state.can_start()
        assert "PBF-000040" not in screen_text(app)
        assert app.screen.query_one("#start").disabled


async def test_a_run_that_finishes_while_the_link_is_down_shows_its_stored_verdict(
        station_factory):
    station = station_factory(pace=0.2)
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan_until_startable(pilot, "PBF-000041")
        await tap(pilot, "#start")
        await wait_for(pilot, lambda: app.state.phase is Phase.RUNNING, "running")
        run_id = app.state.run.run_id
        # Frozen while the link drops: the run (~5 s) cannot end before, however slow this
        # machine is to notice the drop; it goes on once the screen has said it lost it.
        station.freeze()
        try:
            url = await drop_link(pilot)
            await wait_text(pilot, "Test de PBF-000041 (PowerBank-Foolish) : état inconnu")
        finally:
            station.thaw()
        await wait_stored(pilot, url, run_id)  # the station goes on without the screen
        restore_link(pilot, url)
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "the stored verdict")
        assert app.state.run.run_id == run_id and app.state.run.outcome == "PASS"
        await wait_text(pilot, "terminé pendant la coupure de liaison")
        assert "état inconnu" not in screen_text(app)
