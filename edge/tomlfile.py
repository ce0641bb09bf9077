"""Reading and checking the TOML files a shop writes: station.toml, plans, fixtures.

One place for what every such file needs, so each loader only says what its own keys mean:

* :func:`read_toml` / :func:`parse_toml` - bytes -> data, with errors that name the file and line
  (not UTF-8, TOML syntax, unreadable file); a file read from disk is parsed once and then
  taken from :mod:`edge.tomlcache` while its bytes stay the same (``tomllib`` is imported only
  to parse);
* :class:`LineIndex` - the line of a table or key. tomllib reports positions only for syntax
  errors, yet a semantic error ("unknown key 'hardwre'") must still say *where*, so the source
  text is scanned once for headers and ``key =`` lines;
* :class:`Checker` - typed accessors (``string``, ``integer``, ``flag``, ``string_list``, ...)
  that raise the loader's own error class, located at ``file:line: field:``;
* :class:`TomlFileError` - the error all of them raise: ``path:line: field: message``.

Errors derive from :class:`edge.errors.SettingsFileError`: the command line exits 78 on them.
"""

import re
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

from drivers.named_tuple import NamedTuple
from edge import tomlcache
from edge.digest import sha256
from edge.errors import SettingsFileError

Path = tuple[str | int, ...]  # a data path: ("step", 1, "params", "relay")


class TomlFileError(SettingsFileError):
    """A TOML file is wrong at ``path``:``line`` in ``field`` (line 0: no line is known)."""

    def __init__(self, path: str, line: int, field: str, message: str) -> None:
        super().__init__(path, line, field, message)
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:" if self.line else f"{self.path}:"
        field = f" {self.field}:" if self.field else ""
        return f"{where}{field} {self.message}"


# -- values in messages -------------------------------------------------------------------------
_VALUE_WORDS = {bool: "boolean", int: "integer", float: "number", str: "string",
                list: "array", dict: "table"}


def describe_value(value: Any) -> str:
    """How a TOML value reads in an error: "string 'abc'", "integer 5", "table"."""
    kind = _VALUE_WORDS.get(type(value), type(value).__name__)
    if isinstance(value, list | dict):
        return kind
    return f"{kind} {value!r}"


# -- lines of keys ------------------------------------------------------------------------------
# Compiled when a file is scanned (in re's own cache), not at import: a start whose files all
# come from the cache scans nothing.
_HEADER = r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$"
_BARE_OR_QUOTED = r'(?:[A-Za-z0-9_\-]+|"[^"\n]*"|\'[^\'\n]*\')'
_KEY = rf"^\s*({_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=(.*)$"
_INLINE_KEY = rf"[{{,]\s*({_BARE_OR_QUOTED})\s*="


def _split_key(dotted: str) -> tuple[str, ...]:
    parts = re.findall(_BARE_OR_QUOTED, dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


class LineIndex:
    """Maps each data path to the line defining it, resolving arrays of tables by count: the
    2nd ``[[step]]`` header is ``("step", 1)``, a ``[[step.measurement]]`` under it is
    ``("step", 1, "measurement", 0)``, and ``relay = ...`` inside its ``params = { ... }``
    inline table is ``("step", 1, "params", "relay")``.

    Deliberately a line scanner, not a second TOML parser: it only recognises headers and
    ``key =`` at the start of a line. Unusual layouts (keys inside multi-line arrays, nested
    inline tables) degrade gracefully: :meth:`line_of` falls back to the nearest enclosing table
    that it did locate. It also works on text that is *not* valid TOML, which is how a broken
    plan's product is found (:func:`scan_string`).
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[Path, int] = {}
        self.values: dict[Path, str] = {}  # raw text after "key =", for tolerant scans
        self._scan(text)

    # What a scan found is kept in edge.tomlcache's entries (`parts`, `restored`): a change to
    # what _scan records, or how, must raise tomlcache.FORMAT, so no entry made by the old scan
    # is read (tests/edge/test_tomlcache.py pins this code's fingerprint to remind you).
    def parts(self) -> tuple[dict[Path, int], dict[Path, str]]:
        """What the scan found, as plain dicts (what an entry of the cache keeps)."""
        return self._lines, self.values

    @classmethod
    def restored(cls, lines: dict[Path, int], values: dict[Path, str]) -> "LineIndex":
        """The index whose :meth:`parts` were ``lines`` and ``values``, without a scan."""
        index = cls.__new__(cls)
        index._lines = lines
        index.values = values
        return index

    def _scan(self, text: str) -> None:
        header_at = re.compile(_HEADER)
        key_at = re.compile(_KEY)
        inline_key = re.compile(_INLINE_KEY)
        table: Path = ()
        aot_counts: dict[Path, int] = {}  # array-of-tables path -> how many seen so far
        in_multiline: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_multiline is not None:
                if line.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            header = header_at.match(line)
            if header:
                names = _split_key(header.group(2))
                table = self._resolve(names, header.group(1) == "[[", aot_counts)
                self._lines.setdefault(table, number)
                continue
            key = key_at.match(line)
            if not key:
                continue
            path = table + _split_key(key.group(1))
            self._lines.setdefault(path, number)
            rest = key.group(2)
            if path in self.values:  # the same key twice: the text does not say which one
                self.values[path] = ""
            else:
                self.values[path] = rest
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_multiline = quote
            if rest.lstrip().startswith("{"):
                for inner in inline_key.finditer(rest):
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


# (Compiled on first use, in re's own cache: only a broken plan is read this way.)
_SIMPLE_STRING = r"""^\s*(?:"([^"\\\n]*)"|'([^'\n]*)')\s*(?:#.*)?$"""


