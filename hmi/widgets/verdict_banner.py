"""The verdict, as large as the screen allows: the word in the operator's language, the other
language under it, a ✔/✘ mark (never colour alone), and the colour of the outcome."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from hmi.i18n import t
from hmi.widgets.big_text import render

MARK = {"PASS": "✔", "PASS-MARGINAL": "✔", "FAIL": "✘", "ERROR": "⚠", "ABORTED": "■"}
CLASSES = {"PASS": "-pass", "PASS-MARGINAL": "-marginal", "FAIL": "-fail", "ERROR": "-error",
           "ABORTED": "-aborted"}


class VerdictBanner(Static):
    _shown: tuple[str, str] | None = None

    def show(self, outcome: str, lang: str) -> None:
        self._shown = (outcome, lang)
        other = "en" if lang == "fr" else "fr"
        word = t(outcome, lang)
        head = word.partition(" (")[0]
        width = (self.size.width or self.app.size.width) - 2
        big = render(head, width)
        text = Text(justify="center")
        if big is not None:
            text.append(big + "\n", style="bold")
            text.append(f"{MARK.get(outcome, '')} {word}", style="bold")
        else:
            text.append(f"{MARK.get(outcome, '')}  {word}", style="bold")
        text.append(f"  /  {t(outcome, other)}")

        shown = CLASSES.get(outcome, "-error")
        for cls in CLASSES.values():
            self.set_class(cls == shown, cls)  # only a class that changes restyles the banner
        # Its size comes from the stylesheet (1fr between a min and a max), never from the
        # words: no layout pass (the banner repaints itself on resize, which would otherwise
        # cost a second layout every time the verdict is shown).
        self.update(text, layout=False)

    def on_resize(self) -> None:
        if self._shown is not None:
            self.show(*self._shown)
