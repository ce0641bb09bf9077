"""Run ids: random (version 4) UUIDs, spelled canonically (lower-case hex, 8-4-4-4-12).

Made and checked without the ``uuid`` module: on Python 3.11 importing it imports ``platform``
and probes the system (~2 ms at every ``pibench run`` here, several on a Pi) for a command that
only needs 16 random bytes. ``new_run_id()`` is what ``str(uuid.uuid4())`` returns (the same
random source and the same version and variant bits);
``tests/edge/test_startup_stdlib_stand_ins.py`` checks both functions against ``uuid``.
"""

from __future__ import annotations

import os

_HEX_DIGITS = frozenset("0123456789abcdef")
_DASHES_AT = (8, 13, 18, 23)


def new_run_id() -> str:
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4: random
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_canonical(run_id: object) -> bool:
    """Whether ``run_id`` is a UUID in the one spelling ``str(uuid.UUID(...))`` gives."""
    # [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}, without compiling that regex
    # at every `pibench run` (issue 14).
    return (isinstance(run_id, str) and len(run_id) == 36
            and all(run_id[i] == "-" for i in _DASHES_AT)
            and _HEX_DIGITS.issuperset(run_id.replace("-", "", 4)))
