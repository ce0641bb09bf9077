"""How record values are represented in SQLite columns and in JSON, exactly and reversibly.

Measured values are ``float | int | bool | str | None``. SQLite alone cannot keep them apart or
exact: it turns NaN into NULL, stores a bool as an integer, rounds integers above 2**53 when put
in a REAL column and rejects integers above 2**63. So every value is stored three ways:

* ``value_type``: ``none | bool | int | float | str``, the original Python type;
* ``value_text``: an exact text form (``repr`` of a float, decimal digits of an int,
  ``true``/``false``, the string itself) from which the value is rebuilt bit for bit;
* ``value`` (REAL): the number, for queries and spreadsheets (NULL for strings and NaN).

Timestamps stay the ISO-8601 strings the engine wrote (they round-trip untouched); the store adds
a UTC epoch number beside them because ISO strings with different offsets or precisions do not
sort correctly as text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from edge.records import MeasuredValue

VALUE_TYPES = ("none", "bool", "int", "float", "str")


def storable_text(text: str) -> str:
    """``text`` as something SQLite and UTF-8 JSON can hold.

    A string decoded with ``surrogateescape`` (bytes from a serial port, say) holds lone
    surrogates that cannot be encoded as UTF-8; binding it would make the whole step fail to save.
    Such characters become visible ``\\udcXX`` escapes instead: information kept, step saved.
    """
    if text.isascii():  # nearly every name and unit; a flag CPython keeps, so no encoding pass
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _finite_or_none(x: float) -> float | None:
    return None if math.isnan(x) else x


def encode_value(value: Any) -> tuple[str, str | None, float | None]:
    """A measured value as ``(value_type, value_text, value_real)``; see the module docstring.

    Anything outside :data:`MeasuredValue` (a driver returning an unexpected type) is kept as its
    ``repr`` with type ``str`` rather than refused: a station must never drop a measurement
    because of its Python type.
    """
    if value is None:
        return "none", None, None
    if isinstance(value, bool):  # before int: bool is a subclass of int
        return "bool", "true" if value else "false", float(value)
    if isinstance(value, str):
        return "str", storable_text(str.__str__(value)), None
    kind = type(value)
    if kind is float:
        return "float", repr(value), _finite_or_none(value)
    if kind is int:
        return "int", str(value), _int_as_real(value)
    # Any other number (an int or float subclass, numpy's): `numbers` is imported then, not at
    # every start.
    import numbers

    if isinstance(value, numbers.Integral):  # also numpy integers, which are not int subclasses
        as_int = int(value)
        return "int", str(as_int), _int_as_real(as_int)
    if isinstance(value, numbers.Real):
        as_float = float(value)
        return "float", repr(as_float), _finite_or_none(as_float)
    return "str", storable_text(repr(value)), None


def _int_as_real(value: int) -> float | None:
    try:
        return float(value)
    except OverflowError:  # beyond 1.8e308: the exact text still has it
        return None


def decode_value(value_type: str, value_text: str | None) -> MeasuredValue:
    """Inverse of :func:`encode_value`."""
    if value_type == "none" or value_text is None:
        return None
    if value_type == "bool":
        return value_text == "true"
    if value_type == "int":
        return int(value_text)
    if value_type == "float":
        return float(value_text)  # parses 'nan', 'inf', '-inf', '-0.0' as well
    if value_type == "str":
        return value_text
    raise ValueError(f"unknown stored value type {value_type!r}")


def json_float(x: float | None) -> float | str | None:
    """A float for strict JSON: NaN and infinities have no JSON number, so they become the strings
    ``"nan"``, ``"inf"``, ``"-inf"`` (the JSON shape says which fields may carry them)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def float_from_json(x: float | int | str | None) -> float | None:
    return None if x is None else float(x)


def value_to_json(value: MeasuredValue) -> tuple[str, Any]:
    """``(value_type, json_value)``: like :func:`encode_value` but JSON-native where JSON can."""
    # The exact built-in types first, without the text round trip below: this runs for every
    # value and every limit of every durable step. The results are what the general path gives
    # (a finite float is already its own shortest exact text; ``type(x) is int`` excludes bool).
    kind = type(value)
    if kind is float:
        return "float", value if math.isfinite(value) else repr(value)
    if kind is int:
        return "int", value
    if value is None:
        return "none", None
    if kind is bool:
        return "bool", value
    value_type, text, _ = encode_value(value)
    if value_type == "float":
        return value_type, json_float(decode_value(value_type, text))  # type: ignore[arg-type]
    return value_type, decode_value(value_type, text)


def value_from_json(value_type: str, json_value: Any) -> MeasuredValue:
    if value_type == "none" or json_value is None:
        return None
    if value_type == "float":
        return float(json_value)
    if value_type == "int":
        return int(json_value)
    if value_type == "bool":
        return bool(json_value)
    if value_type == "str":
        return str(json_value)
    raise ValueError(f"unknown value type {value_type!r}")


# ---- time -------------------------------------------------------------------------------------


def parse_utc(ts: str) -> datetime:
    """An ISO-8601 timestamp as an aware UTC datetime. A timestamp without an offset is taken as
    UTC: every ``*_utc`` field is UTC by contract, only the suffix may be missing."""
    try:
        parsed = datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        raise ValueError(f"not an ISO-8601 timestamp: {ts!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def utc_epoch(ts: str | datetime) -> float:
    """Seconds since the epoch for an ISO string or an aware datetime (naive means UTC)."""
    if isinstance(ts, datetime):
        return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()
    return parse_utc(ts).timestamp()


def utc_iso(moment: datetime | str) -> str:
    """An ISO-8601 UTC string for a datetime; a string is taken as already ISO and checked."""
    if isinstance(moment, str):
        parse_utc(moment)
        return moment
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def day_bounds(day: date | str) -> tuple[float, float]:
    """The UTC day ``day`` as a half-open epoch range ``[start, end)``."""
    if isinstance(day, datetime):
        day = day.date()
    elif isinstance(day, str):
        day = date.fromisoformat(day)
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def compact_json_encoder() -> Callable[[Any], str]:
    """``json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))``, cheaper.

    ``json.dumps`` with these arguments builds a ``JSONEncoder`` and then a new C encoder object
    on every call, a few µs: a measurable share of a durable step's fixed cost and of every
    event the API streams (issue 14 goal 2). The standard library's own C encoder
    (``json.encoder.c_make_encoder``, what ``encode`` builds) is built once here and called
    directly: the same text. Without circular-reference markers: the step codec's lists and the
    API's documents are trees built afresh, never cyclic. Where the C accelerator is missing,
    the plain encoder is used.
    """
    fallback = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return fallback.encode
    # (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys,
    #  allow_nan): the arguments JSONEncoder.iterencode passes it.
    c_encoder = make(None, fallback.default, json.encoder.encode_basestring, None, ":", ",",
                     False, False, False)

    def encode(doc: Any) -> str:
        return "".join(c_encoder(doc, 0))

    return encode
