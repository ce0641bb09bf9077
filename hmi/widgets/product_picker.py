"""The product for the next board: one big button per product, the chosen one highlighted. When
the scanned serial says which product it is, the station picks it and this only shows it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message

from hmi.state import ProductView
from hmi.widgets.big_button import BigButton


def button_id(product: str) -> str:
    """A widget id for a product's button (ids allow letters, digits, '-' and '_')."""
    return "product-" + re.sub(r"[^A-Za-z0-9_-]", "_", product)


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
            self.mount_all(BigButton(f"{p.name} {p.revision}", id=button_id(p.name),
                                     classes="product")
                           for p in products)
        for name in names:
            for button in self.query(f"#{button_id(name)}"):
                button.set_class(name == chosen, "-chosen")

    def on_button_pressed(self, event: BigButton.Pressed) -> None:
        event.stop()
        for name in self._names:
            if event.button.id == button_id(name):
                self.post_message(self.Chosen(name))
