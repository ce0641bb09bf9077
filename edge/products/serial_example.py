"""A readable example of a serial number, made from the plan's ``serial_pattern``.

Plans hold only the pattern; an operator (and the scanner's error messages) needs an example.
This walks the parsed regex and emits the shortest match, with digits counting 1, 2, 3… and
letters A, B, C… so "PBF-[0-9]{6}" gives "PBF-123456". Constructs it can't turn into text
(negated classes, back-references) give "" rather than something that doesn't match.
"""

from __future__ import annotations

import re
import re._parser as _re_parser  # the parsed form of a regex; also used by drivers.scanner
from collections.abc import Iterator
from typing import Any

# string.ascii_uppercase and string.digits, spelled out: the `string` module (its Template
# class and metaclass) cost every start ~0.4 ms for these two constants.
_UPPERCASE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"

_C = _re_parser  # opcode names (LITERAL, IN, ...) live on the parser module


class _CannotExample(Exception):
    pass


def example_serial(pattern: str) -> str:
    try:
        parsed = _re_parser.parse(pattern)
        text = _Emitter().emit(parsed)
    except (_CannotExample, re.error, TypeError, ValueError):
        return ""
    return text if re.fullmatch(pattern, text) else ""


class _Emitter:
    def __init__(self) -> None:
        self._digits: Iterator[str] = _cycle("1234567890")
        self._letters: Iterator[str] = _cycle(_UPPERCASE)

    def emit(self, items: Any) -> str:
        return "".join(self.one(op, arg) for op, arg in items)

    def one(self, op: Any, arg: Any) -> str:
        if op is _C.LITERAL:
            return chr(arg)
        if op is _C.ANY:
            return next(self._letters)
        if op is _C.IN:
            return self.pick(arg)
        if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, getattr(_C, "POSSESSIVE_REPEAT", None)):
            low, _high, sub = arg
            return "".join(self.emit(sub) for _ in range(low))
        if op is _C.SUBPATTERN:
            return self.emit(arg[-1])
        if op is _C.BRANCH:
            return self.emit(arg[1][0])
        if op is _C.AT:
            return ""
        raise _CannotExample(op)

    def pick(self, items: Any) -> str:
        """One character of a [...] class: a counting digit or letter if the class has one."""
        allowed: set[str] = set()
        for op, arg in items:
            if op is _C.NEGATE:
                raise _CannotExample(op)
            if op is _C.LITERAL:
                allowed.add(chr(arg))
            elif op is _C.RANGE:
                allowed.update(chr(c) for c in range(arg[0], arg[1] + 1))
            elif op is _C.CATEGORY and arg is _C.CATEGORY_DIGIT:
                allowed.update(_DIGITS)
            elif op is _C.CATEGORY and arg is _C.CATEGORY_WORD:
                allowed.update(_UPPERCASE + _DIGITS)
            else:
                raise _CannotExample(op)
        for source in (self._digits, self._letters):
            for _ in range(10 if source is self._digits else 26):
                char = next(source)
                if char in allowed:
                    return char
        if not allowed:
            raise _CannotExample("empty class")
        return min(allowed)


def _cycle(chars: str) -> Iterator[str]:
    while True:
        yield from chars
