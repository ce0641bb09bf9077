"""What every operator screen shares: the status line at the bottom, and a ``show`` the app
calls with the state and what changed. Screens never fetch anything themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.css.query import NoMatches
from textual.screen import UPDATE_PERIOD, Screen

from hmi.frame_timer import FrameTimer
from hmi.state import StationState
from hmi.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from hmi.app import PibenchHMI


# What the status line shows changes only with these (not with every step of a run).
STATUS_CHANGES = {"all", "health", "sync", "link", "screen", "command"}


class StationScreen(Screen):
    _frame_timer: FrameTimer | None = None

    @property
    def _update_timer(self) -> FrameTimer:
        """Textual's repaint timer (``Screen._update_timer``, textual 8.2.8), built the way its
        ``set_interval`` builds it, but skipping missed frames exactly (hmi/frame_timer.py)."""
        if self._frame_timer is None:
            timer = FrameTimer(self, UPDATE_PERIOD, name="screen_update",
                               callback=self._on_timer_update, pause=True)
            timer._start()
            self._timers.add(timer)
            self._frame_timer = timer
        return self._frame_timer

    @property
    def hmi(self) -> PibenchHMI:
        return self.app  # type: ignore[return-value]

    @property
    def lang(self) -> str:
        return self.hmi.lang

    def status_bar(self) -> StatusBar:
        return StatusBar(id="status")

    def on_screen_resume(self) -> None:
        self.show(self.hmi.state, "all")
        if self.hmi.on_render is not None:
            self.call_after_refresh(self.hmi.on_render, "screen", None)
            self.call_after_refresh(self.hmi.stamp_rendered)

    def show(self, state: StationState, change: str) -> None:
        """Repaint what ``change`` touched. A screen switched to but not composed yet is
        skipped: its on_screen_resume paints it whole a moment later."""
        try:
            if change in STATUS_CHANGES:
                for bar in self.query(StatusBar):
                    bar.show(state, self.lang)
            self.paint(state, change)
        except NoMatches:
            return

    def paint(self, state: StationState, change: str) -> None:
        """The screen's own widgets (the status line is done)."""
