"""SHA-256 for the digests a command makes at start (each plan file's, recorded with a run; a
product's id): the interpreter's built-in implementation when it has one. ``hashlib`` would load
OpenSSL's ``_hashlib`` for it, ~2 ms at every command here, for a few KiB hashed. The same
digest either way (``tests/edge/test_startup_stdlib_stand_ins.py`` checks it against hashlib's)."""

from __future__ import annotations

try:
    from _sha256 import sha256  # Python 3.11
except ImportError:  # pragma: no cover - 3.12 renamed it; an interpreter built without it
    try:
        from _sha2 import sha256  # type: ignore[no-redef]
    except ImportError:
        from hashlib import sha256  # type: ignore[no-redef]

__all__ = ["sha256"]
