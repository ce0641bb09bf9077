"""The live step list: one row per step of the plan (teardown included), each with its state
and, under it, every measurement with value, unit, limits, marginal band and a mark and colour
per outcome. Rows are keyed by step index and repainted one at a time as events arrive; the
list scrolls itself to the step running now (no swipe needed)."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widget import Widget

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


def _cell(text: str, width: int, *, right: bool = False) -> str:
    """``text`` in exactly ``width`` cells: cut with an ellipsis, padded on the side."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        text = set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    pad = " " * (width - cell_len(text))
    return pad + text if right else text + pad


def render_step(step: StepView, lang: str, width: int) -> Text:
    """The step's lines as one Text in four columns (mark, name, value, limits) sized from the
    row's width. Plain text, not a rich Table: a Table is measured and laid out again at every
    render, and these rows are re-rendered on every layout pass during a run (the largest cost
    of painting an event on a small CPU)."""
    rest = max(0, width - 2 - 3)  # the mark's 2 cells and a space between columns
    name_w = rest * 3 // 8
    value_w = rest * 2 // 8
    limits_w = rest - name_w - value_w
    out = Text(no_wrap=True, overflow="crop", end="")

    def line(mark: str, mark_style: str, name: str, name_style: str, value: str,
             value_style: str, limits: str, limits_style: str) -> None:
        if out.plain:
            out.append("\n")
        out.append(_cell(mark, 2), mark_style)
        out.append(" " + _cell(name, name_w), name_style)
        out.append(" " + _cell(value, value_w, right=True), value_style)
        out.append(" " + _cell(limits, limits_w), limits_style)

    style = STYLE.get(step.state, "")
    name = step.name + (f" ({t('teardown', lang)})" if step.teardown else "")
    if step.attempt > 1:
        name += f" — {t('attempt', lang)} {step.attempt}"
    state_word = t("step_pending", lang) if step.state == "PENDING" else t(step.state, lang)
    line(STATE_MARK.get(step.state, "?"), style, name, style, "", "", state_word, style)
    measurements = step.measurements
    for m in measurements:
        mstyle = STYLE.get(m.outcome, "")
        limits = f"{m.limits_text()}  {m.marginal_text()}".strip()
        line(STATE_MARK.get(m.outcome, " "), mstyle, "   " + m.name, "", m.value_text(), mstyle,
             limits, "dim" if m.passed else mstyle)
    if step.error and step.state not in ("PASS", "PASS-MARGINAL"):
        line("", "", "   " + step.error, style, "", "", "", "")
    for _ in range(step.planned - len(measurements)):
        line("", "", "", "", "", "", "", "")  # rows the plan's measurements will fill
    return out


class StepRow(Widget):
    def __init__(self, step: StepView, lang: str) -> None:
        super().__init__(classes="step")
        self.step_index = step.index
        self._step, self._lang = step, lang
        self._lines = row_count(step)
        self.styles.height = self._lines

    def render(self) -> Text:
        return render_step(self._step, self._lang, self.content_size.width)

    def show(self, step: StepView, lang: str) -> None:
        lines = row_count(step)
        grew = lines != self._lines
        if grew:
            self._lines = lines
            self.styles.height = lines
        self._step, self._lang = step, lang
        self.refresh(layout=grew)
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
