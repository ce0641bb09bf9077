"""Validation of scanned board serial numbers, shared by the serial-port and keyboard-wedge paths.

A scan is only trusted once it fully matches the product's pattern. When it does not, the
technician gets a *specific* reason in French and English (``SerialRejected.message('fr')``)
instead of a generic "invalid serial", because each failure has a different fix: rescan, change
the scanner's baud rate, change its keyboard layout, or put the right board on the fixture.

Checks run in the order that gives the most useful answer first:

1. empty read;
2. two serials run together (a double scan), even with a CR/LF between them;
3. control characters (a scanner at the wrong baud rate produces them);
4. U+FFFD replacement characters, then other non-ASCII characters, where a keyboard-layout
   mismatch (QWERTY scanner on an AZERTY PC types ``&é"'(-è_çà`` for ``1234567890``) is told apart;
5. another product's serial (only for the rules the caller passes in);
6. a keyboard-layout mismatch that happens to produce plain ASCII;
7. too short / too long;
8. anything else: the expected format, with the rule's example.

Positions in messages are 1-based (what a person counts); ``SerialRejected.details`` holds the
same data for programs.
"""

import enum
import re
import re._parser as _re_parser  # the only way to ask a regex for its match-length bounds
from collections.abc import Iterable, Iterator
from typing import Any

from drivers.named_tuple import NamedTuple

# Only what a scanner appends or a technician might leave around a pasted value. str.strip() with
# no argument would also eat \x1c-\x1f, which are control characters we want to report.
_TERMINATORS_AND_SPACE = " \t\r\n"
_MAX_SHOWN = 40  # a garbled read can be long; the message shows its start
_MAX_LISTED_CHARS = 3


class Reason(enum.StrEnum):
    """Machine-readable reason codes carried by :class:`SerialRejected`."""

    EMPTY = "empty"
    INVALID_UTF8 = "invalid_utf8"
    LINE_TOO_LONG = "line_too_long"  # raised by the serial-port reader, no terminator in sight
    CONTROL_CHAR = "control_char"
    REPLACEMENT_CHAR = "replacement_char"
    NON_ASCII = "non_ascii"
    KEYBOARD_LAYOUT = "keyboard_layout"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    DOUBLE_SCAN = "double_scan"
    WRONG_PRODUCT = "wrong_product"
    BAD_FORMAT = "bad_format"


LANGUAGES = ("fr", "en")

