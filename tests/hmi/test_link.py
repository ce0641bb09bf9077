"""The station goes away and comes back: the screen says so at once, never leaves a run or a
verdict on screen as if current, and resumes from the station's state."""

from __future__ import annotations

import pytest
from hmi_support import make_app, screen_text, tap, type_scan, wait_for, wait_ready, wait_text

from hmi.state import Phase

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def test_station_killed_mid_run_and_restarted(station_factory):
    station = station_factory(pace=0.2)
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await type_scan(pilot, "PBF-000010")
        await wait_for(pilot, lambda: app.state.can_start(), "startable")
        await tap(pilot, "#start")
        await wait_for(pilot, lambda: app.state.phase is Phase.RUNNING, "running")
        run_id = app.state.run.run_id
        boot = app.state.boot
        station.kill()  # SIGKILL: the power-cut case, the run cannot finish
        await wait_text(pilot, "BANC INJOIGNABLE")
        assert app.state.run is None  # nothing of the live run is left as current
        text = screen_text(app)
        assert "PBF-000010" not in text and "DÉMARRER" not in text
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
            station.kill()
