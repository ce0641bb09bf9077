"""A button for a finger: tall, never focusable, so a tap never steals focus from the scan
path and a scanner's Enter can never press it (the two scanner traps of a touch kiosk)."""

from __future__ import annotations

from textual.widgets import Button


class BigButton(Button):
    FOCUS_ON_CLICK = False

    def __init__(self, label: str, *, id: str | None = None, classes: str = "",
                 variant: str = "default") -> None:
        super().__init__(label, id=id, classes=f"big {classes}".strip(), variant=variant)
        self.can_focus = False
