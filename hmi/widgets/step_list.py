"""The live step list: one row per step of the plan (teardown included), each with its state
and, under it, every measurement with value, unit, limits, marginal band and a mark and colour
per outcome. Rows are keyed by step index and repainted one at a time as events arrive; the
list scrolls itself to the step running now (no swipe needed)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from hmi.i18n import t
from hmi.state import RunView, StepView

STATE_MARK = {"PENDING": "·", "RUNNING": "▶", "PASS": "✔", "PASS-MARGINAL": "≈", "FAIL": "✘",
              "ERROR": "⚠", "ABORTED": "■", "SKIPPED": "–"}
STYLE = {"PASS": "green", "PASS-MARGINAL": "yellow", "FAIL": "bold red", "ERROR": "bold magenta",
         "ABORTED": "bold", "RUNNING": "bold cyan", "PENDING": "dim", "SKIPPED": "dim"}


def row_count(step: StepView) -> int:
    """Lines :func:`render_step` draws: known in advance, so a row that only changes its
    words is repainted without a layout pass (the costly part on a Pi)."""
    error = bool(step.error and step.state not in ("PASS", "PASS-MARGINAL"))
    return 1 + max(len(step.measurements), step.planned) + error


def render_step(step: StepView, lang: str) -> Table:
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(width=2)
    grid.add_column(ratio=3, no_wrap=True, overflow="ellipsis")
    grid.add_column(ratio=2, justify="right", no_wrap=True)
    grid.add_column(ratio=3, no_wrap=True, overflow="ellipsis")
    style = STYLE.get(step.state, "")
    name = step.name + (f" ({t('teardown', lang)})" if step.teardown else "")
    if step.attempt > 1:
        name += f" — {t('attempt', lang)} {step.attempt}"
    state_word = t("step_pending", lang) if step.state == "PENDING" else t(step.state, lang)
    grid.add_row(Text(STATE_MARK.get(step.state, "?"), style=style), Text(name, style=style),
                 "", Text(state_word, style=style))
    measurements = step.measurements
    for m in measurements:
        mstyle = STYLE.get(m.outcome, "")
        limits = m.limits_text()
        band = m.marginal_text()
        grid.add_row(Text(STATE_MARK.get(m.outcome, " "), style=mstyle),
                     Text("   " + m.name),
                     Text(m.value_text(), style=mstyle),
                     Text(f"{limits}  {band}".strip(), style="dim" if m.passed else mstyle))
    if step.error and step.state not in ("PASS", "PASS-MARGINAL"):
        grid.add_row("", Text("   " + step.error, style=style), "", "")
    for _ in range(step.planned - len(measurements)):
        grid.add_row("", "", "", "")  # rows the plan's measurements will fill
    return grid


class StepRow(Static):
    def __init__(self, step: StepView, lang: str) -> None:
        super().__init__(render_step(step, lang), classes="step")
        self.step_index = step.index
        self._lines = row_count(step)
        self.styles.height = self._lines

    def show(self, step: StepView, lang: str) -> None:
        lines = row_count(step)
        grew = lines != self._lines
        if grew:
            self._lines = lines
            self.styles.height = lines
        self.update(render_step(step, lang), layout=grew)
        self.set_class(step.state == "RUNNING", "-running")


class StepList(VerticalScroll):
    can_focus = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._run_id: str | None = None
        self._rows: dict[int, StepRow] = {}

    def show_run(self, run: RunView, lang: str) -> None:
        """Show every row of a new run (or of a snapshot). The rows already mounted are reused
        for the new run's steps (mounting widgets is the costly part of a new board); only the
        difference in step count is mounted or removed."""
        self._run_id = run.run_id
        old = list(self._rows.values())
        steps = run.steps
        surplus = old[len(steps):]
        if surplus:
            self.remove_children(surplus)
        rows: dict[int, StepRow] = {}
        for row, step in zip(old, steps, strict=False):
            row.step_index = step.index
            row.show(step, lang)
            rows[step.index] = row
        new = [StepRow(step, lang) for step in steps[len(old):]]
        for row, step in zip(new, steps[len(old):], strict=True):
            rows[step.index] = row
            row.show(step, lang)
        if new:
            self.mount_all(new)
        self._rows = rows
        self.scroll_home(animate=False)

    def show_step(self, run: RunView, index: int, lang: str) -> None:
        if run.run_id != self._run_id:
            self.show_run(run, lang)
            return
        step = next((s for s in run.steps if s.index == index), None)
        if step is None:
            return
        row = self._rows.get(index)
        if row is None:
            self.show_run(run, lang)
            return
        row.show(step, lang)
        if step.state == "RUNNING" or step.measurements:
            self.scroll_to_widget(row, animate=False)
