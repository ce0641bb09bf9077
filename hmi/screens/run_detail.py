"""One stored run in full, opened from the today view: every step and measurement against its
limits; for the I/O board the expander pin map with the pins that failed, for the PowerBank the
measured pulse train against its limits."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from hmi.i18n import t
from hmi.state import RunView
from hmi.widgets.big_button import BigButton
from hmi.widgets.pin_map import failing_pins, pin_map
from hmi.widgets.plots import PulseTrainPlot, pulse_times
from hmi.widgets.step_list import StepList
from hmi.widgets.verdict_banner import MARK


class RunDetail(ModalScreen[None]):
    def __init__(self, record: dict, lang: str) -> None:
        super().__init__()
        self.run = RunView.from_record(record)
        self.lang = lang

    def compose(self) -> ComposeResult:
        run, lang = self.run, self.lang
        with Vertical(id="detail-box"):
            yield Static(Text.assemble(
                (f"{MARK.get(run.outcome, '')} {t(run.outcome, lang)}   ", "bold"),
                (run.serial, "bold"), f"   {run.product} {run.revision}   {run.started_utc[:19]}",
                f"   {run.duration_s or 0:.1f} s"), id="detail-head")
            cause = run.cause()
            if cause is not None:  # ERROR or ABORTED: why, in words (hmi.causes)
                todo = cause.todo(lang)
                yield Static(Text.assemble((cause.what(lang), "bold"),
                                           f" — {todo}" if todo else ""), id="detail-cause")
            if failing_pins(run):
                yield Static(pin_map(run, t("pin_map", lang)), id="detail-pins")
            if pulse_times(run) is not None:
                yield PulseTrainPlot(id="detail-train")
            yield StepList(id="detail-steps")
            with Horizontal(id="detail-actions"):
                yield BigButton(t("close", lang), id="close")

    def on_mount(self) -> None:
        self.query_one(StepList).show_run(self.run, self.lang)
        times = pulse_times(self.run)
        if times is not None:
            pulse, gap = times
            self.query_one(PulseTrainPlot).show_train(
                t("pulse_train", self.lang, low=pulse.value_text(), high=gap.value_text()),
                pulse, gap)

    def on_button_pressed(self, event: BigButton.Pressed) -> None:
        event.stop()
        self.dismiss(None)
