"""The operator flow against the real station service (subprocess, simulated hardware)."""

from __future__ import annotations

import pytest
from hmi_support import make_app, screen_text, type_scan, wait_for, wait_text

from hmi.state import Phase

pytestmark = pytest.mark.asyncio


async def test_scan_start_live_steps_verdict_next_scan(station):
    app = make_app(station.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_text(pilot, "DÉMARRER")
        await type_scan(pilot, "PBF-000001")
        await wait_for(pilot, lambda: app.state.scan is not None and app.state.scan.ok,
                       "the scan accepted")
        assert app.state.product == "PowerBank-Foolish"  # told by the serial, no tap
        await pilot.click("#start")
        await wait_for(pilot, lambda: app.state.phase is Phase.VERDICT, "the verdict")
        text = screen_text(app)
        assert "CONFORME" in text and "PBF-000001" in text
        assert app.state.run.outcome == "PASS"
        assert [s.state for s in app.state.run.steps][-1] == "PASS"  # teardown ran
        # The next scan is the next board: no tap.
        await type_scan(pilot, "PBF-000002")
        await wait_for(pilot, lambda: app.state.phase is Phase.READY and
                       app.state.scan is not None and app.state.scan.serial == "PBF-000002",
                       "ready with the next serial")
        assert "CONFORME" not in screen_text(app)
