"""A run in progress (the run screen's live half): which board, the elapsed time, the live step
list, and ABORT (which asks first).

One grid, no row containers (styles/hmi.tcss: ``#live``): every container is arranged and
painted again in the layout pass of each board's start. Title, note and ABORT have their size
from the stylesheet, never from their words, so their updates repaint without a layout pass."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Static

from hmi.i18n import t
from hmi.state import StationState
from hmi.widgets.big_button import BigButton
from hmi.widgets.panel import Panel
from hmi.widgets.step_list import StepList


class LivePanel(Panel, Widget):
    def compose(self) -> ComposeResult:
        yield Static(id="run-title", classes="title")
        yield Static(id="elapsed")
        yield StepList(id="steps")
        yield Static(id="run-note")
        yield BigButton("", id="abort", variant="error")

    def on_mount(self) -> None:
        self.set_interval(0.5, self._tick)

    def _tick(self) -> None:
        run = self.hmi.state.run
        if run is not None and self.display and self.screen.is_current:
            seconds = run.elapsed()
            self.query_one("#elapsed", Static).update(
                f"{t('elapsed', self.lang)} {int(seconds) // 60:d}:{seconds % 60:04.1f}",
                layout=False)

    def paint(self, state: StationState, change: str) -> None:
        run = state.run
        if run is None:
            return
        lang = self.lang
        steps = self.query_one(StepList)
        if change.startswith("step:"):
            steps.show_step(run, int(change[5:]), lang)
        elif change in ("run", "all"):
            steps.show_run(run, lang)
            retest = f"  ({t('retest', lang)})" if run.retest else ""
            self.query_one("#run-title", Static).update(Text.assemble(
                (run.serial, "bold"), f"   {run.product} {run.revision}{retest}"), layout=False)
        if change in ("run", "all"):
            self.query_one("#abort", BigButton).label = t("abort", lang)
        if change in ("run", "all", "command"):
            note = self.query_one("#run-note", Static)
            slow = "abort" in self.hmi.slow
            note.update(self.hmi.command_error or (t("abort_slow" if slow else "aborting", lang)
                                                   if self.hmi.aborting else ""), layout=False)
            self._tick()

    def on_button_pressed(self, event: BigButton.Pressed) -> None:
        event.stop()
        if event.button.id == "abort":
            self.hmi.confirm_abort()
