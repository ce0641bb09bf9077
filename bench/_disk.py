"""Where the benches that measure the disk put their files: ``PIBENCH_BENCH_DIR`` if set (the
station's data disk), else ``var/`` of the checkout, on its disk (not /tmp, which may be a RAM
filesystem where fsync costs nothing)."""

from __future__ import annotations

import os
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench_root(prefix: str) -> str:
    """A new temporary directory on the measured disk; the caller removes it."""
    base = os.environ.get("PIBENCH_BENCH_DIR") or os.path.join(ROOT, "var")
    os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=base)
