"""Abort asks first: two large answers, the safe one on the left. The run goes on meanwhile,
and the dialog closes by itself if the run ends before anyone answers."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from hmi.i18n import t
from hmi.widgets.big_button import BigButton


class ConfirmAbort(ModalScreen[bool]):
    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(t("abort_question", self.lang), id="question")
            with Horizontal(id="answers"):
                yield BigButton(t("abort_no", self.lang), id="no", variant="primary")
                yield BigButton(t("abort_yes", self.lang), id="yes", variant="error")

    def on_button_pressed(self, event: BigButton.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")
