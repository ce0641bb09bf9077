"""Barcode scanners: validation of scanned serials (shared with the keyboard-wedge path in the
HMI), and the reader for scanners on a serial port."""

from drivers.scanner.serial_scanner import (
    LineSplitter,
    ScannerNotConnected,
    ScannerState,
    ScannerStatus,
    ScanRead,
    SerialScanner,
)
from drivers.scanner.serials import (
    LANGUAGES,
    Reason,
    SerialRejected,
    SerialRule,
    SerialRules,
    clean_scan,
    decode_scan,
    pick_language,
)

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
    "SerialRules",
    "SerialScanner",
    "clean_scan",
    "decode_scan",
    "pick_language",
]
