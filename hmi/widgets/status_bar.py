"""The always-visible status line: station link, fixture, scanner, inventory delivery, station
id, clock and disk warnings. Alarming segments get the ``-alarm`` class (colour *and* capitals,
never colour alone)."""

from __future__ import annotations

import time

from rich.text import Text
from textual.visual import visualize
from textual.widgets import Static

from hmi.i18n import t
from hmi.state import StationState


def _since(epoch: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) if epoch else "?"


def segments(state: StationState, lang: str) -> list[tuple[str, bool]]:
    """(text, alarm) pairs, left to right. Pure, so tests check the words directly."""
    out: list[tuple[str, bool]] = []
    if state.link == "down":
        out.append((t("link_down", lang, since=_since(state.down_since)), True))
    elif state.link == "connecting":
        out.append((t("link_connecting", lang), True))
    else:
        out.append((t("link_ok", lang), False))
        h = state.health
        if h.fixture == "missing":
            out.append((t("fixture_missing", lang), True))
        elif h.fixture == "ok":
            out.append((t("fixture_ok", lang), False))
        if h.scanner == "missing":
            out.append((t("scanner_missing", lang), True))
        elif h.scanner == "ok":
            out.append((t("scanner_ok", lang), False))
        s = state.sync
        if s.state == "delivered":
            out.append((t("sync_delivered", lang), False))
        elif s.state == "waiting":
            out.append((t("sync_waiting", lang, n=s.waiting), False))
        elif s.state == "unreachable":
            out.append((t("sync_unreachable", lang, since=(s.since or "?")[11:16] or "?"), True))
        elif s.state == "login":
            out.append((t("sync_login", lang), True))
        else:
            out.append((t("sync_off", lang), False))
        if h.clock_synced is False:
            out.append((t("clock_unsynced", lang), True))
        if h.disk_low:
            out.append((t("disk_low", lang), True))
    if state.station_id:
        out.append((state.station_id, False))
    return out


class StatusBar(Static):
    """Rendered from the app's state; the app calls :meth:`show` whenever it changes."""

    def show(self, state: StationState, lang: str) -> None:
        text = Text()
        alarm_any = False
        for i, (words, alarm) in enumerate(segments(state, lang)):
            if i:
                text.append("  │  ", style="dim")
            text.append(words, style="bold reverse" if alarm else "")
            alarm_any = alarm_any or alarm
        self.set_class(alarm_any, "-alarm")
        # A layout pass only when the line needs another height (it wraps to two lines on a
        # narrow screen): the delivery count changes after every board, and a layout pass
        # costs a repaint of the whole screen.
        width = self.content_size.width
        old, new = self.visual, visualize(self, text)
        self.update(text, layout=not width or (old.get_height(self.styles, width)
                                               != new.get_height(self.styles, width)))
