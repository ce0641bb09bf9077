"""The live step list: one row per step of the plan (teardown included), each with its state
and, under it, every measurement with value, unit, limits, marginal band and a mark and colour
per outcome. Rows are keyed by step index and repainted one at a time as events arrive; the
list scrolls itself to the step running now (no swipe needed)."""

from __future__ import annotations

from bisect import bisect_right
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual, visualize

from hmi.i18n import t
from hmi.state import RunView, StepView

STATE_MARK = {"PENDING": "·", "RUNNING": "▶", "PASS": "✔", "PASS-MARGINAL": "≈", "FAIL": "✘",
              "ERROR": "⚠", "ABORTED": "■", "SKIPPED": "–"}
STYLE = {"PASS": "green", "PASS-MARGINAL": "yellow", "FAIL": "bold red", "ERROR": "bold magenta",
         "ABORTED": "bold", "RUNNING": "bold cyan", "PENDING": "dim", "SKIPPED": "dim"}


def _shows_error(step: StepView) -> bool:
    """A step that did not pass shows its error on a line of its own."""
    return bool(step.error and step.state not in ("PASS", "PASS-MARGINAL"))


def row_count(step: StepView) -> int:
    """Lines :func:`step_lines` draws: known in advance, so a row that only changes its
    words is repainted without a layout pass (the costly part on a Pi)."""
    return 1 + max(len(step.measurements), step.planned) + _shows_error(step)