# Message templates, one per (template key, language). The template key is usually the reason;
# a reason with an optional part (a layout guess) has a second key.
_TEMPLATES: dict[str, dict[str, str]] = {
    "empty": {
        "en": "Empty read: the scanner sent only an end of line. Scan the label again.",
        "fr": "Lecture vide : le lecteur n'a envoyé qu'une fin de ligne. Scannez à nouveau "
        "l'étiquette.",
    },
    "invalid_utf8": {
        "en": "Garbled read: byte 0x{byte:02X} at position {position} is not valid text "
        "(scanner at the wrong baud rate, or a noisy cable?). Scan again.",
        "fr": "Lecture brouillée : l'octet 0x{byte:02X} en position {position} n'est pas du texte "
        "valide (lecteur à la mauvaise vitesse en bauds, ou câble perturbé ?). Scannez à nouveau.",
    },
    "line_too_long": {
        "en": "Garbled read: more than {limit} bytes without an end of line (wrong terminator "
        "setting or wrong baud rate on the scanner?). Scan again.",
        "fr": "Lecture brouillée : plus de {limit} octets sans fin de ligne (mauvais suffixe ou "
        "mauvaise vitesse en bauds sur le lecteur ?). Scannez à nouveau.",
    },
    "control_char": {
        "en": "Garbled read: control character {chars} in '{shown}' (a scanner at the wrong baud "
        "rate reads like this). Check the scanner's serial settings and scan again.",
        "fr": "Lecture brouillée : caractère de contrôle {chars} dans « {shown} » (typique d'un "
        "lecteur réglé à la mauvaise vitesse en bauds). Vérifiez le réglage série du lecteur et "
        "scannez à nouveau.",
    },
    "replacement_char": {
        "en": "Garbled read: '{shown}' contains the replacement character '\ufffd' at position "
        "{position} (a character was lost in transmission). Scan again.",
        "fr": "Lecture brouillée : « {shown} » contient le caractère de remplacement '\ufffd' en "
        "position {position} (un caractère a été perdu en route). Scannez à nouveau.",
    },
    "non_ascii": {
        "en": "Unexpected character {chars} in '{shown}': {product} serials are plain ASCII. "
        "Scan again; if it repeats, check the scanner's keyboard layout and encoding.",
        "fr": "Caractère inattendu {chars} dans « {shown} » : les numéros de série {product} "
        "sont en ASCII simple. Scannez à nouveau ; si cela se répète, vérifiez la disposition "
        "de clavier et l'encodage du lecteur.",
    },
    "keyboard_layout": {
        "en": "Keyboard layout mismatch (AZERTY/QWERTY): the scanner typed '{shown}'. Set the "
        "scanner to the same keyboard layout as this PC (French AZERTY).",
        "fr": "Disposition de clavier différente (AZERTY/QWERTY) : le lecteur a tapé "
        "« {shown} ». Réglez le lecteur sur la même disposition de clavier que ce PC "
        "(AZERTY français).",
    },
    "keyboard_layout_guess": {
        "en": "Keyboard layout mismatch (AZERTY/QWERTY): the scanner typed '{shown}', which is "
        "probably '{guess}'. Set the scanner to the same keyboard layout as this PC "
        "(French AZERTY).",
        "fr": "Disposition de clavier différente (AZERTY/QWERTY) : le lecteur a tapé "
        "« {shown} », probablement « {guess} ». Réglez le lecteur sur la même disposition de "
        "clavier que ce PC (AZERTY français).",
    },
    "too_short": {
        "en": "{product} serial too short: '{shown}' has {length} characters, expected "
        "{expected} (e.g. {example}). Scan again.",
        "fr": "Numéro de série {product} trop court : « {shown} » fait {length} caractères, "
        "attendu {expected} (ex. {example}). Scannez à nouveau.",
    },
    "too_long": {
        "en": "{product} serial too long: '{shown}' has {length} characters, expected "
        "{expected} (e.g. {example}).",
        "fr": "Numéro de série {product} trop long : « {shown} » fait {length} caractères, "
        "attendu {expected} (ex. {example}).",
    },
    "double_scan": {
        "en": "{count} {product} serials run together ({serials}): the scanner read more than "
        "one label. Scan a single label.",
        "fr": "{count} numéros de série {product} collés ({serials}) : le lecteur a lu plus d'une "
        "étiquette. Scannez une seule étiquette.",
    },
    "wrong_product": {
        "en": "This is a {other} serial, not {product}. Check that the board on the fixture is "
        "the right one.",
        "fr": "C'est un numéro de série {other}, pas {product}. Vérifiez que la carte sur le "
        "banc est la bonne.",
    },
    "bad_format": {
        "en": "'{shown}' is not a valid {product} serial: expected the format of {example}.",
        "fr": "« {shown} » n'est pas un numéro de série {product} valide : format attendu comme "
        "{example}.",
    },
}

# Words that vary with language inside the templates above.
_WORDS: dict[str, dict[str, str]] = {
    "en": {"at": "at position", "and": "and", "exactly": "exactly {n}",
           "between": "{lo} to {hi}", "at_least": "at least {n}", "at_most": "at most {n}"},
    "fr": {"at": "en position", "and": "et", "exactly": "exactement {n}",
           "between": "de {lo} à {hi}", "at_least": "au moins {n}", "at_most": "au plus {n}"},
}


def pick_language(lang: str) -> str:
    """'fr_FR.UTF-8' / 'fr-CA' / 'FR' -> 'fr'; anything unknown falls back to English."""
    base = lang.replace("-", "_").split("_")[0].split(".")[0].lower()
    return base if base in LANGUAGES else "en"


def _is_control(ch: str) -> bool:
    """Unicode's category Cc, without importing unicodedata (a 1 MB library, at every start):
    Cc is C0, DEL and C1, and Unicode's stability policy says that set never changes."""
    return ch <= "\x1f" or "\x7f" <= ch <= "\x9f"


def _escape(ch: str) -> str:
    """Visible form of one character: control characters as \\xNN, others as themselves."""
    if _is_control(ch):
        return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
    return ch


def _shown(text: str) -> str:
    visible = "".join(_escape(ch) for ch in text)
    return visible if len(visible) <= _MAX_SHOWN else visible[: _MAX_SHOWN - 1] + "…"


