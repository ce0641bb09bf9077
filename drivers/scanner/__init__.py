"""Barcode scanners: validation of scanned serials, and the serial-port scanner reader."""

from drivers.scanner.serials import (
    LANGUAGES,
    Reason,
    SerialRejected,
    SerialRule,
    SerialRules,
    clean_scan,
    decode_scan,
)

__all__ = [
    "LANGUAGES",
    "Reason",
    "SerialRejected",
    "SerialRule",
    "SerialRules",
    "clean_scan",
    "decode_scan",
]