def scan_string(lines: LineIndex, path: Path) -> str | None:
    """The value of ``key = "text"`` at ``path`` read from the text alone (no TOML parse), or
    None unless it is one plain string on one line, given once."""
    found = re.match(_SIMPLE_STRING, lines.values.get(path, ""))
    if not found:
        return None
    value = found.group(1) if found.group(1) is not None else found.group(2)
    return value.strip() or None


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


# -- parsing ------------------------------------------------------------------------------------
_TOML_POSITION = r"\s*\(at line (\d+), column (\d+)\)$"  # (errors only: compiled on first use)


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class TomlSource(NamedTuple):
    """A parsed TOML file with what is needed to report errors against it."""

    path: str
    data: dict[str, Any]
    lines: LineIndex
    sha256: str
    error_class: type[TomlFileError] = TomlFileError

    def error(self, at: Path, message: str) -> TomlFileError:
        return self.error_class(self.path, self.lines.line_of(at), field_name(at), message)


def parse_toml(source: bytes | str, path: str,
               error: type[TomlFileError] = TomlFileError, *, cached: bool = False) -> TomlSource:
    """Parse ``source``; a file that is not UTF-8 or not TOML raises ``error`` with its line.

    ``cached``: ``source`` is the file at ``path`` as just read; what a parse of exactly these
    bytes made is taken from :mod:`edge.tomlcache` when it has it (the digest is always that of
    ``source``), and kept there when the file had to be parsed."""
    raw = source.encode() if isinstance(source, str) else source
    digest = sha256(raw).hexdigest()
    if cached:
        parts = tomlcache.recall(path, len(raw), digest)
        if _well_formed(parts):
            data, lines, values = parts  # type: ignore[misc]
            return TomlSource(path, data, LineIndex.restored(lines, values), digest, error)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(path, line, "", "not UTF-8 text (TOML files must be UTF-8; save the file "
                    "as UTF-8)") from None
    import tomllib  # (here: a start whose files all come from the cache never needs it)

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(_TOML_POSITION, message)
        if found:
            line = int(found.group(1))
            message = f"{message[: found.start()]} (column {found.group(2)})"
        else:  # "(at end of document)"
            line = max(1, len(text.splitlines()))
        raise error(path, line, "", f"TOML syntax error: {message}") from None
    index = LineIndex(text)
    if cached:  # (never reached by a file that does not parse: every start must say why)
        tomlcache.keep(path, len(raw), digest, (data, *index.parts()))
    return TomlSource(path, data, index, digest, error)


def _well_formed(parts: object) -> bool:
    """Whether a cache entry's payload has the shape :func:`parse_toml` keeps (a payload that
    passed the entry's checksum always has: this only guards against another writer)."""
    return (type(parts) is tuple and len(parts) == 3
            and all(type(part) is dict for part in parts))


def read_bytes(path: str | FsPath, error: type[TomlFileError] = TomlFileError) -> bytes:
    """The file's bytes; a missing or unreadable file is ``error`` with the OS's reason."""
    try:
        return FsPath(path).read_bytes()
    except FileNotFoundError:
        raise error(str(path), 0, "", "file not found") from None
    except IsADirectoryError:
        raise error(str(path), 0, "", "is a directory, not a file") from None
    except OSError as exc:
        raise error(str(path), 0, "", f"cannot be read: {exc.strerror or exc}") from None