class SerialRejected(ValueError):
    """A scan that is not a valid serial, with a reason code and a message per language.

    ``reason`` is a :class:`Reason`; ``details`` holds its data (positions, lengths, the other
    product, the guess...). ``str(exc)`` is the English message; ``exc.message('fr')`` the French.
    """

    def __init__(
        self,
        reason: Reason,
        *,
        product: str | None = None,
        raw: str | bytes | None = None,
        template: str | None = None,
        **details: Any,
    ) -> None:
        self.reason = Reason(reason)
        self.product = product
        self.raw = raw
        self.details = details
        self._template = template or self.reason.value
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        lang = pick_language(lang)
        words = _WORDS[lang]
        values: dict[str, Any] = {"product": self.product or "?", **self.details}
        if isinstance(self.raw, str):
            values.setdefault("shown", _shown(self.raw))
        if "found" in self.details:  # [(char, 1-based position), ...]
            values["chars"] = ", ".join(
                f"'{_escape(ch)}'" + (f" (U+{ord(ch):04X})" if ord(ch) > 0x7F else "")
                + f" {words['at']} {pos}"
                for ch, pos in self.details["found"]
            )
        if "serials" in self.details:
            values["count"] = len(self.details["serials"])
            values["serials"] = f" {words['and']} ".join(self.details["serials"])
        if "min_len" in self.details:
            values["expected"] = _expected_length(
                self.details["min_len"], self.details["max_len"], words
            )
        return _TEMPLATES[self._template][lang].format(**values)

    def __reduce__(self):  # picklable, keyword-only context included (for multiprocessing)
        return (_rebuild, (self.reason, self.product, self.raw, self._template, self.details))


def _rebuild(reason, product, raw, template, details):
    return SerialRejected(reason, product=product, raw=raw, template=template, **details)


def _expected_length(lo: int, hi: int | None, words: dict[str, str]) -> str:
    if hi is None:
        return words["at_least"].format(n=lo)
    if lo == hi:
        return words["exactly"].format(n=lo)
    if lo == 0:
        return words["at_most"].format(n=hi)
    return words["between"].format(lo=lo, hi=hi)


def decode_scan(data: bytes) -> str:
    """Decode a scanner's bytes as UTF-8, refusing (never replacing) invalid sequences.

    Replacing would turn a wrong-baud-rate read into a plausible-looking string with a '\ufffd'
    in it; the technician needs to hear "garbled read" instead.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SerialRejected(
            Reason.INVALID_UTF8, raw=bytes(data), byte=data[exc.start], position=exc.start + 1
        ) from exc


def clean_scan(raw: str) -> str:
    """The scan without the scanner's terminator (CR/LF) and surrounding spaces/tabs."""
    return raw.strip(_TERMINATORS_AND_SPACE)


# --- Keyboard-layout mismatch ----------------------------------------------------------------
# A keyboard-wedge scanner sends key positions, and the PC turns them into characters with *its*
# layout. Each table maps what the PC shows back to what the label says, key by key.

# Scanner set to US QWERTY, PC in French AZERTY: the digit row comes out unshifted (&é"'(-è_çà),
# A/Q and Z/W swap, and the US M key is the AZERTY comma key.
_QWERTY_SCANNER_ON_AZERTY_PC = str.maketrans({
    "&": "1", "é": "2", '"': "3", "'": "4", "(": "5", "-": "6", "è": "7", "_": "8", "ç": "9",
    "à": "0", ")": "-", "a": "q", "q": "a", "z": "w", "w": "z", "A": "Q", "Q": "A", "Z": "W",
    "W": "Z", ",": "m", "?": "M", "m": ";", ";": ",", ":": ".", "!": "/",
})
# Scanner set to AZERTY, PC in US QWERTY: AZERTY digits need Shift, so the PC sees !@#$%^&*().
_AZERTY_SCANNER_ON_QWERTY_PC = str.maketrans({
    "!": "1", "@": "2", "#": "3", "$": "4", "%": "5", "^": "6", "&": "7", "*": "8", "(": "9",
    ")": "0", "6": "-", "a": "q", "q": "a", "z": "w", "w": "z", "A": "Q", "Q": "A", "Z": "W",
    "W": "Z", ";": "m", ":": "M", "m": ",",
})
_LAYOUT_TABLES = (_QWERTY_SCANNER_ON_AZERTY_PC, _AZERTY_SCANNER_ON_QWERTY_PC)
# Characters no ASCII serial contains but a QWERTY scanner's digit row produces on AZERTY.
_AZERTY_DIGIT_ROW_ACCENTS = frozenset("éèçà")


