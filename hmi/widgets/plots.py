"""Plots where looking beats reading, drawn with textual-plotext (Textualize's wrapper of the
plotext library: pure Python, no numpy, so it installs anywhere and costs little memory).

* :class:`LimitsPlot`: measurements across today's boards (the PowerBank's period and duty
  cycle), each board a point, the low and high limits as lines, the marginal band too.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

from hmi.state import MeasurementView


class LimitsPlot(PlotextPlot):
    can_focus = False

    def show_values(self, title: str, values: list[float], m: MeasurementView | None) -> None:
        """Each board a point, the limits in red, the marginal band in yellow."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        if values:
            plt.scatter(list(range(1, len(values) + 1)), values, marker="dot")
        if m is not None:
            for limit in (m.low, m.high):
                if limit is not None:
                    plt.hline(limit, "red")
            for band in (m.marginal_low, m.marginal_high):
                if band is not None:
                    plt.hline(band, "yellow")
        self.refresh()
