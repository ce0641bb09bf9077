"""The HMI's model without a terminal: the station's recorded streams applied to the state, the
status line's words, the texts in both languages, the client's paths against the committed
OpenAPI schema, and the link's reconnection rules (with a scripted client)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from hmi import i18n
from hmi.client import PATHS, StationRefused, StationUnreachable, StreamEvent
from hmi.link import KINDS, follow_station
from hmi.messages import LinkDown, LinkUp, StationEvent
from hmi.state import Phase, RunView, StationState
from hmi.widgets.status_bar import segments

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def recorded(name: str) -> dict:
    return json.loads((HERE / "data" / f"{name}.json").read_text())


def replayed(name: str) -> StationState:
    doc = recorded(name)
    state = StationState()
    state.load_snapshot(doc["snapshot"])
    for ev in doc["events"]:
        kind = KINDS.get(ev["kind"])
        if kind:
            state.apply(kind, ev["data"], int(ev["id"].split(":")[1]))
    return state


@pytest.mark.parametrize(("name", "outcome", "failing"), [
    ("powerbank-pass", "PASS", []),
    ("powerbank-fail", "FAIL", ["pulse timing", "pulse timing"]),  # width and duty
    ("io-fail", "FAIL", ["output walk"] * 3),  # walking one, walking zero, failed_pins
    ("io-error", "ERROR", ["fixture check"]),
])
def test_recorded_runs_end_in_their_verdict(name, outcome, failing):
    state = replayed(name)
    assert state.phase is Phase.VERDICT
    assert state.run.outcome == outcome
    assert [step.name for step, _ in state.run.failing()] == failing
    assert state.run.steps[-1].name == "power off" and state.run.steps[-1].teardown


def test_every_step_shows_its_state_while_running():
    doc = recorded("io-fail")
    state = StationState()
    state.load_snapshot(doc["snapshot"])
    states = []
    for ev in doc["events"]:
        kind = KINDS.get(ev["kind"])
        if kind:
            state.apply(kind, ev["data"])
            if kind == "step_started":
                states.append([s.state for s in state.run.steps])
    assert states[0][0] == "RUNNING" and set(states[0][1:]) == {"PENDING"}
    assert states[-1][-1] == "RUNNING"


def test_a_lost_link_forgets_the_live_run_and_a_new_snapshot_decides():
    doc = recorded("powerbank-pass")
    state = StationState()
    state.load_snapshot(doc["snapshot"])
    state.apply("run_started", doc["events"][0]["data"] if doc["events"][0]["kind"] ==
                "run_started" else next(e["data"] for e in doc["events"]
                                        if e["kind"] == "run_started"))
    assert state.phase is Phase.RUNNING
    state.link_lost(now=1000.0)
    assert state.phase is Phase.LINK and state.run is None and state.down_since == 1000.0
    snap = dict(doc["snapshot"], boot="another-boot")
    state.load_snapshot(snap)
    assert state.phase is Phase.READY and state.resynced


def test_events_of_a_run_never_seen_starting_are_not_shown_as_live():
    state = replayed("powerbank-pass")
    state.next_board()
    assert state.phase is Phase.READY
    assert state.apply("step_started", {"run_id": "someone-else", "index": 0}) == "none"
    assert state.phase is Phase.READY


def test_a_tapped_product_pins_the_scan_else_the_station_decides():
    state = replayed("powerbank-pass")
    assert state.product == "PowerBank-Foolish" and state.scan_product() is None
    state.choose_product("HMI-IO-Board")
    assert state.scan_product() == "HMI-IO-Board"


def test_status_line_words():
    state = StationState()
    assert segments(state, "fr")[0] == ("connexion au banc…", True)
    state.load_snapshot({"boot": "b", "seq": 1, "station": {"station_id": "banc-3"},
                         "health": {"fixtures": [{"present": False, "identified": None,
                                                  "message": "no expander"}],
                                    "scanner": {"state": "disconnected"},
                                    "clock_synced": False, "disk": {"low": True}},
                         "sync": {"enabled": True, "backend": "generic", "state": "down",
                                  "queue_depth": 4, "parked": 0,
                                  "last_success_utc": "2026-12-05T08:12:00+00:00"}})
    words = dict(segments(state, "en"))
    for text in ("NO FIXTURE", "SCANNER UNPLUGGED", "INVENTORY UNREACHABLE since 08:12",
                 "CLOCK NOT SYNCHRONISED", "DISK LOW"):
        assert words[text] is True, text
    assert words["banc-3"] is False
    state.sync = type(state.sync).from_wire({"enabled": True, "backend": "inventree",
                                             "state": "auth", "queue_depth": 2})
    assert ("INVENTORY: LOGIN EXPIRED", True) in segments(state, "en")
    state.sync = type(state.sync).from_wire({"enabled": True, "backend": "inventree",
                                             "state": "up", "queue_depth": 0, "parked": 0})
    assert ("inventaire à jour", False) in segments(state, "fr")


def test_every_operator_text_exists_in_french_and_english():
    for key in i18n.text_keys():
        fr, en = i18n.t(key, "fr"), i18n.t(key, "en")
        assert fr and en, key
    for outcome in ("PASS", "PASS-MARGINAL", "FAIL", "ERROR", "ABORTED"):
        assert i18n.t(outcome, "fr") != i18n.t(outcome, "en")
        assert i18n.t(f"todo_{outcome}", "fr") and i18n.t(f"todo_{outcome}", "en")


def test_the_clients_paths_are_in_the_committed_schema():
    schema = json.loads((ROOT / "edge" / "api" / "openapi.json").read_text())
    for name, path in PATHS.items():
        assert path.removeprefix("/api/v1") in schema["paths"], name


class ScriptedClient:
    """Answers the link's calls from a script: what the real station does is tested end to end
    in test_link.py; this pins the order of the calls and the ids sent."""

    def __init__(self, script: list) -> None:
        self.script = script
        self.calls: list[tuple] = []

    async def snapshot(self) -> dict:
        self.calls.append(("snapshot",))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    async def events(self, last_event_id):
        self.calls.append(("events", last_event_id))
        for item in self.script.pop(0):
            if isinstance(item, Exception):
                raise item
            yield item


def test_the_link_resumes_after_the_snapshot_and_resyncs_on_a_new_boot():
    snap1 = {"boot": "b1", "seq": 7}
    snap2 = {"boot": "b2", "seq": 0}
    client = ScriptedClient([
        snap1,
        [StreamEvent("step_started", "b1:8", {"index": 0}),
         StreamEvent("run_started", "b2:1", {})],  # another boot: start again
        StationUnreachable("ConnectError"),  # the station is restarting
        snap2,
        [StreamEvent("gap", "", {})],  # too slow: start again
        snap2,
        [StationRefused(401, "wrong token")],
    ])
    posted: list = []
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if not client.script:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(follow_station(client, posted.append, sleep=sleep))
    assert client.calls == [("snapshot",), ("events", "b1:7"), ("snapshot",), ("snapshot",),
                            ("events", "b2:0"), ("snapshot",), ("events", "b2:0")]
    kinds = [type(m).__name__ for m in posted]
    assert kinds == ["LinkUp", "StationEvent", "LinkDown", "LinkUp", "LinkUp", "LinkDown"]
    assert isinstance(posted[1], StationEvent) and posted[1].seq == 8
    assert isinstance(posted[0], LinkUp) and isinstance(posted[2], LinkDown)
    assert sleeps[0] == 0.1  # retried at once, then backing off


def test_a_snapshot_run_takes_its_elapsed_time_from_the_station(monkeypatch):
    """The station's own count (its monotonic clock), not this machine's wall clock against
    the run's start time: a wrong or stepped clock cannot make the elapsed time wild."""
    import hmi.state

    monkeypatch.setattr(hmi.state.time, "monotonic", lambda: 1000.0)
    live = {"run_id": "r1", "meta": {"run_id": "r1", "serial": "S", "product": "P",
                                     "started_utc": "2001-01-01T00:00:00+00:00"},
            "current_step": None, "steps": [], "logs": [], "elapsed_s": 42.5}
    run = RunView.from_record(live)
    assert run.elapsed(now=1000.0) == 42.5
    del live["elapsed_s"]  # an older station: the start time's age, as before
    assert RunView.from_record(live).elapsed(now=1000.0) != 42.5


