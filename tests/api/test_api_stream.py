"""The live event stream: ids ``<boot>:<seq>``, exact resume, resync for a client of another
process or an id the station cannot honour, gap + resync for a client too slow to keep up."""

from __future__ import annotations

import logging
import socket
import threading

from api_support import check, collect

from edge.api.client import ApiClient, parse_sse
from edge.engine import Log


def _run_gated(api, serial):
    status, started = api.client.post("/runs", {"product": "Gated-Board", "serial": serial})
    assert status == 202, started
    return started["run_id"]


def test_a_new_client_gets_the_state_first_then_every_event_in_order(api):
    ready = threading.Event()
    events: list = []
    reader = threading.Thread(target=lambda: events.extend(
        collect(api.client, "run_finished", ready=ready)))
    reader.start()
    assert ready.wait(10)
    api.open_gate()
    run_id = _run_gated(api, "GTB-0001")
    reader.join(30)
    first = events[0]
    assert first.name == "resync" and first.data["reason"] == "connected"
    check(first.data, "Resync")
    assert first.id == f"{api.service.boot_id}:{first.data['seq']}"
    names = [e.name for e in events[1:] if e.data.get("run_id") == run_id]
    assert names[0] == "run_started" and names[-1] == "run_finished"
    assert names.count("step_finished") == 4 and "measurement" in names
    seqs = [int(e.id.split(":")[1]) for e in events[1:]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(e.data["seq"] == s for e, s in zip(events[1:], seqs, strict=True))
    finished = events[-1].data["record"]
    check(finished, "RunRecord")
    assert finished["outcome"] == "PASS"


def test_a_client_that_reconnects_gets_exactly_what_it_missed(api):
    api.open_gate()
    everything = []
    ready = threading.Event()
    reader = threading.Thread(target=lambda: everything.extend(
        collect(api.client, "run_finished", ready=ready)))
    reader.start()
    assert ready.wait(10)
    _run_gated(api, "GTB-0002")
    reader.join(30)
    # A client that saw up to the third event of the run, then lost its connection.
    cut = everything[3]
    resumed = collect(api.client, "run_finished", last_event_id=cut.id)
    assert [e.id for e in resumed] == [e.id for e in everything[4:]]
    assert resumed[0].name != "resync"


def test_a_client_of_a_previous_station_process_is_told_to_resynchronise(api):
    api.open_gate()
    _run_gated(api, "GTB-0003")
    api.service.wait_run(30)
    events = collect(api.client, "resync", last_event_id="0badb007:5")
    assert [e.name for e in events] == ["resync"]
    doc = events[0].data
    assert doc["reason"] == "station_restarted" and doc["boot"] == api.service.boot_id
    assert doc["current"]["state"] == "idle" and doc["current"]["run"] is None
    for bad in ("nonsense", f"{api.service.boot_id}:999999"):
        assert collect(api.client, "resync", last_event_id=bad)[0].data["reason"] == \
            "unknown_event_id"


def test_an_id_older_than_the_replay_buffer_gets_a_gap_then_the_state(api):
    bus = api.service.bus
    start = bus.last_seq
    for n in range(5000):  # more than the bus keeps for replay
        bus.emit(Log, "", level=logging.INFO, message=f"filler {n}")
    events = collect(api.client, "resync", last_event_id=f"{api.service.boot_id}:{start}")
    assert [e.name for e in events] == ["gap", "resync"]
    assert events[0].data["first_missed"] == start + 1
    assert events[1].data["reason"] == "gap" and events[1].data["seq"] == bus.last_seq


def test_a_client_that_stops_reading_gets_a_gap_and_never_blocks_the_station(api):
    sock = socket.create_connection((api.client.host, api.client.port))
    sock.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    stream = sock.makefile("rb")
    while stream.readline() not in (b"\r\n", b""):  # response head
        pass
    first = next(parse_sse(stream))
    assert first.name == "resync"
    # The client reads nothing more while the station emits far more than any buffer holds.
    bus = api.service.bus
    emitter = threading.Thread(target=lambda: [
        bus.emit(Log, "", level=logging.INFO, message="x" * 1000) for _ in range(20000)])
    emitter.start()
    emitter.join(60)
    assert not emitter.is_alive()  # the publisher finished without waiting for the client
    last = bus.last_seq
    names = []
    for event in parse_sse(stream):
        names.append(event.name)
        if event.name == "resync":
            assert event.data["reason"] == "gap"
            break
    assert "gap" in names and names[-1] == "resync"
    sock.close()
    assert api.service.current()["seq"] >= last


def test_a_failing_snapshot_never_reaches_the_engine(api, monkeypatch):
    def broken(event):
        raise RuntimeError("snapshot bug")

    monkeypatch.setattr(api.service._tracker, "apply", broken)
    # Emitting on the bus, as the engine does mid-run, must not raise into the emitter.
    event = api.service.bus.emit(Log, "", level=logging.INFO, message="still fine")
    assert event.seq == api.service.bus.last_seq


def test_too_many_streams_is_a_429(api, monkeypatch):
    import edge.api.server as server

    monkeypatch.setattr(api.server._server, "stream_slots", threading.BoundedSemaphore(1))
    held = ApiClient(api.url).events(timeout=10)
    assert next(held).name == "resync"
    status, err = api.client.get("/events")
    assert status == 429 and err["error"] == "too_many_streams"
    held.close()
    assert server.MAX_STREAMS >= 8


def test_reads_of_the_stations_serial_port_scanner_reach_every_client(tmp_path):
    """The station owns the scanner's port; each read is checked and published as a `scan`
    event (a garbled one with its reason), and the scanner's state shows in the health."""
    import os

    from api_support import running_api

    master, slave = os.openpty()
    try:
        with running_api(tmp_path, scanner_url=os.ttyname(slave)) as api:
            # Opening the port flushes what is waiting on it (pyserial does): written before
            # the station's scanner thread has the port open, both reads would be lost.
            connected = threading.Event()
            api.service.add_scanner_status_listener(
                lambda status: status.state == "connected" and connected.set())
            assert connected.wait(30), api.service.refresh_health()["scanner"]
            ready = threading.Event()
            events: list = []

            def follow():
                for event in api.client.events(timeout=30):
                    events.append(event)
                    if event.name == "resync":
                        ready.set()
                    if event.name == "scan" and len([e for e in events
                                                     if e.name == "scan"]) == 2:
                        return

            reader = threading.Thread(target=follow)
            reader.start()
            assert ready.wait(10)
            os.write(master, b"PBF-0\xff0001\r")  # a scanner at the wrong baud rate
            os.write(master, b"HIO-000004\r")
            reader.join(30)
            scans = [e.data for e in events if e.name == "scan"]
            assert [s["source"] for s in scans] == ["scanner", "scanner"]
            assert scans[0]["valid"] is False and "baud" in scans[0]["messages"]["en"]
            assert scans[1]["valid"] is True and scans[1]["product"] == "HMI-IO-Board"
            api.service.refresh_health()
            assert api.client.get("/health")[1]["scanner"]["state"] == "connected"
    finally:
        os.close(master)
        os.close(slave)


def test_a_scanner_listener_added_after_the_scanner_reported_is_told_its_state(tmp_path):
    """The console adds its listener once the service runs, by when the scanner has often
    reported already: a scanner absent at start-up must still be said, not only its next
    change (once it was told nothing until the station stopped)."""
    import time

    from api_support import running_api

    missing = tmp_path / "no-such-scanner"
    with running_api(tmp_path, scanner_url=str(missing)) as api:
        deadline = time.monotonic() + 30
        while api.service.refresh_health()["scanner"]["state"] != "absent":
            assert time.monotonic() < deadline, "the scanner never reported its port absent"
            time.sleep(0.02)
        told: list = []
        api.service.add_scanner_status_listener(told.append)
        assert [status.state for status in told] == ["absent"]
        assert told[0].message("en") == f"no scanner on {missing} — is it plugged in?"
