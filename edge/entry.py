"""The ``pibench`` console script: the collector held back (``edge.startup_gc``) before
``edge.cli`` and everything it imports are loaded, then the command line."""

from __future__ import annotations

from edge import startup_gc


def console_main() -> None:
    startup_gc.hold()
    from edge.cli import console_main as run_command_line

    run_command_line()
