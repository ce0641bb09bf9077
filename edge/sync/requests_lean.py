"""``requests``, imported without its character-set guesser.

At import, requests loads charset_normalizer (or chardet) for one thing: guessing the encoding of
a response body that declares none (``Response.apparent_encoding``, which ``Response.text`` falls
back on). In the station that costs 3.3 MiB of its 40 MiB budget (the library's compiled modules
and the Unicode tables its import walks; bench/bench_station_rss.py), and the guess is never
needed: InvenTree answers JSON, which requests decodes as UTF-8 without guessing (RFC 8259), and
its other pages declare their charset. Without a guesser, requests decodes such a body as UTF-8
(replacing what does not decode), its documented fallback.

So while requests is imported, ``None`` stands in ``sys.modules`` for the guessers (Python then
raises ImportError for them, which requests handles), and its warning that none was found is
silenced. Afterwards the entries are removed again, so anything else in the process may still
import them. Importing requests before this module (tests may) just leaves requests as it is.
"""

from __future__ import annotations

import sys
import warnings
from types import ModuleType

_GUESSERS = ("charset_normalizer", "chardet")


def _import_requests() -> ModuleType:
    if "requests" in sys.modules:
        import requests

        return requests
    stand_ins = [name for name in _GUESSERS if name not in sys.modules]
    for name in stand_ins:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Unable to find acceptable character detection dependency")
            import requests
    finally:
        for name in stand_ins:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return requests


requests = _import_requests()

__all__ = ["requests"]
