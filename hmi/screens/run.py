"""One screen for a board from Start to its verdict: the live run, then the verdict in its place.

Why one screen and not two: switching screens costs a whole layout and repaint (15-45 ms here,
more on a loaded Pi), and a board's first events arrive in a burst right after its start, so
they waited behind the switch. The verdict and the live run are two panels of this screen; the
phase only toggles which one is displayed, and the next board reuses the mounted step rows.
"""

from __future__ import annotations

from textual.app import ComposeResult

from hmi.screens.base import StationScreen
from hmi.state import Phase, StationState
from hmi.widgets.live_panel import LivePanel
from hmi.widgets.verdict_panel import VerdictPanel


class RunScreen(StationScreen):
    def compose(self) -> ComposeResult:
        yield LivePanel(id="live")
        yield VerdictPanel(id="verdict")
        yield self.status_bar()

    def paint(self, state: StationState, change: str) -> None:
        verdict = state.phase is Phase.VERDICT
        live, shown = self.query_one(LivePanel), self.query_one(VerdictPanel)
        if live.display == verdict:  # the phase moved on: everything of the other half
            live.display, shown.display = not verdict, verdict
            change = "all"
        (shown if verdict else live).paint(state, change)
