"""The product for the next board: one big button per plan, the chosen one highlighted. A
product the station has plans for several revisions of gets one button per revision: which
board is on the bench is the operator's to say. When the scanned serial says which product it
is, the station picks it and this only shows it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message

from hmi.state import ProductView, plan_choices
from hmi.widgets.big_button import BigButton


def button_id(product: str, revision: str = "") -> str:
    """A widget id for a plan's button (ids allow letters, digits, '-' and '_'): the product's
    name, and its revision when the station has several of that product."""
    name = f"{product}-rev-{revision}" if revision else product
    return "product-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


class ProductPicker(Horizontal):
    @dataclass
    class Chosen(Message):
        product: str
        revision: str = ""  # "" when the station has one plan of the product

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._plans: list[tuple[str, str]] = []  # (product, revision or "") per button

    def compose(self) -> ComposeResult:
        return iter(())

    def show(self, products: list[ProductView], chosen: str, revision: str = "") -> None:
        plans = plan_choices(products)
        if plans != self._plans:
            self._plans = plans
            self.remove_children()
            self.mount_all(BigButton(f"{p.name} {p.revision}", id=button_id(*plan),
                                     classes="product")
                           for p, plan in zip(products, plans, strict=True))
        for name, rev in plans:
            for button in self.query(f"#{button_id(name, rev)}"):
                button.set_class(name == chosen and rev in ("", revision), "-chosen")

    def on_button_pressed(self, event: BigButton.Pressed) -> None:
        event.stop()
        for name, rev in self._plans:
            if event.button.id == button_id(name, rev):
                self.post_message(self.Chosen(name, rev))
