"""The I/O board's expander pins (GPA0-7 over GPB0-7), the failing outputs and inputs marked,
from the walks' ``failed_pins`` measurement: a mask of the DUT expander's pins (bit n = pin n,
GPA0 = bit 0 ... GPB7 = bit 15), data rather than the words of the diagnosis. Plain Rich: no
plotting library needed, so the verdict screen can show it without loading one."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from hmi.state import RunView

FAILED_PINS = "failed_pins"  # the measurement the I/O board's walk steps record
PIN_NAMES = tuple(f"GP{port}{bit}" for port in "AB" for bit in range(8))  # bit n -> name


def failing_pins(run: RunView) -> set[str]:
    """The expander pins the walk steps recorded as failed (none for a run without them)."""
    pins: set[str] = set()
    for step in run.steps:
        for m in step.measurements:
            if m.name == FAILED_PINS and isinstance(m.value, int) \
                    and not isinstance(m.value, bool):
                pins.update(name for n, name in enumerate(PIN_NAMES) if m.value >> n & 1)
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
