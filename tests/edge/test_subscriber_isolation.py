"""Nothing a subscriber or a screen does reaches the engine (issue 9 §2), in-process on the
simulated station: a raising callback, a closed output stream."""

from __future__ import annotations

import io

from edge.config import StationConfig
from edge.console import GuardedOutput, LiveOutput
from edge.engine import EventBus
from edge.engine.events import Log
from edge.records import Outcome
from edge.station import Station


def test_a_raising_callback_is_logged_and_the_bus_goes_on(caplog):
    bus = EventBus()

    def boom() -> None:
        raise BrokenPipeError(32, "Broken pipe")

    bad = bus.subscribe(on_ready=boom)
    good = bus.subscribe()
    bus.emit(Log, "r", level=20, message="one")
    bus.emit(Log, "r", level=20, message="two")
    assert [e.message for e in good.drain()] == ["one", "two"]
    assert [e.message for e in bad.drain()] == ["one", "two"]
    assert "subscriber callback" in caplog.text


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_run_printed_to_a_closed_pipe_keeps_its_true_verdict(tmp_path, capsys):
    config = StationConfig(data_dir=tmp_path / "station")
    screen = GuardedOutput(ClosedPipe())
    with Station(config) as station:
        station.events.subscribe(on_ready=lambda: 1 / 0)  # and a broken callback too
        live = LiveOutput(station.events, screen, "en")
        record = station.run("PowerBank-Foolish", "PBF-000001")
        live.close()
    assert record.outcome is Outcome.PASS and record.error is None
    assert [s.outcome for s in record.steps] == [Outcome.PASS] * 5
    assert isinstance(screen.failure, BrokenPipeError)
    err = capsys.readouterr().err
    assert err.count("output stopped (BrokenPipeError") == 1  # reported once, on its own
