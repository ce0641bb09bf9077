"""Two revisions of one product on the station: a button each, and the operator taps the
board's revision before START (the station never guesses which plan judges a board)."""

from __future__ import annotations

import pytest
from hmi_support import StationProcess, make_app, screen_text, tap, type_scan, wait_for, wait_ready

from edge.config import BUILTIN_PLANS
from hmi.state import Phase

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def test_the_operator_taps_the_boards_revision_and_that_plan_runs(tmp_path):
    plans = tmp_path / "plans"
    plans.mkdir()
    builtin = (BUILTIN_PLANS / "powerbank-foolish-revB.toml").read_text()
    (plans / "pbf-revC.toml").write_text(builtin.replace('revision = "B"', 'revision = "C"'))
    station = StationProcess(tmp_path / "station", plans_dir=plans).start()
    try:
        app = make_app(station.url, lang="fr")
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_ready(pilot)
            for revision in ("B", "C"):  # one button per plan (the same id twice crashed)
                assert app.screen.query_one(f"#product-PowerBank-Foolish-rev-{revision}")
            await type_scan(pilot, "PBF-000001")  # the serial tells the product, not the board
            await wait_for(pilot, lambda: app.state.scan is not None and app.state.scan.ok,
                           "the scan's answer")
            assert app.state.product == "PowerBank-Foolish" and app.state.revision == ""
            await wait_for(pilot, lambda: "Quelle révision de PowerBank-Foolish" in
                           screen_text(app), "the question")
            assert app.screen.query_one("#start").disabled

            await tap(pilot, "#product-PowerBank-Foolish-rev-C")
            await wait_for(pilot, lambda: not app.screen.query_one("#start").disabled,
                           "START, once the revision is chosen")
            assert app.state.scan is not None  # the same product: the scan is kept
            await tap(pilot, "#start")
            await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "the verdict",
                           timeout=60)
            assert app.state.run.revision == "C"
    finally:
        station.close()
