"""Plots where looking beats reading, drawn with textual-plotext (Textualize's wrapper of the
plotext library: pure Python, no numpy, so it installs anywhere and costs little memory).

* :class:`LimitsPlot`: one measurement across today's boards (e.g. the PowerBank's period and
  duty cycle), each board a point, the low and high limits as lines, the marginal band dotted.
* :func:`pin_map`: the I/O board's expander pins, the failing outputs and inputs marked.
"""

from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text
from textual_plotext import PlotextPlot

from hmi.state import MeasurementView, RunView


class LimitsPlot(PlotextPlot):
    can_focus = False

    def show_values(self, title: str, values: list[float], m: MeasurementView | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        xs = list(range(1, len(values) + 1))
        if values:
            plt.scatter(xs, values, marker="dot")
        if m is not None:
            for limit in (m.low, m.high):
                if limit is not None:
                    plt.hline(limit, "red")
            for band in (m.marginal_low, m.marginal_high):
                if band is not None:
                    plt.hline(band, "yellow")
            if m.units:
                plt.ylabel(m.units)
        self.refresh()


_PIN = re.compile(r"\b(GP[AB])([0-7])\b")


def failing_pins(run: RunView) -> set[str]:
    """The expander pins named in the failing measurements and steps ("LED3 (GPA2) stuck low")."""
    pins: set[str] = set()
    for step, m in run.failing():
        texts = [step.error or ""]
        if m is not None:
            texts += [str(m.value), m.name]
        for text in texts:
            pins.update(f"{port}{bit}" for port, bit in _PIN.findall(text))
    return pins


def pin_map(run: RunView, title: str) -> Table:
    """GPA0..7 over GPB0..7, a failing pin in reverse red with ✘, the others ✔."""
    bad = failing_pins(run)
    grid = Table(title=title, show_header=True, box=None, padding=(0, 1))
    grid.add_column("")
    for bit in range(8):
        grid.add_column(str(bit), justify="center")
    for port in ("GPA", "GPB"):
        cells = []
        for bit in range(8):
            name = f"{port}{bit}"
            cells.append(Text(" ✘ ", style="bold reverse red") if name in bad
                         else Text(" ✔ ", style="green"))
        grid.add_row(port, *cells)
    return grid
