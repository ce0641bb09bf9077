"""The HMI finds a station that fell back to another port (its default, 8750, was taken) by the
address the station advertises in its owner record, read as plain JSON."""

from __future__ import annotations

import json
import socket

import pytest
from hmi_support import make_app, wait_ready

from hmi.settings import DEFAULT_URL, advertised_url, resolve


def hold_default_port() -> socket.socket | None:
    """Take 127.0.0.1:8750 for the test, or None when something else already holds it (the
    station falls back either way)."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 8750))
        sock.listen()
    except OSError:
        sock.close()
        return None
    return sock


@pytest.mark.asyncio
@pytest.mark.slow
async def test_hmi_finds_a_station_on_a_fallback_port(station_factory, monkeypatch):
    monkeypatch.delenv("PIBENCH_API_URL", raising=False)
    held = hold_default_port()
    try:
        station = station_factory(listen=False)  # no [api] listen: 8750, or any free port
        if held is not None:
            assert not station.url.endswith(":8750")
        # The station writes its address into its owner record before it prints it.
        assert advertised_url(station.data_dir / "data") == station.url
        settings = resolve(station_config=str(station.data_dir / "station.toml"))
        assert settings.url == station.url
        app = make_app(settings.url)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_ready(pilot)  # connected: the state came from that station
            assert app.state.station_id == "banc-essai"
    finally:
        if held is not None:
            held.close()


def test_owner_record_is_read_only_for_a_loopback_http_address(tmp_path, monkeypatch):
    monkeypatch.delenv("PIBENCH_API_URL", raising=False)
    monkeypatch.delenv("PIBENCH_CONFIG", raising=False)
    monkeypatch.setenv("PIBENCH_DATA_DIR", str(tmp_path))
    record = tmp_path / "owner.lock"
    assert advertised_url(tmp_path) is None  # no station
    record.write_text("")  # a station still writing it
    assert advertised_url(tmp_path) is None
    assert resolve().url == DEFAULT_URL
    for api in ("http://192.0.2.7:8751", "https://127.0.0.1:8751", "http://127.0.0.1",
                "http://127.0.0.1:notaport", 42):
        record.write_text(json.dumps({"pid": 1, "api": api}))
        assert advertised_url(tmp_path) is None, api
    record.write_text(json.dumps({"pid": 1, "command": "pibench station",
                                  "api": "http://127.0.0.1:8751"}))
    assert resolve().url == "http://127.0.0.1:8751"
    assert resolve().owner_dir == tmp_path  # read again after each failed connection
    explicit = resolve(url="http://127.0.0.1:9000")  # --url first, and then only it
    assert explicit.url == "http://127.0.0.1:9000" and explicit.rediscover() is None


@pytest.mark.asyncio
@pytest.mark.slow
async def test_hmi_started_first_finds_the_station_when_it_advertises(station_factory,
                                                                        tmp_path):
    """The kiosk's HMI may start before the station has written its address: it keeps reading
    the owner record after each failed connection and moves to where the station is."""
    from hmi_support import hold_port, wait_text

    from hmi.client import StationClient
    from hmi.settings import HmiSettings

    owner_dir = tmp_path / "station" / "data"  # the data_dir station_factory configures
    nothing_there = hold_port()  # refused, and no other test's server can appear there
    settings = HmiSettings(url=f"http://127.0.0.1:{nothing_there.getsockname()[1]}",
                           owner_dir=owner_dir)
    from hmi.app import PibenchHMI

    app = PibenchHMI(StationClient(settings.url), lang="fr", rediscover=settings.rediscover)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_text(pilot, "INJOIGNABLE")
            station = station_factory(listen=False)
            await wait_ready(pilot, timeout=30)
            assert app.client.base_url == advertised_url(owner_dir) == station.url
    finally:
        nothing_there.close()
