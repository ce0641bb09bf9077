"""Screenshots of the key screens, compared with the committed SVGs in ``snapshots/``.

Textual's own SVG export (``App.export_screenshot``) and an exact text comparison, rather than
pytest-textual-snapshot: that plugin (1.1.0, the latest) pins syrupy 4.8.0, which requires
pytest < 9, and the project is on pytest 9; the plugin also calls a private Textual function.
The comparison here is twenty lines and needs neither.

The screens are fed a stream the real station sent (``data/*.json``, recorded by
``data/record_streams.py``), so they do not depend on this machine's clock or NTP state.
Sizes, in terminal cells: 80x24 (the usual default), 100x30 (the 7" 800x480 Touch Display with an
8x16 px font) and 72x64 (Touch Display 2, 720x1280 portrait, 10x20 px font). On the running and
verdict screens every control must be on screen without scrolling.

After a deliberate change: ``PIBENCH_UPDATE_SNAPSHOTS=1 pytest tests/hmi/test_snapshots.py``,
then look at the new SVGs (a browser opens them) before committing. A failing comparison leaves
``<name>.new.svg`` beside the committed one.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from hmi_support import make_app, wait_for

from hmi.link import KINDS
from hmi.messages import LinkDown, LinkUp, StationEvent, TodayLoaded
from hmi.state import Phase, RunView

pytestmark = pytest.mark.asyncio

HERE = Path(__file__).parent
SNAPSHOTS = HERE / "snapshots"
SIZES = {"80x24": (80, 24), "800x480": (100, 30), "720x1280": (72, 64)}


def recorded(name: str) -> dict:
    doc = json.loads((HERE / "data" / f"{name}.json").read_text())
    snap = doc["snapshot"]
    snap["station"]["station_id"] = "banc-1"
    snap["health"]["clock_synced"] = True  # the machine that recorded it may not be
    snap["health"]["disk"]["low"] = False
    snap["sync"] = {"enabled": True, "backend": "inventree", "state": "up", "queue_depth": 2,
                    "parked": 0}
    return doc


def variant(doc: dict, outcome: str) -> dict:
    """The recorded PASS run, told as a marginal pass or an abort (same steps, same layout)."""
    doc = copy.deepcopy(doc)
    record = doc["events"][-1]["data"]["record"]
    record["outcome"] = outcome
    if outcome == "PASS-MARGINAL":
        step = next(s for s in record["steps"] if s["name"] == "pulse timing")
        step["outcome"] = "PASS-MARGINAL"
        step["attempts"][-1]["measurements"][-1]["outcome"] = "PASS-MARGINAL"
    if outcome == "ABORTED":
        record["error"] = "aborted: aborted by operator"
    return doc


def compare(app, name: str) -> None:
    svg = app.export_screenshot(title=name)
    path = SNAPSHOTS / f"{name}.svg"
    new = path.with_suffix(".new.svg")
    if os.environ.get("PIBENCH_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(svg, encoding="utf-8")
        new.unlink(missing_ok=True)
        if os.environ.get("PIBENCH_UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"no committed screenshot {path.name} yet: written, look at it")
        return
    if svg != path.read_text(encoding="utf-8"):
        new.write_text(svg, encoding="utf-8")
        pytest.fail(f"{name}: the screen changed; compare {path} with {new}")
    new.unlink(missing_ok=True)


def assert_on_screen(app, *selectors: str) -> None:
    screen = app.screen.region
    for selector in selectors:
        widget = app.screen.query_one(selector)
        region = widget.region
        assert region.area > 0 and screen.contains_region(region), \
            f"{selector} is not wholly on screen ({region} in {screen})"


async def replay(pilot, doc: dict, upto: int | None = None) -> None:
    app = pilot.app
    app.post_message(LinkUp(doc["snapshot"]))
    for ev in doc["events"][:upto]:
        kind = KINDS.get(ev["kind"])
        if kind:
            app.post_message(StationEvent(kind, ev["data"]))
    await pilot.pause()


@pytest.fixture(autouse=True)
def frozen_elapsed(monkeypatch):
    monkeypatch.setattr(RunView, "elapsed", lambda self, now=None: 12.3)


@pytest.mark.parametrize("size", SIZES)
async def test_ready(size):
    app = make_app("http://127.0.0.1:9", connect=False)
    async with app.run_test(size=SIZES[size]) as pilot:
        await replay(pilot, recorded("powerbank-pass"), upto=0)
        await wait_for(pilot, lambda: app.state.phase is Phase.READY, "ready")
        app.post_message(StationEvent("scan", {"raw": "PBF-000123", "valid": True,
                                               "serial": "PBF-000123",
                                               "product": "PowerBank-Foolish"}))
        await pilot.pause()
        assert_on_screen(app, "#start", "#today", "#scan-field", "#status")
        compare(app, f"ready-{size}")


async def test_ready_refused_scan():
    app = make_app("http://127.0.0.1:9", connect=False)
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await replay(pilot, recorded("powerbank-pass"), upto=0)
        app.post_message(StationEvent("scan", {
            "raw": "PBF-0001", "valid": False, "product": "PowerBank-Foolish",
            "messages": {"fr": "Numéro trop court : 8 caractères, il en faut 10.",
                         "en": "Serial too short: 8 characters, 10 expected."}}))
        await pilot.pause()
        compare(app, "ready-refused-80x24")


@pytest.mark.parametrize("size", SIZES)
async def test_running(size):
    app = make_app("http://127.0.0.1:9", connect=False)
    async with app.run_test(size=SIZES[size]) as pilot:
        doc = recorded("io-fail")
        await replay(pilot, doc, upto=len(doc["events"]) - 6)
        await wait_for(pilot, lambda: app.state.phase is Phase.RUNNING, "running")
        await pilot.pause()
        assert_on_screen(app, "#abort", "#elapsed", "#run-title", "#status")
        compare(app, f"running-{size}")


VERDICTS = {
    "pass": lambda: recorded("powerbank-pass"),
    "marginal": lambda: variant(recorded("powerbank-pass"), "PASS-MARGINAL"),
    "fail": lambda: recorded("powerbank-fail"),
    "fail-io": lambda: recorded("io-fail"),
    "error": lambda: recorded("io-error"),
    "aborted": lambda: variant(recorded("powerbank-pass"), "ABORTED"),
}
KEY_VERDICTS = ("fail-io", "error")


@pytest.mark.parametrize(("verdict", "size"), [
    *((v, "80x24") for v in VERDICTS),
    *((v, s) for v in KEY_VERDICTS for s in ("800x480", "720x1280")),
])
async def test_verdict(verdict, size):
    app = make_app("http://127.0.0.1:9", connect=False)
    async with app.run_test(size=SIZES[size]) as pilot:
        await replay(pilot, VERDICTS[verdict]())
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "verdict")
        await pilot.pause()
        assert_on_screen(app, "VerdictBanner", "#todo", "#next-scan", "#today", "#status")
        compare(app, f"verdict-{verdict}-{size}")


async def test_verdict_while_the_station_is_unreachable(monkeypatch):
    monkeypatch.setattr("hmi.widgets.status_bar._since", lambda epoch: "08:12:00")
    app = make_app("http://127.0.0.1:9", connect=False)
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await replay(pilot, VERDICTS["pass"]())
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "verdict")
        app.post_message(LinkDown("connection refused"))
        await wait_for(pilot, lambda: app.state.link == "down", "the link down")
        await pilot.pause()
        assert_on_screen(app, "VerdictBanner", "#next-scan", "#status")
        compare(app, "verdict-link-down-80x24")


async def test_today():
    app = make_app("http://127.0.0.1:9", connect=False)
    runs = []
    for name in ("powerbank-pass", "powerbank-fail", "io-fail", "io-error"):
        record = recorded(name)["events"][-1]["data"]["record"]
        runs.append({k: record[k] for k in ("run_id", "serial", "product", "outcome")}
                    | {"started_utc": "2026-12-05T09:" + f"{len(runs) * 7 + 3:02d}:00+00:00"})
    yields = [{"product": "PowerBank-Foolish", "runs": 2, "serials": 2, "first_pass": 1,
               "first_pass_yield": 0.5},
              {"product": "HMI-IO-Board", "runs": 2, "serials": 2, "first_pass": 0,
               "first_pass_yield": 0.0}]
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await replay(pilot, recorded("powerbank-pass"), upto=0)
        await wait_for(pilot, lambda: app.state.phase is Phase.READY, "ready")
        await pilot.click("#today")
        await pilot.pause()
        app.post_message(TodayLoaded(runs[::-1], yields))
        await pilot.pause()
        compare(app, "today-80x24")

