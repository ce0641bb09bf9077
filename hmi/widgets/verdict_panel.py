"""The verdict (the run screen's second half, shown in place of the live run), readable across the
bench: the outcome word very large, the board, each failing measurement against its limits, and
what to do. The next scan is the next board: no tap."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from hmi.i18n import t
from hmi.state import StationState
from hmi.widgets.big_button import BigButton
from hmi.widgets.panel import Panel
from hmi.widgets.pin_map import failing_pins, pin_map
from hmi.widgets.scan_field import ScanField
from hmi.widgets.verdict_banner import VerdictBanner


def failures_table(state: StationState, lang: str) -> Group | Text:
    run = state.run
    if run is None:
        return Text("")
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(ratio=3, overflow="fold")
    grid.add_column(ratio=3, justify="right", overflow="fold")
    grid.add_column(ratio=2, overflow="fold")
    lines: list[Text] = []  # a step that failed without a measurement: its reason, full width
    rows = run.failing() if run.outcome not in ("PASS", "PASS-MARGINAL") else run.marginal()
    cause = run.cause()
    if cause is not None:  # the station's fault: what happened in words, its sentence small
        lines.append(Text(cause.what(lang), style="bold"))
        if cause.detail:
            lines.append(Text(cause.detail, style="dim"))
    for step, m in rows:
        if m is None and cause is not None:
            continue  # said above
        if m is None:
            lines.append(Text.assemble((step.name + " : ", "bold"),
                                       step.error or t(step.state, lang)))
        else:
            grid.add_row(Text(f"{step.name} · {m.name}", style="bold"),
                         Text(m.value_text(), style="bold"),
                         Text(f"{m.limits_text()}  {m.marginal_text()}".strip()))
    if run.error and run.outcome in ("ERROR", "ABORTED") and not lines:
        lines.append(Text(run.error))
    return Group(*lines, grid) if grid.row_count else Group(*lines)


class VerdictPanel(Panel, Vertical):
    def compose(self) -> ComposeResult:
        yield VerdictBanner(id="banner")
        yield Static(id="verdict-board", classes="title")
        with VerticalScroll(id="failures"):
            yield Static(id="failure-list")
        yield Static(id="verdict-pins")
        yield Static(id="todo")
        with Horizontal(id="verdict-actions"):
            yield ScanField(id="next-scan")
            yield BigButton("", id="today", classes="side")

    def paint(self, state: StationState, change: str) -> None:
        run = state.run
        lang = self.lang
        if run is None or change in ("health", "sync"):
            return  # those show only on the status line, which the screen repaints itself
        self.query_one(VerdictBanner).show(run.outcome, lang)
        down = state.link != "up"  # a stored fact stays, but nothing may pass for current
        away = "" if run.seen_finish else f"\n({t('finished_while_away', lang)})"
        if down:
            away = f"\n{t('verdict_link_down', lang)}"
        duration = "" if run.duration_s is None else f"{run.duration_s:.1f} s"
        self.query_one("#verdict-board", Static).update(Text.assemble(
            (run.serial, "bold"), f"   {run.product} {run.revision}   ", (duration, "dim"),
            (away, "bold reverse" if down else "bold")))
        self.query_one("#failure-list", Static).update(failures_table(state, lang))
        self.query_one("#failures").display = bool(run.failing() or run.marginal() or run.error)
        pins = self.query_one("#verdict-pins", Static)
        # The I/O board's pin map, where the screen has room for it (not at 80x24).
        show_pins = bool(failing_pins(run)) and self.app.size.height >= 30
        pins.display = show_pins
        if show_pins:
            pins.update(pin_map(run, t("pin_map", lang)))
        todo = t(f"todo_{run.outcome}", lang)
        cause = run.cause()
        if cause is not None and cause.todo(lang):
            todo = f"{todo} {cause.todo(lang)}"
        self.query_one("#todo", Static).update(todo)
        self.query_one("#todo").set_class(run.outcome == "ERROR", "-error")
        field = self.query_one(ScanField)
        field.set_class(down, "-alarm")
        if down:
            field.update(Text(t("wait_for_station", lang), style="bold"))
        elif self.hmi.typing or self.hmi.scan_sent:
            field.show(self.hmi.typing, None, lang, sent=self.hmi.scan_sent,
                       slow="scan" in self.hmi.slow)
        elif self.hmi.command_error:  # a scan the station did not answer: the verdict stays
            field.update(Text(self.hmi.command_error, style="bold"))
        else:
            field.update(Text("▶ " + t("next_board", lang), style="bold"))
        self.query_one("#today", BigButton).label = t("today", lang)

    def on_button_pressed(self, event: BigButton.Pressed) -> None:
        event.stop()
        if event.button.id == "today":
            self.hmi.open_today()