# A NamedTuple of the fields plus a subclass whose __new__ checks them, not a frozen dataclass:
# `dataclasses` (inspect, ast, dis) and its compiled methods cost every start (issue 14).
class _SerialRuleFields(NamedTuple):
    product: str
    pattern: str
    example: str
    normalise_case: bool = True
    min_len: int | None = None
    max_len: int | None = None


class SerialRule(_SerialRuleFields):
    """How one product's serial looks.

    ``pattern`` must match the whole (cleaned, and if ``normalise_case`` upper-cased) serial.
    ``min_len``/``max_len`` default to the bounds the regex itself allows; ``max_len`` stays None
    for an unbounded pattern. ``example`` is shown to the technician and must itself be valid.
    """

    __slots__ = ()

    def _replace(self, **changes: Any) -> "SerialRule":
        # NamedTuple's own _replace skips __new__ (it builds the tuple directly): build anew,
        # so a changed value is checked as one given to the constructor is.
        return type(self)(**{**self._asdict(), **changes})

    def __new__(cls, *args: Any, **kwargs: Any) -> "SerialRule":
        self = super().__new__(cls, *args, **kwargs)
        re.compile(self.pattern)  # a bad pattern fails here, as it did
        lo, hi = _re_parser.parse(self.pattern).getwidth()
        # (the tuple's own _replace: these values are derived here, not given)
        if self.min_len is None:
            self = super(SerialRule, self)._replace(min_len=lo)
        if self.max_len is None and hi < _re_parser.MAXREPEAT:
            self = super(SerialRule, self)._replace(max_len=hi)
        if not self.matches(self.example):
            raise ValueError(
                f"{self.product}: example {self.example!r} does not match pattern {self.pattern!r}"
            )
        return self

    def normalise(self, cleaned: str) -> str:
        return cleaned.upper() if self.normalise_case else cleaned

    def matches(self, cleaned: str) -> bool:
        """True if the already-cleaned text is a serial of this product (length bounds included)."""
        serial = self.normalise(cleaned)
        if len(serial) < self.min_len or (self.max_len is not None and len(serial) > self.max_len):
            return False
        # (re.compile's own cache keeps the compiled pattern: a tuple has no room for it)
        return re.compile(self.pattern).fullmatch(serial) is not None

    def validate(self, raw: str, others: "Iterable[SerialRule]" = ()) -> str:
        """The cleaned serial, or :class:`SerialRejected` saying precisely what is wrong.

        ``others`` are the rules of the other products the station knows, so that a serial of the
        wrong product is reported as such rather than as a bad format.
        """
        cleaned = clean_scan(raw)
        if not cleaned:
            raise self._reject(Reason.EMPTY, raw)
        if self.matches(cleaned):
            return self.normalise(cleaned)

        run = self._split_run(cleaned)
        if run:
            raise self._reject(Reason.DOUBLE_SCAN, cleaned, serials=tuple(run))

        control = [(ch, i + 1) for i, ch in enumerate(cleaned) if _is_control(ch)]
        if control:
            raise self._reject(Reason.CONTROL_CHAR, cleaned, found=control[:_MAX_LISTED_CHARS])

        if "\ufffd" in cleaned:
            raise self._reject(
                Reason.REPLACEMENT_CHAR, cleaned, position=cleaned.index("\ufffd") + 1
            )

        guess = self._layout_guess(cleaned)
        non_ascii = [(ch, i + 1) for i, ch in enumerate(cleaned) if ord(ch) > 0x7F]
        if non_ascii:
            if guess is not None or _AZERTY_DIGIT_ROW_ACCENTS.intersection(cleaned):
                raise self._layout_mismatch(cleaned, guess)
            raise self._reject(Reason.NON_ASCII, cleaned, found=non_ascii[:_MAX_LISTED_CHARS])

        for other in others:
            if other.product != self.product and other.matches(cleaned):
                raise self._reject(Reason.WRONG_PRODUCT, cleaned, other=other.product)

        if guess is not None:
            raise self._layout_mismatch(cleaned, guess)

        serial = self.normalise(cleaned)
        if len(serial) < self.min_len:
            raise self._reject(Reason.TOO_SHORT, serial, **self._length_details(serial))
        if self.max_len is not None and len(serial) > self.max_len:
            raise self._reject(Reason.TOO_LONG, serial, **self._length_details(serial))
        raise self._reject(Reason.BAD_FORMAT, serial, example=self.example)

    # -- helpers ---------------------------------------------------------------------------

    def _reject(self, reason: Reason, raw: str, **details: Any) -> SerialRejected:
        return SerialRejected(reason, product=self.product, raw=raw, **details)

    def _length_details(self, serial: str) -> dict[str, Any]:
        return {"length": len(serial), "min_len": self.min_len, "max_len": self.max_len,
                "example": self.example}

    def _layout_mismatch(self, cleaned: str, guess: str | None) -> SerialRejected:
        if guess is None:
            return self._reject(Reason.KEYBOARD_LAYOUT, cleaned, guess=None)
        return self._reject(
            Reason.KEYBOARD_LAYOUT, cleaned, template="keyboard_layout_guess", guess=guess
        )

    def _layout_guess(self, cleaned: str) -> str | None:
        """The serial the label probably says, if re-typing ``cleaned`` key for key on the other
        layout gives a valid serial."""
        for table in _LAYOUT_TABLES:
            retyped = cleaned.translate(table)
            if retyped != cleaned and self.matches(retyped):
                return self.normalise(retyped)
        return None

    def _split_run(self, cleaned: str) -> list[str] | None:
        """The serials, if ``cleaned`` is two or more valid serials back to back (a double scan),
        separated by line ends/spaces or not separated at all; otherwise None."""
        parts = [p for p in re.split(r"[\r\n\t ]+", cleaned) if p]
        if len(parts) >= 2 and all(self.matches(p) for p in parts):
            return [self.normalise(p) for p in parts]
        return self._split_unseparated(cleaned)

    def _split_unseparated(self, text: str) -> list[str] | None:
        # Dynamic programming from the end: runs[i] is a split of text[i:] into serials (or
        # None), so each (start, length) pair is tried once whatever the pattern.
        shortest = max(self.min_len, 1)
        if len(text) < 2 * shortest:
            return None
        longest = self.max_len if self.max_len is not None else len(text)
        runs: list[list[str] | None] = [None] * len(text) + [[]]
        for start in range(len(text) - shortest, -1, -1):
            for end in range(start + shortest, min(start + longest, len(text)) + 1):
                rest = runs[end]
                if rest is not None and self.matches(text[start:end]):
                    runs[start] = [self.normalise(text[start:end]), *rest]
                    break
        split = runs[0]
        return split if split is not None and len(split) >= 2 else None


