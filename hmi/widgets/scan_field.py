"""Where the scanned serial shows. Not an Input: the scan path is the app's key handler, which
works whatever has focus (nothing on these screens can take focus), so the field only displays
what is being typed and what was accepted or refused."""

from __future__ import annotations

from rich.text import Text
from textual.visual import VisualType
from textual.widgets import Static

from hmi.i18n import t
from hmi.state import ScanView


class ScanField(Static):
    def update(self, content: VisualType = "", *, layout: bool = False) -> None:
        """Its size comes from the stylesheet (3 rows, the width of its row), never from the
        words: a keystroke or a verdict repaints the field alone, without a layout pass of
        the whole screen (a scanner types a dozen characters in a few milliseconds)."""
        super().update(content, layout=layout)

    def show(self, typing: str, scan: ScanView | None, lang: str, *, sent: str = "",
             slow: bool = False) -> None:
        """``sent``: a scan the station has not answered yet (``slow``: for a while)."""
        text = Text()
        if sent and not typing:
            text.append(sent, style="bold")
            text.append("   " + t("scan_slow" if slow else "scan_sending", lang),
                        style="bold reverse" if slow else "dim")
            self.set_class(False, "-ok", "-refused")
        elif typing:
            text.append(typing, style="bold")
            text.append("▏", style="blink")
            self.set_class(False, "-ok", "-refused")
        elif scan is not None and scan.ok:
            text.append(scan.serial, style="bold")
            self.set_class(True, "-ok")
            self.set_class(False, "-refused")
        elif scan is not None:
            text.append(scan.raw or "∅", style="strike")
            self.set_class(True, "-refused")
            self.set_class(False, "-ok")
        else:
            text.append(t("scan_here", lang) + " …", style="dim")
            self.set_class(False, "-ok", "-refused")
        self.update(text)
