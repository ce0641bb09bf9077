"""Is the wall clock NTP-synchronised? Recorded with every run (``RunMeta.clock_synced``).

A Pi has no RTC: until NTP syncs, its wall clock may be hours off, so a record's ``*_utc`` times
are only trustworthy when this says True.

The check asks the kernel with ``adjtimex(2)`` (read-only: ``modes = 0``), the same source
``timedatectl``'s NTPSynchronized uses, but without spawning a process (~µs instead of ~20 ms) and
independent of which daemon (systemd-timesyncd, chrony, ntpd) disciplines the clock. Like systemd,
it calls the clock synchronised when the kernel's maximum error estimate is under 16 s: the kernel
starts at 16 s and grows it by 500 ppm until a daemon sets it after a successful sync. Any failure
(not Linux, no libc) answers False: better "unknown" than a false claim.
"""

from __future__ import annotations

import ctypes
import functools

_MAX_ERROR_LIMIT_US = 16_000_000


class _Timex(ctypes.Structure):
    """struct timex up to ``status``; the kernel writes the whole struct, hence the tail."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("rest", ctypes.c_byte * 256),  # constant .. tai and the reserved padding
    ]


@functools.cache
def _libc() -> ctypes.CDLL:
    # CDLL(None) is the already-loaded process image (libc included): no library search, which
    # via ctypes.util.find_library would run ldconfig and cost milliseconds.
    return ctypes.CDLL(None, use_errno=True)


def ntp_synchronized() -> bool:
    try:
        libc = _libc()
        timex = _Timex()  # zeroed: modes = 0 reads without changing anything
        if libc.adjtimex(ctypes.byref(timex)) < 0:
            return False
    except (OSError, AttributeError):
        return False
    return 0 <= timex.maxerror < _MAX_ERROR_LIMIT_US