def read_toml(path: str | FsPath, error: type[TomlFileError] = TomlFileError) -> TomlSource:
    """The file at ``path``, read now and parsed (or taken from the cache: :func:`parse_toml`)."""
    return parse_toml(read_bytes(path, error), str(path), error, cached=True)


# -- typed accessors ----------------------------------------------------------------------------
class Checker:
    """Typed reads of ``src.data`` that raise ``src``'s error class, located at the key.

    Subclasses (one per file format) add the meaning: which keys exist, which values go
    together. Every accessor takes the data path ``at`` of the table it reads from.
    """

    def __init__(self, src: TomlSource) -> None:
        self.src = src

    def fail(self, at: Path, message: str) -> TomlFileError:
        return self.src.error(at, message)

    def line(self, at: Path) -> int:
        return self.src.lines.line_of(at)

    def only(self, table: Mapping[str, Any], at: Path, allowed: set[str] | frozenset[str],
             what: str = "key") -> None:
        for key in table:
            if key not in allowed:
                raise self.fail((*at, key), f"unknown {what} '{key}' (expected one of: "
                                f"{', '.join(sorted(allowed))})")

    def table(self, parent: Mapping[str, Any], at: Path, key: str,
              required: bool = False) -> dict[str, Any]:
        if key not in parent:
            if required:
                raise self.fail((*at, key), f"missing the [{field_name((*at, key))}] table")
            return {}
        value = parent[key]
        if not isinstance(value, dict):
            raise self.fail((*at, key), f"expected a table ([{field_name((*at, key))}]), "
                            f"got {describe_value(value)}")
        return value

    def string(self, table: Mapping[str, Any], at: Path, key: str, default: str | None = None,
               example: str = "", choices: tuple[str, ...] = (),
               allow_empty: bool = False) -> str:
        if key not in table:
            if default is not None:
                return default
            hint = f" (e.g. {key} = {example})" if example else ""
            raise self.fail((*at, key), f"missing required key '{key}'{hint}")
        value = table[key]
        if not isinstance(value, str) or not (allow_empty or value.strip()):
            hint = f", e.g. {key} = {example}" if example else ""
            kind = "a string" if allow_empty else "a non-empty string"
            raise self.fail((*at, key), f"expected {kind}{hint}, got {describe_value(value)}")
        if choices and value not in choices:
            raise self.fail((*at, key), f"expected one of {', '.join(map(repr, choices))}, "
                            f"got {value!r}")
        return value

    def number(self, table: Mapping[str, Any], at: Path, key: str) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail((*at, key), f"expected a number, got {describe_value(value)}")
        return float(value)

    def integer(self, table: Mapping[str, Any], at: Path, key: str, example: str,
                default: int | None = None, minimum: int | None = None,
                maximum: int | None = None) -> int:
        if key not in table:
            if default is not None:
                return default
            raise self.fail((*at, key), f"missing required key '{key}' (e.g. {key} = {example})")
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail((*at, key), f"expected an integer (e.g. {key} = {example}), "
                            f"got {describe_value(value)}")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            low = "" if minimum is None else f"{minimum}"
            high = "" if maximum is None else f"{maximum}"
            bounds = f"from {low} to {high}" if low and high else (
                f"at least {low}" if low else f"at most {high}")
            raise self.fail((*at, key), f"expected an integer {bounds}, got {value}")
        return value

    def flag(self, table: Mapping[str, Any], at: Path, key: str, default: bool = False) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail((*at, key), f"expected true or false, got {describe_value(value)}")
        return value

    def string_list(self, table: Mapping[str, Any], at: Path, key: str,
                    example: str) -> list[str]:
        """An array of non-empty strings. A bare string is refused rather than read letter by
        letter (``plans_dirs = "plans"`` would otherwise be five directories)."""
        value = table.get(key, [])
        if not isinstance(value, list) or not all(
                isinstance(v, str) and v.strip() for v in value):
            raise self.fail((*at, key), f"expected an array of non-empty strings, e.g. "
                            f"{key} = {example}, got {describe_value(value)}")
        return value

    def array_of_tables(self, parent: Mapping[str, Any], at: Path, key: str) -> list[dict]:
        value = parent.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail((*at, key), f"expected [[{key}]] tables")
        return value
