"""Barcode scanners: validation of scanned serials (shared with the keyboard-wedge path in the
HMI), and the reader for scanners on a serial port.

The serial-port reader needs pyserial; it is imported on first use of one of its names, so a
command that only validates serials (``pibench run``) does not load pyserial.
"""

from typing import Any

from drivers.scanner.serials import (
    LANGUAGES,
    Reason,
    SerialRejected,
    SerialRule,
    SerialRuleConflict,
    SerialRules,
    clean_scan,
    decode_scan,
    pick_language,
)

_SERIAL_PORT_NAMES = frozenset({
    "LineSplitter", "ScannerNotConnected", "ScannerState", "ScannerStatus", "ScanRead",
    "SerialScanner",
})


def __getattr__(name: str) -> Any:
    if name in _SERIAL_PORT_NAMES:
        from drivers.scanner import serial_scanner

        return getattr(serial_scanner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LANGUAGES",
    "LineSplitter",
    "Reason",
    "ScanRead",
    "ScannerNotConnected",
    "ScannerState",
    "ScannerStatus",
    "SerialRejected",
    "SerialRule",
    "SerialRuleConflict",
    "SerialRules",
    "SerialScanner",
    "clean_scan",
    "decode_scan",
    "pick_language",
]
