"""Today at this station: boards tested, first-pass yield per product, the last boards with their
verdicts (tap one for its detail), and for the PowerBank the period of today's boards against
its limits. Big PREV/NEXT buttons page the list: nothing needs a swipe."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static

from hmi.i18n import t
from hmi.state import MeasurementView
from hmi.widgets.big_button import BigButton
from hmi.widgets.plots import LimitsPlot
from hmi.widgets.verdict_banner import MARK

PAGE = 4  # rows of 3 lines: fits 800x480 with the head, the yields and the pager


def _time(utc: str) -> str:
    return utc[11:16] if len(utc) >= 16 else utc


class TodayScreen(Screen):
    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang
        self.runs: list[dict] = []
        self.page = 0

    def compose(self) -> ComposeResult:
        with Horizontal(id="today-head"):
            yield Static(Text(t("today", self.lang), style="bold"), id="today-summary")
            yield BigButton(t("back", self.lang), id="back", classes="side")
        with Vertical(id="today-body"):
            yield Static(id="yields")
            yield Vertical(id="today-runs")
            with Horizontal(id="today-plot"):
                yield LimitsPlot(id="plot-0")
                yield LimitsPlot(id="plot-1")
        with Horizontal(id="today-pages"):
            yield BigButton(t("prev", self.lang), id="prev")
            yield BigButton(t("next", self.lang), id="next")

    def fill(self, runs: list[dict], yields: list[dict]) -> None:
        lang = self.lang
        self.runs = runs
        summary = Text.assemble((t("today", lang) + "   ", "bold"),
                                f"{t('boards_today', lang)} : ", (str(len(runs)), "bold"))
        self.query_one("#today-summary", Static).update(summary)
        table = Table(box=None, expand=True, padding=(0, 1))
        table.add_column(t("product", lang))
        table.add_column(t("boards_today", lang), justify="right")
        table.add_column(t("first_pass_yield", lang), justify="right")
        for y in yields:
            fpy = y.get("first_pass_yield")
            table.add_row(str(y.get("product", "")), str(y.get("serials", y.get("runs", ""))),
                          "—" if fpy is None else f"{float(fpy):.0%}")
        self.query_one("#yields", Static).update(
            table if yields else Text(t("nothing_today", lang)))
        self.show_page()

    def show_page(self) -> None:
        box = self.query_one("#today-runs", Vertical)
        box.remove_children()
        rows = self.runs[self.page * PAGE:(self.page + 1) * PAGE]
        box.mount_all(
            BigButton(f"{_time(r.get('started_utc', ''))}  {MARK.get(r.get('outcome', ''), ' ')} "
                      f"{t(str(r.get('outcome', '')), self.lang):<18} {r.get('serial', '')}  "
                      f"{r.get('product', '')}", id=f"run-{i}", classes="run-row")
            for i, r in enumerate(rows))
        self.query_one("#prev", BigButton).disabled = self.page == 0
        self.query_one("#next", BigButton).disabled = (self.page + 1) * PAGE >= len(self.runs)

    def show_plot(self, series: list[tuple[str, list[float], MeasurementView | None]]) -> None:
        """One panel per measurement (two at most), side by side."""
        box = self.query_one("#today-plot")
        shown = any(values for _, values, _ in series)
        box.set_class(shown, "-shown")
        for i, plot in enumerate(self.query(LimitsPlot)):
            plot.display = i < len(series)
            if i < len(series):
                plot.show_values(*series[i])

    def on_button_pressed(self, event: BigButton.Pressed) -> None:
        event.stop()
        button = event.button.id or ""
        if button == "back":
            self.app.pop_screen()
        elif button == "prev" and self.page > 0:
            self.page -= 1
            self.show_page()
        elif button == "next" and (self.page + 1) * PAGE < len(self.runs):
            self.page += 1
            self.show_page()
        elif button.startswith("run-"):
            index = self.page * PAGE + int(button[4:])
            if index < len(self.runs):
                self.app.fetch_run(str(self.runs[index].get("run_id")))  # type: ignore[attr-defined]