class SerialRuleConflict(ValueError):
    """A rule :class:`SerialRules` cannot take: its product has one already (``other`` is
    None), or its pattern and ``other``'s accept each other's example serials."""

    def __init__(self, message: str, rule: SerialRule, other: SerialRule | None) -> None:
        super().__init__(message)
        self.rule = rule
        self.other = other


class SerialRules:
    """The serial rules of every product the station tests, keyed by product name."""

    def __init__(self, rules: Iterable[SerialRule] = ()) -> None:
        self._rules: dict[str, SerialRule] = {}
        for rule in rules:
            self.add(rule)

    def add(self, rule: SerialRule) -> None:
        """Register a rule. Refuses a duplicate product, and a rule whose example another
        product's rule also accepts: ``identify`` would then be ambiguous."""
        if rule.product in self._rules:
            raise SerialRuleConflict(f"serial rule for {rule.product!r} already registered",
                                     rule, None)
        for other in self._rules.values():
            if other.matches(rule.example) or rule.matches(other.example):
                raise SerialRuleConflict(
                    f"serial rules for {rule.product!r} and {other.product!r} overlap "
                    f"({rule.example!r} / {other.example!r}): scans could not be told apart",
                    rule, other,
                )
        self._rules[rule.product] = rule

    def __getitem__(self, product: str) -> SerialRule:
        try:
            return self._rules[product]
        except KeyError:
            raise KeyError(
                f"no serial rule for product {product!r} (known: {', '.join(self._rules)})"
            ) from None

    def __contains__(self, product: object) -> bool:
        return product in self._rules

    def __iter__(self) -> Iterator[SerialRule]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    @property
    def products(self) -> tuple[str, ...]:
        return tuple(self._rules)

    def validate(self, product: str, raw: str) -> str:
        """The cleaned serial for ``product``, or :class:`SerialRejected` (including "this is a
        serial of another product")."""
        return self[product].validate(raw, others=self._rules.values())

    def identify(self, raw: str) -> str | None:
        """Which product ``raw`` is a valid serial of, or None."""
        cleaned = clean_scan(raw)
        for rule in self._rules.values():
            if cleaned and rule.matches(cleaned):
                return rule.product
        return None
