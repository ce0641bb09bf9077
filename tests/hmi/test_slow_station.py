"""A station that answers slowly, or not in time: the real station stopped with SIGSTOP (the
kernel still accepts the HMI's requests; nothing answers them until SIGCONT). The screen says
"slow" at once, waits, never sends a scan twice, says clearly when a command got no answer, and
a START retried after no answer never starts a second run.

The HMI's waits are shortened for the test (``slow_after_s``, ``command_timeout``); the station
is stopped for about as long, wall clock. Where a test reads the "slow" note before the "no
answer" one, the note is on screen from ``slow_after_s`` until ``command_timeout``
(NO_ANSWER_AFTER_S): that window is the time the test itself has to see it, so it is seconds,
not a fraction of one (a loaded CI box can leave the test's loop unscheduled that long)."""

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
    wait_text,
)

from hmi.client import StationClient
from hmi.state import Phase

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


NO_ANSWER_AFTER_S = 4.0


def slow_app(url: str, command_timeout: float, **options):
    app = make_app(url, client_options={"command_timeout": command_timeout, **options})
    app.slow_after_s = 0.2
    return app


def counted(app, name: str) -> list:
    """Every call of the client's ``name`` (its keyword arguments), then the call itself."""
    calls: list = []
    original = getattr(app.client, name)

    async def counting(*args, **kwargs):
        calls.append(kwargs)
        return await original(*args, **kwargs)

    setattr(app.client, name, counting)
    return calls


async def test_a_slow_scan_is_said_at_once_waited_for_and_never_sent_twice(station):
    app = slow_app(station.url, command_timeout=30.0)
    scans = counted(app, "submit_scan")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        station.freeze()
        try:
            await type_scan(pilot, "PBF-000050")
            await wait_text(pilot, "BANC LENT : scan en cours")
            assert app.screen.query_one("#start").disabled
            await type_scan(pilot, "PBF-000050")  # the technician scans again, impatient
            await pilot.pause(0.1)
            assert len(scans) == 1  # not sent: told to wait (a notification)
            assert "BANC LENT : scan en cours" in screen_text(app)
        finally:
            station.thaw()
        await wait_for(pilot, lambda: app.state.scan is not None and app.state.scan.ok
                       and "scan" not in app.pending, "the scan's answer")
        assert len(scans) == 1
        await wait_for(pilot, lambda: "BANC LENT" not in screen_text(app), "slow note gone")
        assert app.state.can_start() and app.state.scan.serial == "PBF-000050"


async def test_a_scan_the_station_does_not_answer_in_time_says_to_scan_again(station):
    app = slow_app(station.url, command_timeout=NO_ANSWER_AFTER_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        station.freeze()
        try:
            await type_scan(pilot, "PBF-000060")
            await wait_text(pilot, "BANC LENT : scan en cours")
            await wait_text(pilot, "Le banc n'a pas répondu au scan de PBF-000060")
            assert app.state.scan is None and app.screen.query_one("#start").disabled
        finally:
            station.thaw()
        # The station had the request: it reads it now and publishes the scan; the screen shows
        # that truth, and the "no answer" note is gone with it.
        await wait_for(pilot, lambda: app.state.scan is not None and app.state.scan.ok,
                       "the station's late scan")
        await wait_for(pilot, lambda: "pas répondu" not in screen_text(app), "note gone")


async def test_a_start_without_answer_retried_starts_one_run(station):
    app = slow_app(station.url, command_timeout=NO_ANSWER_AFTER_S)
    starts = counted(app, "start")
    async with app.run_test(size=(80, 24)) as pilot:
        await scan_until_startable(pilot, "PBF-000070")
        station.freeze()
        try:
            await tap(pilot, "#start")
            await wait_text(pilot, "BANC LENT : démarrage en cours")
            await wait_text(pilot, "Le banc n'a pas répondu au démarrage")
            await tap(pilot, "#start")  # "otherwise tap START again"
            await wait_for(pilot, lambda: len(starts) == 2, "the second start sent")
        finally:
            station.thaw()
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "the verdict")
        assert app.state.run.serial == "PBF-000070"
        await wait_for(pilot, lambda: not app.pending, "both starts answered")
        await pilot.pause()
        # However the second start was answered (the same run again, or "run in progress"
        # while the first was starting), the verdict is all the screen says.
        assert app.command_error == "" and "déjà en cours" not in screen_text(app)
    assert starts[0]["request_id"] == starts[1]["request_id"]  # one board, one start
    client = StationClient(station.url)
    try:
        runs = (await client.runs(serial="PBF-000070"))["runs"]
    finally:
        await client.aclose()
    assert len(runs) == 1


async def test_a_slow_abort_is_said_and_the_run_still_ends_aborted(station_factory):
    station = station_factory(pace=1.0)  # aborted: a real-time run (~25 s) costs nothing
    app = slow_app(station.url, command_timeout=30.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan_until_startable(pilot, "PBF-000080")
        await tap(pilot, "#start")
        await wait_for(pilot, lambda: app.state.phase is Phase.RUNNING, "running")
        await tap(pilot, "#abort")
        await wait_text(pilot, "OUI, ARRÊTER")
        station.freeze()
        try:
            await tap(pilot, "#yes")
            await wait_text(pilot, "BANC LENT")
        finally:
            station.thaw()
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "the verdict")
        assert app.state.run.outcome == "ABORTED"


async def test_a_station_frozen_mid_run_is_said_unreachable_not_left_running(station_factory):
    # No event, not even the idle stream's keep-alive, for longer than the stream's silence
    # limit: the station is stopped, and its run may not be shown as going on.
    station = station_factory(pace=0.2)
    app = slow_app(station.url, command_timeout=30.0, stream_silence=2.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan_until_startable(pilot, "PBF-000090")
        await tap(pilot, "#start")
        await wait_for(pilot, lambda: app.state.phase is Phase.RUNNING, "running")
        run_id = app.state.run.run_id
        station.freeze()
        try:
            await wait_text(pilot, "Test de PBF-000090 (PowerBank-Foolish) : état inconnu")
            assert app.state.run is None
        finally:
            station.thaw()
        await wait_for(pilot, lambda: app.state.link == "up" and app.state.run is not None
                       and app.state.run.run_id == run_id, "the same run, from the station")
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "its verdict")


async def test_starting_is_not_left_on_screen_after_a_link_drop(station_factory):
    # START sent to a slow station, then the link drops before any answer: whether the run
    # started is unknown, so "starting…" may not stay; once back, the station's state says.
    station = station_factory(pace=0.2)
    app = slow_app(station.url, command_timeout=30.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan_until_startable(pilot, "PBF-000095")
        station.freeze()
        try:
            await tap(pilot, "#start")
            await wait_text(pilot, "BANC LENT : démarrage en cours")
            url = await drop_link(pilot)
            assert not app.state.starting and "Démarrage" not in screen_text(app)
        finally:
            station.thaw()
        restore_link(pilot, url)
        await wait_for(pilot, lambda: app.state.link == "up" and app.state.run is not None,
                       "the run the start began, from the station")
        assert app.state.run.serial == "PBF-000095"
        await wait_for(pilot, lambda: not app.pending, "the start answered")
        await pilot.pause()
        text = screen_text(app)
        assert "Démarrage" not in text and "BANC LENT" not in text and not app.command_error
