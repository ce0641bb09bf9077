"""Plots where looking beats reading, drawn with textual-plotext (Textualize's wrapper of the
plotext library: pure Python, no numpy, so it installs anywhere and costs little memory).

* :class:`LimitsPlot`: measurements across today's boards (the PowerBank's period and duty
  cycle), each board a point, the low and high limits as lines, the marginal band too.
* :class:`PulseTrainPlot`: one run's measured pulse train (the PowerBank's keep-alive output),
  drawn from its low and high times, with the instants where each edge may fall under the
  limits as vertical lines.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

from hmi.state import MeasurementView, RunView

# The PowerBank's pulse timing measurements: the keep-alive pulse is its 555's LOW phase (the
# plan says so: in a basic astable the high phase is always the longer one), the gap the HIGH.
PULSE, GAP = "pulse_width", "gap"
CYCLES = 2


def pulse_times(run: RunView) -> tuple[MeasurementView, MeasurementView] | None:
    """The run's low (pulse) and high (gap) times, when it measured both as numbers."""
    found = {m.name: m for step in run.steps for m in step.measurements
             if m.name in (PULSE, GAP) and isinstance(m.value, int | float)
             and not isinstance(m.value, bool)}
    return (found[PULSE], found[GAP]) if len(found) == 2 else None


def train_points(low_s: float, high_s: float, cycles: int = CYCLES) -> tuple[list, list]:
    """The square wave, starting high: (times, levels) of its corners."""
    xs, ys, t = [], [], 0.0
    for _ in range(cycles):
        xs += [t, t + high_s, t + high_s, t + high_s + low_s]
        ys += [1, 1, 0, 0]
        t += high_s + low_s
    return [*xs, t], [*ys, 1]


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


class PulseTrainPlot(PlotextPlot):
    can_focus = False

    def show_train(self, title: str, pulse: MeasurementView, gap: MeasurementView) -> None:
        """The measured train; red lines where the falling edge (end of the high time) and the
        rising edge (end of the low time, counted from the measured falling edge) may lie."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        low_s, high_s = float(pulse.value), float(gap.value)  # type: ignore[arg-type]
        xs, ys = train_points(low_s, high_s)
        plt.plot(xs, ys, marker="braille", color="cyan")
        plt.ylim(-0.5, 1.5)
        plt.yticks([0, 1], ["0", "1"])
        plt.xlabel("s")
        for edge_at, m in ((0.0, gap), (high_s, pulse)):
            for limit, colour in ((m.low, "red"), (m.high, "red"),
                                  (m.marginal_low, "yellow"), (m.marginal_high, "yellow")):
                if limit is not None:
                    plt.vline(edge_at + limit, colour)
        self.refresh()