def test_the_answer_of_the_scan_that_started_a_run_never_hides_its_verdict():
    # start-on-scan: the station starts the run inside the scan request, so the run's events
    # (a fast plan: up to its verdict) can reach the screen before the scan's own answer.
    state = replayed("powerbank-pass")
    run_id = state.run.run_id
    assert state.phase is Phase.VERDICT
    answer = {"valid": True, "product": "PowerBank-Foolish", "serial": state.run.serial,
              "reason": None, "messages": None, "run_id": run_id, "started": True}
    assert state.apply("scan", answer) == "none"
    assert state.apply("scan", {**answer, "messages": None, "started": None}) == "none"  # event
    assert state.phase is Phase.VERDICT and state.run.run_id == run_id
    # A scan that started nothing, after a verdict, is the next board.
    assert state.apply("scan", {**answer, "run_id": None, "started": False}) == "scan"
    assert state.phase is Phase.READY


@pytest.mark.parametrize(("code", "french"), [
    ("start_timeout", "Le test n'a pas démarré à temps"),
    ("run_in_progress", "Un test est déjà en cours"),
    ("fixture_fault", "Montage absent ou muet"),
])
def test_a_good_serial_whose_start_was_refused_says_why_in_french(code, french):
    state = replayed("powerbank-pass")
    state.next_board()
    answer = {"valid": True, "product": "PowerBank-Foolish", "serial": "PBF-000002",
              "reason": code, "messages": {"en": "the station's sentence"}, "run_id": None,
              "started": False}
    assert state.apply("scan", answer) == "scan"
    assert not state.scan.ok and state.scan.start_refused
    assert state.scan.reason_text("fr").startswith(french)
    # The same refusal as the stream's ScanRead event carries it.
    event = {"valid": True, "product": "PowerBank-Foolish", "serial": "PBF-000002",
             "reason": code, "message_en": "the station's sentence", "source": "client"}
    state.apply("scan", event)
    assert state.scan.start_refused and state.scan.reason_text("fr").startswith(french)


