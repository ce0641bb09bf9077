"""The product for the next board: one big button per product, the chosen one highlighted. When
the scanned serial says which product it is, the station picks it and this only shows it."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message

from hmi.state import ProductView
from hmi.widgets.big_button import BigButton


class ProductPicker(Horizontal):
    @dataclass
    class Chosen(Message):
        product: str

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._names: list[str] = []

    def compose(self) -> ComposeResult:
        return iter(())

    def show(self, products: list[ProductView], chosen: str) -> None:
        names = [p.name for p in products]
        if names != self._names:
            self._names = names
            self.remove_children()
            self.mount_all(BigButton(f"{p.name} {p.revision}", id=f"product-{i}",
                                     classes="product")
                           for i, p in enumerate(products))
        for i, name in enumerate(names):
            for button in self.query(f"#product-{i}"):
                button.set_class(name == chosen, "-chosen")

    def on_button_pressed(self, event: BigButton.Pressed) -> None:
        event.stop()
        index = int((event.button.id or "product-0").rpartition("-")[2])
        if 0 <= index < len(self._names):
            self.post_message(self.Chosen(self._names[index]))