def _cell(text: str, width: int, *, right: bool = False) -> str:
    """``text`` in exactly ``width`` cells: cut with an ellipsis, padded on the side."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        text = set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    pad = " " * (width - cell_len(text))
    return pad + text if right else text + pad


Piece = tuple[str, str]  # text, and its style's name (a key of STYLE's values, or "")


def step_lines(step: StepView, lang: str, width: int) -> list[list[Piece]]:
    """The step's lines in four columns (mark, name, value, limits) sized from the list's
    width, each line as (text, style) pieces of exactly ``width`` cells. Plain text, not a rich
    Table: a Table is measured and laid out again at every render."""
    rest = max(0, width - 2 - 3)  # the mark's 2 cells and a space between columns
    name_w = rest * 3 // 8
    value_w = rest * 2 // 8
    limits_w = rest - name_w - value_w
    out: list[list[Piece]] = []

    def line(mark: str, mark_style: str, name: str, name_style: str, value: str,
             value_style: str, limits: str, limits_style: str) -> None:
        out.append([(_cell(mark, 2), mark_style), (" " + _cell(name, name_w), name_style),
                    (" " + _cell(value, value_w, right=True), value_style),
                    (" " + _cell(limits, limits_w), limits_style)])

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
    if _shows_error(step):
        line("", "", "   " + step.error, style, "", "", "", "")
    for _ in range(step.planned - len(measurements)):
        line("", "", "", "", "", "", "", "")  # rows the plan's measurements will fill
    return out


def _runs(pieces: list[Piece]) -> list[Piece]:
    """The pieces as Textual cuts a rich Text into segments: each styled piece on its own,
    neighbouring unstyled ones together, empty ones dropped."""
    out: list[Piece] = []
    for text, style in pieces:
        if not text:
            continue
        if not style and out and not out[-1][1]:
            out[-1] = (out[-1][0] + text, "")
        else:
            out.append((text, style))
    return out


class StepList(ScrollView, can_focus=False):
    """The steps through Textual's line API: one widget that draws its own lines, with the
    lines of each step cached as Strips. A step that changes re-renders only its own lines and
    repaints only their region; no step ever is a widget of its own, so painting an event never
    lays the screen out again. (One child widget per step, as before, made every layout pass
    re-measure and re-render them all: 7-40 ms a pass here, at every board's start and verdict,
    and the events arriving meanwhile waited behind it.) A change of the list's height in lines
    (another product's run, a failing step growing an error line) does not lay the screen out
    either: see :meth:`_place_lines`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"step-list--running"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._run_id: str | None = None
        self._lang = "fr"
        self._steps: list[StepView] = []  # the run's own views, in order
        self._first: list[int] = []  # the first line of each step, same order
        self._order: dict[int, int] = {}  # step index -> its place in _steps
        self._strips: dict[int, list[Strip]] = {}  # place -> its rendered lines
        self._strips_width = -1  # the content width they were rendered at
        self._styles: dict[tuple[str, bool], RichStyle] = {}  # see _style_of

    # -- what the run screen calls ---------------------------------------------------------
    def show_run(self, run: RunView, lang: str) -> None:
        """Show every step of a new run (or of a snapshot), from the top."""
        self._run_id, self._lang = run.run_id, lang
        self._steps = list(run.steps)
        self._order = {step.index: place for place, step in enumerate(self._steps)}
        self._strips.clear()
        self._place_lines()
        self.scroll_to(y=0, animate=False)
        self.refresh()

    def show_step(self, run: RunView, index: int, lang: str) -> None:
        place = self._order.get(index)
        if run.run_id != self._run_id or place is None or lang != self._lang:
            self.show_run(run, lang)  # another run, or a step the plan did not announce
            return
        step = self._steps[place]
        self._strips.pop(place, None)
        first, count = self._first[place], row_count(step)
        if self._first[place + 1] - first != count:  # the step grew or shrank: lines move
            self._place_lines()
            self.refresh()
        else:
            self.refresh_lines(first, count)
        if step.state == "RUNNING" or step.measurements:
            # The step in view, as a list of rows scrolled to a row would: the least scroll.
            self.scroll_to_region(Region(0, first, 1, count), animate=False)

    # -- the line API ------------------------------------------------------------------------
    def _place_lines(self) -> None:
        first = [0]
        for step in self._steps:
            first.append(first[-1] + row_count(step))
        self._first = first
        size = Size(0, first[-1])
        if self.virtual_size == size:
            return
        if not self.size:  # not laid out yet: the first layout pass takes it
            self.virtual_size = size
            return
        # Another height in lines (another product's run, a failing step growing its error
        # line) changes nothing outside this widget: its own size comes from the stylesheet
        # and its scrollbar is always shown (styles/hmi.tcss). So the new height is set without
        # the layout pass of the whole screen that ``virtual_size`` asks for (Reactive(...,
        # layout=True)), and the scrollbar and scroll limits are updated the way Textual's
        # own resize does it (ScrollView._size_updated -> _scroll_update, textual 8.2.8).
        self.set_reactive(StepList.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        line = y + self.scroll_offset.y
        if width != self._strips_width:
            self._strips.clear()
            self._strips_width = width
        place = bisect_right(self._first, line) - 1
        if not 0 <= place < len(self._steps):
            return self._blank(width)
        strips = self._strips.get(place)
        if strips is None:
            strips = self._strips[place] = self._render_place(place, width)
        offset = line - self._first[place]
        return strips[offset] if offset < len(strips) else self._blank(width)

    def _blank(self, width: int) -> Strip:
        """Below the last step: the list's background, as an empty container paints it."""
        return Strip.blank(width, RichStyle(bgcolor=self.visual_style.background.rich_color))

    def _render_place(self, place: int, width: int) -> list[Strip]:
        """A step's lines as Strips, straight from its pieces: no rich Text, no Content, no
        measuring (that was most of the cost of showing a new board's list)."""
        step = self._steps[place]
        running = step.state == "RUNNING"
        style_of = self._style_of
        strips = []
        for y, pieces in enumerate(step_lines(step, self._lang, width)):
            segments, x = [], 0
            for text, name in _runs(pieces):
                # The cell offsets Textual's own rendering puts on each piece.
                segments.append(Segment(text, style_of(name, running)
                                        + RichStyle.from_meta({"offset": (x, y)})))
                x += len(text)
            strips.append(Strip(segments).adjust_cell_length(width, style_of("", running)))
        return strips

    def _style_of(self, name: str, running: bool) -> RichStyle:
        """The terminal style of a piece in style ``name`` on this list (the running step's
        background under it when ``running``): what Textual itself would draw for a rich Text
        in that style, found once by letting it render one cell, then kept."""
        key = (name, running)
        style = self._styles.get(key)
        if style is None:
            base = (self.get_visual_style("step-list--running") if running
                    else self.visual_style)
            cell = Visual.to_strips(self, visualize(self, Text().append("x", name)), 1, 1, base)
            style = next(iter(cell[0])).style or RichStyle()
            style = self._styles[key] = style.clear_meta_and_links()
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # the theme or a class changed the colours
        self._styles.clear()
