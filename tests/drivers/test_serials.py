"""Scanned-serial validation: every rejection carries a specific reason in French and English."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.scanner import serials
from drivers.scanner.serials import (
    Reason,
    SerialRejected,
    SerialRule,
    SerialRules,
    decode_scan,
)

HMI = SerialRule("HMI I/O board", r"HMI-\d{6}", "HMI-000123")
POWERBANK = SerialRule("PowerBank-Foolish", r"PB[A-Z]\d{7}", "PBA0001234")
DIGITS = SerialRule("Counter", r"\d{10}", "0123456789")


@pytest.fixture
def rules() -> SerialRules:
    return SerialRules([HMI, POWERBANK])


def rejection(rule: SerialRule, raw: str, **kw) -> SerialRejected:
    with pytest.raises(SerialRejected) as info:
        rule.validate(raw, **kw)
    return info.value


# --- accepted scans ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["HMI-000042", "HMI-000042\r", "HMI-000042\r\n", " hmi-000042\n"])
def test_valid_scan_is_cleaned_and_upper_cased(raw):
    assert HMI.validate(raw) == "HMI-000042"


def test_case_is_kept_when_normalisation_is_off():
    rule = SerialRule("Lower", r"lab-\d{3}", "lab-001", normalise_case=False)
    assert rule.validate("lab-007\r") == "lab-007"
    assert rejection(rule, "LAB-007").reason is Reason.BAD_FORMAT


def test_lengths_are_derived_from_the_pattern_unless_given():
    assert (HMI.min_len, HMI.max_len) == (10, 10)
    open_ended = SerialRule("Lot", r"LOT\d+", "LOT1")
    assert (open_ended.min_len, open_ended.max_len) == (4, None)
    bounded = SerialRule("Lot", r"LOT\d+", "LOT1234", min_len=7, max_len=9)
    assert bounded.validate("lot12345") == "LOT12345"
    assert rejection(bounded, "LOT12").reason is Reason.TOO_SHORT


def test_a_rule_whose_example_does_not_match_is_refused():
    with pytest.raises(ValueError, match="does not match"):
        SerialRule("Typo", r"HMI-\d{6}", "HMI-12345")


# --- each rejection reason -----------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "\r", "\r\n", "  \n"])
def test_empty_read(raw):
    exc = rejection(HMI, raw)
    assert exc.reason is Reason.EMPTY
    assert "Empty read" in str(exc)
    assert "Lecture vide" in exc.message("fr")


def test_control_character_is_named_with_its_position():
    # What a 9600-baud scanner read at 115200 can look like: an ESC in the middle.
    exc = rejection(HMI, "HMI\x1b000042\r")
    assert exc.reason is Reason.CONTROL_CHAR
    assert exc.details["found"] == [("\x1b", 4)]
    assert "\\x1b' at position 4" in exc.message("en")
    assert "\\x1b' en position 4" in exc.message("fr")
    assert "baud" in exc.message("en")


def test_group_separator_is_reported_not_stripped():
    # str.strip() would silently eat \x1d (the GS1 separator): it must be reported.
    exc = rejection(HMI, "\x1dHMI-000042")
    assert exc.reason is Reason.CONTROL_CHAR
    assert exc.details["found"] == [("\x1d", 1)]


def test_replacement_character():
    exc = rejection(HMI, "HMI-00\ufffd042")
    assert exc.reason is Reason.REPLACEMENT_CHAR
    assert exc.details["position"] == 7
    assert "Lecture brouillée" in exc.message("fr")


def test_other_non_ascii_character():
    exc = rejection(HMI, "HMI-00004²")
    assert exc.reason is Reason.NON_ASCII
    assert "'²' (U+00B2) at position 10" in str(exc)


def test_qwerty_scanner_on_azerty_pc_digits():
    exc = rejection(DIGITS, "&é\"'(-è_çà")
    assert exc.reason is Reason.KEYBOARD_LAYOUT
    assert exc.details["guess"] == "1234567890"
    assert "keyboard layout mismatch (azerty/qwerty)" in str(exc).lower()
    assert "probablement « 1234567890 »" in exc.message("fr")


def test_layout_mismatch_is_detected_even_without_a_confident_guess():
    # One key short of a full serial: no guess, but é/è/ç/à never come out of a correct scan.
    exc = rejection(DIGITS, "&é\"(-è_çà")
    assert exc.reason is Reason.KEYBOARD_LAYOUT
    assert exc.details["guess"] is None
    assert "Keyboard layout mismatch (AZERTY/QWERTY)" in str(exc)


def test_qwerty_scanner_on_azerty_pc_letters_and_dash():
    # "HMI-004217" typed key for key: M is the AZERTY comma key (shifted: ?), '-' is ')'.
    exc = rejection(HMI, "H?I)àà'é&è")
    assert exc.reason is Reason.KEYBOARD_LAYOUT
    assert exc.details["guess"] == "HMI-004217"


def test_azerty_scanner_on_qwerty_pc():
    # Plain ASCII, so only the re-typed guess can reveal it.
    exc = rejection(DIGITS, "!@#$%^&*()")
    assert exc.reason is Reason.KEYBOARD_LAYOUT
    assert exc.details["guess"] == "1234567890"


def test_too_short_and_too_long_give_the_expected_length():
    short = rejection(HMI, "HMI-0042")
    assert short.reason is Reason.TOO_SHORT
    assert "8 characters, expected exactly 10 (e.g. HMI-000123)" in str(short)
    assert "attendu exactement 10" in short.message("fr")
    long = rejection(HMI, "HMI-00000042")
    assert long.reason is Reason.TOO_LONG
    assert "12 characters" in str(long)


def test_length_range_wording():
    rule = SerialRule("Lot", r"LOT\d{2,4}", "LOT12")
    assert "expected 5 to 7" in str(rejection(rule, "LOT1"))
    assert "attendu de 5 à 7" in rejection(rule, "LOT1").message("fr")
    open_ended = SerialRule("Lot", r"LOT\d+", "LOT1")
    assert "expected at least 4" in str(rejection(open_ended, "LO"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HMI-000042HMI-000042", ("HMI-000042", "HMI-000042")),
        ("HMI-000042\rHMI-000043\r\n", ("HMI-000042", "HMI-000043")),
        ("hmi-000001HMI-000002hmi-000003", ("HMI-000001", "HMI-000002", "HMI-000003")),
    ],
)
def test_serials_run_together(raw, expected):
    exc = rejection(HMI, raw)
    assert exc.reason is Reason.DOUBLE_SCAN
    assert exc.details["serials"] == expected
    assert "run together" in str(exc)
    assert "collés" in exc.message("fr")


def test_wrong_product(rules):
    with pytest.raises(SerialRejected) as info:
        rules.validate("HMI I/O board", "pba0001234\r")
    exc = info.value
    assert exc.reason is Reason.WRONG_PRODUCT
    assert exc.details["other"] == "PowerBank-Foolish"
    assert str(exc).startswith("This is a PowerBank-Foolish serial, not HMI I/O board")
    assert exc.message("fr").startswith("C'est un numéro de série PowerBank-Foolish, pas HMI")


def test_wrong_product_needs_the_other_rules():
    assert rejection(HMI, "PBA0001234").reason is Reason.BAD_FORMAT
    assert rejection(HMI, "PBA0001234", others=[POWERBANK]).reason is Reason.WRONG_PRODUCT


def test_bad_format_shows_the_example():
    exc = rejection(HMI, "HMX-000042")
    assert exc.reason is Reason.BAD_FORMAT
    assert "expected the format of HMI-000123" in str(exc)
    assert "format attendu comme HMI-000123" in exc.message("fr")


def test_long_garbage_is_shortened_in_the_message():
    exc = rejection(HMI, "X" * 500)
    assert len(str(exc)) < 300
    assert "…" in str(exc)


# --- bytes ---------------------------------------------------------------------------------------


def test_decode_scan_accepts_utf8():
    assert decode_scan(b"HMI-000042\r") == "HMI-000042\r"
    assert decode_scan("é".encode()) == "é"


def test_decode_scan_refuses_invalid_utf8_instead_of_replacing():
    with pytest.raises(SerialRejected) as info:
        decode_scan(b"HMI\xff\xfe-0001")
    exc = info.value
    assert exc.reason is Reason.INVALID_UTF8
    assert exc.details == {"byte": 0xFF, "position": 4}
    assert "byte 0xFF at position 4" in str(exc)
    assert "l'octet 0xFF en position 4" in exc.message("fr")
    assert isinstance(exc.__cause__, UnicodeDecodeError)


# --- the exception itself ------------------------------------------------------------------------


def test_rejection_is_a_value_error_with_english_str():
    exc = rejection(HMI, "")
    assert isinstance(exc, ValueError)
    assert str(exc) == exc.message("en") == exc.message()


@pytest.mark.parametrize("lang", ["fr", "FR", "fr_FR.UTF-8", "fr-CA"])
def test_french_language_tags(lang):
    assert rejection(HMI, "").message(lang).startswith("Lecture vide")


def test_unknown_language_falls_back_to_english():
    assert rejection(HMI, "").message("de") == rejection(HMI, "").message("en")


def test_every_reason_has_both_languages():
    for reason in Reason:
        assert set(serials._TEMPLATES[reason.value]) == set(serials.LANGUAGES)


def test_rejection_survives_pickling():
    exc = rejection(HMI, "HMI\x1b000042")
    copy = pickle.loads(pickle.dumps(exc))
    assert copy.reason is Reason.CONTROL_CHAR
    assert copy.message("fr") == exc.message("fr")


# --- the registry --------------------------------------------------------------------------------


def test_registry_lookup_and_identify(rules):
    assert rules.products == ("HMI I/O board", "PowerBank-Foolish")
    assert "HMI I/O board" in rules and len(rules) == 2
    assert rules["PowerBank-Foolish"] is POWERBANK
    assert rules.validate("PowerBank-Foolish", "pbz9999999\r\n") == "PBZ9999999"
    assert rules.identify("hmi-000042\r") == "HMI I/O board"
    assert rules.identify("PBA0001234") == "PowerBank-Foolish"
    assert rules.identify("nothing") is None
    assert rules.identify("") is None


def test_registry_refuses_duplicates_and_overlaps(rules):
    with pytest.raises(ValueError, match="already registered"):
        rules.add(SerialRule("HMI I/O board", r"X\d", "X1"))
    with pytest.raises(ValueError, match="overlap"):
        rules.add(SerialRule("Any HMI", r"HMI-\d+", "HMI-1"))


def test_registry_unknown_product(rules):
    with pytest.raises(KeyError, match="no serial rule for product 'Toaster'"):
        rules.validate("Toaster", "T1")


# --- properties ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_either_accepted_or_rejected_with_both_messages(raw):
    try:
        serial = SerialRules([HMI, POWERBANK]).validate("HMI I/O board", raw)
    except SerialRejected as exc:
        assert exc.message("en") and exc.message("fr")
    else:
        assert HMI.matches(serial)


@settings(max_examples=100, deadline=None)
@given(
    number=st.integers(0, 999_999),
    before=st.text(" \t\r\n", max_size=3),
    after=st.sampled_from(["", "\r", "\n", "\r\n", " \r\n"]),
)
def test_valid_serials_survive_padding_and_terminators(number, before, after):
    serial = f"HMI-{number:06d}"
    assert HMI.validate(before + serial.lower() + after) == serial
