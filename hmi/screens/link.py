"""Shown whenever there is no current truth from the station: while connecting, and at once
when the link drops (unless a finished run's verdict is on screen: that stays, marked, see
widgets/verdict_panel.py). A run that was going is named with "state unknown", nothing of its
progress: a stale live run can never pass for the current one."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from hmi.i18n import t
from hmi.screens.base import StationScreen
from hmi.state import StationState
from hmi.widgets.status_bar import _since


class LinkScreen(StationScreen):
    def compose(self) -> ComposeResult:
        yield Static(id="link-message")
        yield self.status_bar()

    def paint(self, state: StationState, change: str) -> None:
        if state.link == "down":
            words = t("link_down", self.lang, since=_since(state.down_since))
        else:
            words = t("link_connecting", self.lang)
        lost = state.lost_run
        if lost is not None:
            # Which board was on test, never how far it got: that is stale from the first second.
            words += "\n\n" + t("run_state_unknown", self.lang, serial=lost.serial,
                                  product=lost.product)
        self.query_one("#link-message", Static).update(Text(words, style="bold",
                                                            justify="center"))
        self.query_one("#link-message").set_class(state.link == "down", "-alarm")
