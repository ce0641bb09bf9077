"""The cyclic garbage collector held back while a command starts, and given back once it serves.

Starting ``pibench run`` or the station imports about 200 modules and reads the products: tens of
thousands of new objects (classes, functions, constants, parsed plans), next to none of them
garbage. With CPython's default thresholds (a generation-0 collection every 700 net allocations)
the collector walked them about 35 times during one ``pibench run``: 4-5 ms of its ~70 ms here,
measured with ``gc.callbacks`` and side by side (bench/README.md, start-up). Reference counting
frees everything that is not a cycle whatever the collector does, so :func:`hold` only makes
generation 0 large for the start; the collector stays enabled.

:func:`release` puts the interpreter's thresholds back. The station calls it once it serves (its
API up, before its first prompt): from there it is a long-lived process, and its run thread
collects fully before each run anyway (``edge/service/core.py``). A ``pibench run`` keeps the
large generation for its short life: one board, then exit. Tests and library users, who never go
through the console script, are never held.
"""

from __future__ import annotations

import gc

# Generation 0's threshold while starting: above what a command's start allocates, so the start
# runs without a collection; still finite, so a command that never releases keeps collecting.
START_THRESHOLD = 50_000

_held: tuple[int, int, int] | None = None  # the thresholds to give back


def hold() -> None:
    """Raise generation 0's threshold for the start (the console script's first act)."""
    global _held
    if _held is None:
        _held = gc.get_threshold()
        gc.set_threshold(START_THRESHOLD, _held[1], _held[2])


def release() -> None:
    """The thresholds from before :func:`hold`; nothing if nothing is held."""
    global _held
    if _held is not None:
        gc.set_threshold(*_held)
        _held = None
