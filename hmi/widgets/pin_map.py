"""The I/O board's expander pins (GPA0-7 over GPB0-7), the failing outputs and inputs marked,
from the pin names the failing measurements carry ("LED3 (GPA2) stuck low"). Plain Rich: no
plotting library needed, so the verdict screen can show it without loading one."""

from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text

from hmi.state import RunView

_PIN = re.compile(r"\b(GP[AB])([0-7])\b")


def failing_pins(run: RunView) -> set[str]:
    """The expander pins named in the failing measurements and steps ("LED3 (GPA2) stuck low")."""
    pins: set[str] = set()
    for step, m in run.failing():
        texts = [step.error or ""]
        if m is not None:
            texts += [str(m.value), m.name]
        for text in texts:
            pins.update(f"{port}{bit}" for port, bit in _PIN.findall(text))
    return pins


def pin_map(run: RunView, title: str) -> Table:
    """GPA0..7 over GPB0..7, a failing pin in reverse red with ✘, the others a dim dot."""
    bad = failing_pins(run)
    grid = Table(title=title, show_header=True, box=None, padding=(0, 1))
    grid.add_column("")
    for bit in range(8):
        grid.add_column(str(bit), justify="center")
    for port in ("GPA", "GPB"):
        cells = []
        for bit in range(8):
            name = f"{port}{bit}"
            cells.append(Text(" ✘ ", style="bold reverse red") if name in bad
                         else Text(" · ", style="dim"))
        grid.add_row(port, *cells)
    return grid