def _snapshot_after(doc: dict, last_run: dict | None) -> dict:
    return {**doc["snapshot"], "run": None, "last_run": last_run}


def test_a_resync_after_the_run_on_screen_finished_keeps_its_verdict():
    # A loaded station cuts a slow stream short (a gap, then a resync) or the link reconnects
    # without ever going down: the snapshot has no live run, only the last finished one.
    doc = recorded("powerbank-pass")
    record = next(ev["data"]["record"] for ev in doc["events"]
                  if KINDS.get(ev["kind"]) == "run_finished")
    state = replayed("powerbank-pass")  # the verdict on screen
    state.load_snapshot(_snapshot_after(doc, record))
    assert state.phase is Phase.VERDICT and state.run.run_id == record["run_id"]
    assert state.run.seen_finish
    # Mid-run (its finish never came down the stream): the stored verdict, said as missed.
    state = StationState()
    state.load_snapshot(doc["snapshot"])
    for ev in doc["events"]:
        if KINDS.get(ev["kind"]) == "run_started":
            state.apply("run_started", ev["data"])
    assert state.phase is Phase.RUNNING
    state.load_snapshot(_snapshot_after(doc, record))
    assert state.phase is Phase.VERDICT and state.run.outcome == "PASS"
    assert not state.run.seen_finish
    # Another run's record is not this screen's verdict.
    state = replayed("powerbank-pass")
    state.load_snapshot(_snapshot_after(doc, {**record, "run_id": "another"}))
    assert state.phase is Phase.READY
