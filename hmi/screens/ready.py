"""Ready for a board: station, product, the scanned serial (or why it was refused, in large
text), and one large START. With start-on-scan configured, START is replaced by a line saying
that the next valid scan starts the test."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from hmi.i18n import t
from hmi.screens.base import StationScreen
from hmi.state import StationState
from hmi.widgets.big_button import BigButton
from hmi.widgets.big_text import render
from hmi.widgets.product_picker import ProductPicker
from hmi.widgets.scan_field import ScanField


class ReadyScreen(StationScreen):
    def compose(self) -> ComposeResult:
        with Horizontal(id="title-row"):
            yield Static(id="station-name", classes="title")
            yield BigButton("", id="today", classes="side")
        yield ProductPicker(id="products")
        yield ScanField(id="scan-field")
        yield Static(id="refusal")
        with Vertical(id="start-area"):
            yield BigButton("", id="start", variant="success")
            yield Static(id="start-hint")
        yield self.status_bar()

    def paint(self, state: StationState, change: str) -> None:
        lang = self.lang
        self.query_one("#station-name", Static).update(
            Text.assemble((f"{t('station', lang)} ", "dim"), (state.station_id or "…", "bold"),
                          ("   " + t("product", lang) + " : ", "dim"),
                          (state.product or "?", "bold"),
                          (f" rev {state.revision}" if state.revision else "", "bold")))
        self.query_one("#today", BigButton).label = t("today", lang)
        picker = self.query_one(ProductPicker)
        picker.show(state.products, state.product, state.revision)
        picker.display = len(state.products) > 1
        hmi = self.hmi
        self.query_one(ScanField).show(hmi.typing, state.scan, lang, sent=hmi.scan_sent,
                                       slow="scan" in hmi.slow)
        refusal = self.query_one("#refusal", Static)
        scan = state.scan
        if scan is not None and not scan.ok:
            heading = t("scan_not_started" if scan.start_refused else "scan_refused", lang)
            refusal.update(Text.assemble((heading + "\n", "bold"),
                                         (scan.reason_text(lang) + "\n", "bold"),
                                         t("nothing_powered", lang)))
            refusal.display = True
        elif self.hmi.command_error:
            refusal.update(Text(self.hmi.command_error, style="bold"))
            refusal.display = True
        else:
            refusal.display = False
        start = self.query_one("#start", BigButton)
        word = t("starting", lang) if state.starting else t("start", lang)
        big = render(word, start.size.width - 4) if start.size.height >= 5 else None
        start.label = big or word
        start.disabled = not state.can_start() or not hmi.start_allowed()
        start.display = not state.start_on_scan
        hint = self.query_one("#start-hint", Static)
        if "start" in hmi.slow:
            hint.update(Text(t("start_slow", lang), style="bold reverse"))
        elif state.start_on_scan:
            hint.update(t("start_on_scan", lang))
        elif not state.product:
            hint.update(t("choose_product", lang))
        elif state.needs_revision() and not state.revision:
            hint.update(t("choose_revision", lang, product=state.product))
        elif state.scan is not None and state.scan.ok:
            hint.update(t("press_start", lang))
        else:
            hint.update(t("scan_here", lang))

    def on_resize(self) -> None:
        self.call_after_refresh(self.show, self.hmi.state, "all")  # START's label fits its size

    def on_button_pressed(self, event: BigButton.Pressed) -> None:
        event.stop()
        if event.button.id == "start":
            event.button.disabled = True  # at once: a second tap must find it dead
            self.hmi.start_run()
        elif event.button.id == "today":
            self.hmi.open_today()

    def on_product_picker_chosen(self, event: ProductPicker.Chosen) -> None:
        self.hmi.choose_product(event.product, event.revision)
