"""Find the line of a TOML table or key, because tomllib reports positions only for syntax errors.

Semantic errors ("unknown param 'relya'") must still say *where*. :class:`LineIndex` scans the
source once and maps each data path to the line defining it, resolving arrays of tables by count:
the 2nd ``[[step]]`` header is path ``("step", 1)``, a ``[[step.measurement]]`` under it is
``("step", 1, "measurement", 0)``, and ``relay = ...`` inside its ``params = { ... }`` inline table
is ``("step", 1, "params", "relay")``.

It is deliberately a line scanner, not a second TOML parser: the file already parsed with tomllib,
so it only needs to recognise headers and ``key =`` at the start of a line. Unusual layouts (keys
inside multi-line arrays, nested inline tables) degrade gracefully: :meth:`line_of` falls back to
the nearest enclosing table that it did locate.
"""

from __future__ import annotations

import re

Path = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
_BARE_OR_QUOTED = r'(?:[A-Za-z0-9_\-]+|"[^"\n]*"|\'[^\'\n]*\')'
_KEY = re.compile(rf"^\s*({_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=(.*)$")
_INLINE_KEY = re.compile(rf"[{{,]\s*({_BARE_OR_QUOTED})\s*=")


def _split_key(dotted: str) -> tuple[str, ...]:
    parts = re.findall(_BARE_OR_QUOTED, dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


class LineIndex:
    def __init__(self, text: str) -> None:
        self._lines: dict[Path, int] = {}
        self._scan(text)

    def _scan(self, text: str) -> None:
        table: Path = ()
        aot_counts: dict[Path, int] = {}  # array-of-tables path -> how many seen so far
        in_multiline: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_multiline is not None:
                if line.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            header = _HEADER.match(line)
            if header:
                names = _split_key(header.group(2))
                table = self._resolve(names, header.group(1) == "[[", aot_counts)
                self._lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if not key:
                continue
            path = table + _split_key(key.group(1))
            self._lines.setdefault(path, number)
            rest = key.group(2)
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_multiline = quote
            if rest.lstrip().startswith("{"):
                for inner in _INLINE_KEY.finditer(rest):
                    self._lines.setdefault(path + _split_key(inner.group(1)), number)

    @staticmethod
    def _resolve(names: tuple[str, ...], is_array: bool, aot_counts: dict[Path, int]) -> Path:
        """Turn header names into a data path, indexing arrays of tables by occurrence."""
        path: Path = ()
        for position, name in enumerate(names):
            path += (name,)
            if is_array and position == len(names) - 1:
                count = aot_counts.get(path, 0)
                aot_counts[path] = count + 1
                path += (count,)
            elif path in aot_counts:  # [step.params] belongs to the latest [[step]]
                path += (aot_counts[path] - 1,)
        return path

    def line_of(self, path: Path) -> int:
        """Line defining ``path``, else of its nearest located parent; 1 if nothing matched."""
        while path:
            line = self._lines.get(path)
            if line is not None:
                return line
            path = path[:-1]
        return 1


def field_name(path: Path) -> str:
    """Human form of a data path for messages: ("step", 1, "params", "relay") ->
    "step[2].params.relay". Array positions are 1-based, counting headers as a reader does."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + part
    return out
