"""The step list's height in lines changes (another product's run, a failing step growing its
error line) without a layout pass of the screen: its scrollbar, its scroll limits and the lines
drawn must still follow. A small app holding the list alone, driven by Textual's pilot."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult

from hmi.state import RunView
from hmi.widgets.step_list import StepList, row_count


class OneList(App):
    CSS = "StepList { height: 8; overflow-x: hidden; overflow-y: scroll; }"

    def compose(self) -> ComposeResult:
        yield StepList()


def run_of(steps: int) -> RunView:
    run = RunView("r1", "HIO-000001", "HMI-IO-Board")
    for i in range(steps):
        run.step(i, f"step {i}").planned = 1
    return run


def screen_text(app: App) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def test_a_step_growing_an_error_line_needs_no_layout_pass():
    asyncio.run(_grow())


async def _grow() -> None:
    app = OneList()
    async with app.run_test(size=(60, 10)) as pilot:
        steps = app.query_one(StepList)
        run = run_of(4)  # 8 lines: exactly the window
        steps.show_run(run, "en")
        await pilot.pause()
        assert steps.virtual_size.height == 8 and steps.max_scroll_y == 0
        layouts: list[int] = []
        app.screen.screen_layout_refresh_signal.subscribe(app, lambda _: layouts.append(1))

        failing = run.steps[3]
        failing.state, failing.error = "FAIL", "LED3 (GPA2) stuck low"
        steps.show_step(run, 3, "en")  # its error line: one line more than the window
        await pilot.pause()

        assert sum(row_count(step) for step in run.steps) == 9
        assert steps.virtual_size.height == 9
        assert steps.vertical_scrollbar.window_virtual_size == 9
        assert steps.max_scroll_y == 1
        steps.scroll_end(animate=False)
        await pilot.pause()
        assert steps.scroll_y == 1
        shown = screen_text(app)
        assert "LED3 (GPA2) stu" in shown and "step 0" not in shown  # scrolled by one line
        assert layouts == []  # the screen was not laid out again
