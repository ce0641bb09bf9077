"""The verdict, as large as the screen allows: the word in the operator's language, the other
language under it, a ✔/✘ mark (never colour alone), and the colour of the outcome."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from hmi.i18n import t

MARK = {"PASS": "✔", "PASS-MARGINAL": "✔", "FAIL": "✘", "ERROR": "⚠", "ABORTED": "■"}
CLASSES = {"PASS": "-pass", "PASS-MARGINAL": "-marginal", "FAIL": "-fail", "ERROR": "-error",
           "ABORTED": "-aborted"}


class VerdictBanner(Static):
    def show(self, outcome: str, lang: str) -> None:
        other = "en" if lang == "fr" else "fr"
        text = Text(justify="center")
        text.append(f"{MARK.get(outcome, '')}  {t(outcome, lang)}\n", style="bold")
        text.append(t(outcome, other))
        for cls in CLASSES.values():
            self.set_class(False, cls)
        self.set_class(True, CLASSES.get(outcome, "-error"))
        self.update(text)
