"""A barcode scanner on a serial port (USB CDC-ACM /dev/ttyACM0, a /dev/serial/by-id/... link, or
any pyserial URL such as ``loop://``), read by a background thread that survives unplugging.

The reader thread opens the port, cuts the byte stream into lines on the scanner's terminator and
hands each line to ``on_scan``: the decoded text, or a :class:`SerialRejected` when the line is
not valid UTF-8 or runs past ``max_line`` bytes without a terminator. Both go through the same
callback on purpose: a garbled read must reach the technician, and a caller cannot forget to
register an error handler it never had.

When a read fails (the scanner was unplugged) the thread closes the port, reports
``disconnected`` and tries to open it again every ``reconnect_interval`` until :meth:`stop`.
Every wait goes through the injected clock and every read has a timeout (and is cancelled by
``stop()``), so stopping is immediate. Callbacks run on the reader thread: a UI must hand them
over to its own thread.

Validating the text as a product serial is the caller's job (:mod:`drivers.scanner.serials`):
only it knows which board is on the fixture.
"""

from __future__ import annotations

import contextlib
import enum
import errno as E
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import serial

from drivers.clock import Clock, MonotonicClock
from drivers.scanner.serials import Reason, SerialRejected, decode_scan, pick_language

log = logging.getLogger(__name__)

ScanRead = str | SerialRejected


class ScannerState(enum.StrEnum):
    STOPPED = "stopped"  # the reader thread is not running
    CONNECTED = "connected"
    ABSENT = "absent"  # the port does not exist: nothing plugged in
    DISCONNECTED = "disconnected"  # was connected, then a read failed: unplugged
    PERMISSION_DENIED = "permission_denied"
    UNAVAILABLE = "unavailable"  # any other failure to open (busy, not a tty...)


_ABSENT_ERRNOS = frozenset({E.ENOENT, E.ENODEV, E.ENXIO})
_PERMISSION_ERRNOS = frozenset({E.EACCES, E.EPERM})
# flock(LOCK_NB) on a port someone else holds fails with EWOULDBLOCK (== EAGAIN on Linux).
_BUSY_ERRNOS = frozenset({E.EBUSY, E.EAGAIN})

_STATUS_TEXT: dict[str, dict[str, str]] = {
    "stopped": {
        "en": "scanner reader on {port} stopped",
        "fr": "lecture du lecteur sur {port} arrêtée",
    },
    "connected": {
        "en": "scanner connected on {port}",
        "fr": "lecteur connecté sur {port}",
    },
    "absent": {
        "en": "no scanner on {port} — is it plugged in?",
        "fr": "aucun lecteur sur {port} — est-il branché ?",
    },
    "disconnected": {
        "en": "scanner on {port} disconnected{reason} — reconnecting",
        "fr": "lecteur sur {port} déconnecté{reason} — reconnexion en cours",
    },
    "permission_denied": {
        "en": "no permission to open {port}: add the user to the dialout group "
        "(sudo usermod -aG dialout $USER, then log in again)",
        "fr": "pas le droit d'ouvrir {port} : ajoutez l'utilisateur au groupe dialout "
        "(sudo usermod -aG dialout $USER, puis reconnectez-vous)",
    },
    "unavailable": {
        "en": "cannot open {port}: {error}",
        "fr": "impossible d'ouvrir {port} : {error}",
    },
    "busy": {
        "en": "{port} is in use by another program (ModemManager, a terminal, a second pibench?)",
        "fr": "{port} est utilisé par un autre programme (ModemManager, un terminal, un second "
        "pibench ?)",
    },
    "discarded": {
        "en": "; partial read of {n} bytes discarded",
        "fr": " ; lecture partielle de {n} octets abandonnée",
    },
}


@dataclass(frozen=True)
class ScannerStatus:
    """One state of the scanner port, as reported through ``on_status``.

    ``at`` is the injected clock's time of the change; ``error``/``errno`` describe the failure
    that caused it (empty/None when connected); ``discarded`` is an incomplete line that was
    in the buffer when the port was lost.
    """

    state: ScannerState
    port: str
    at: float
    error: str = ""
    errno: int | None = None
    discarded: bytes = b""

    def message(self, lang: str = "en") -> str:
        lang = pick_language(lang)
        key = self.state.value
        if self.state is ScannerState.UNAVAILABLE and self.errno in _BUSY_ERRNOS:
            key = "busy"
        # pyserial's wording for an unplugged device ("... multiple access on port?") misleads a
        # technician, so only an OS error, when there is one, goes into the disconnect message.
        reason = f" ({os.strerror(self.errno)})" if self.errno else ""
        text = _STATUS_TEXT[key][lang].format(port=self.port, error=self.error, reason=reason)
        if self.discarded:
            text += _STATUS_TEXT["discarded"][lang].format(n=len(self.discarded))
        return text

    def __str__(self) -> str:
        return self.message("en")


class ScannerNotConnected(ConnectionError):
    """:meth:`SerialScanner.send` while the port is not open."""


def _errno_of(exc: BaseException) -> int | None:
    """The OS errno behind ``exc``. pyserial often re-raises an OSError as a SerialException
    without errno (``read failed: [Errno 5] ...``), so the cause/context chain is searched too."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and isinstance(current.errno, int):
            return current.errno
        current = current.__cause__ or current.__context__
    return None


def _state_for_open_error(err: int | None) -> ScannerState:
    if err in _ABSENT_ERRNOS:
        return ScannerState.ABSENT
    if err in _PERMISSION_ERRNOS:
        return ScannerState.PERMISSION_DENIED
    return ScannerState.UNAVAILABLE


class LineSplitter:
    """Cuts a byte stream into lines on ``terminator`` (removed from the lines).

    A line longer than ``max_line`` bytes is reported once, as a :class:`SerialRejected`
    (``line_too_long``), as soon as the limit is passed; the rest of it up to the next terminator
    is skipped so that its tail does not come out as a scan of its own. The buffer never holds
    more than about ``max_line`` bytes whatever arrives.
    """

    def __init__(self, terminator: bytes, max_line: int) -> None:
        if not terminator:
            raise ValueError("terminator must not be empty")
        if max_line < 1:
            raise ValueError("max_line must be at least 1")
        self.terminator = terminator
        self.max_line = max_line
        self._buffer = bytearray()
        self._skipping = False  # inside an over-long line already reported

    def feed(self, data: bytes) -> list[bytes | SerialRejected]:
        self._buffer += data
        out: list[bytes | SerialRejected] = []
        while (end := self._buffer.find(self.terminator)) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + len(self.terminator)]
            if self._skipping:
                self._skipping = False
            elif len(line) > self.max_line:
                out.append(self._too_long(line))
            else:
                out.append(line)
        # A partial terminator may sit at the end of a full-length line: allow for it.
        if not self._skipping and len(self._buffer) > self.max_line + len(self.terminator) - 1:
            out.append(self._too_long(bytes(self._buffer)))
            self._skipping = True
        if self._skipping:
            # Keep just enough to recognise a terminator split across two reads.
            del self._buffer[: max(0, len(self._buffer) - (len(self.terminator) - 1))]
        return out

    def discard_partial(self) -> bytes:
        """Drop and return the incomplete line (b"" if only line-end bytes were pending)."""
        partial = b"" if self._skipping else bytes(self._buffer)
        self._buffer.clear()
        self._skipping = False
        return partial if partial.strip(b"\r\n") else b""

    def _too_long(self, line: bytes) -> SerialRejected:
        return SerialRejected(Reason.LINE_TOO_LONG, raw=line[: self.max_line], limit=self.max_line)


class SerialScanner:
    """Reads scans from a serial-port barcode scanner on a background thread.

    ``url`` is a device path or any pyserial URL. ``on_scan`` receives each line as text without
    its terminator, or a :class:`SerialRejected` for a garbled line. ``on_status`` receives every
    change of :class:`ScannerStatus`. ``read_timeout`` bounds each blocking read.
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        on_scan: Callable[[ScanRead], None],
        on_status: Callable[[ScannerStatus], None] | None = None,
        baudrate: int = 9600,
        terminator: bytes | str = b"\r",
        reconnect_interval: float = 1.0,
        clock: Clock | None = None,
        max_line: int = 256,
        read_timeout: float = 0.2,
    ) -> None:
        self.url = os.fspath(url)
        self.baudrate = baudrate
        self.terminator = terminator.encode("ascii") if isinstance(terminator, str) else terminator
        self.max_line = max_line
        LineSplitter(self.terminator, max_line)  # check the arguments now, not in the thread
        if reconnect_interval <= 0 or read_timeout <= 0:
            raise ValueError("reconnect_interval and read_timeout must be positive")
        self.reconnect_interval = reconnect_interval
        self.read_timeout = read_timeout
        self._on_scan = on_scan
        self._on_status = on_status
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._port: serial.SerialBase | None = None
        self._port_lock = threading.Lock()  # the reader closes the port; stop()/send() use it
        self._status_lock = threading.Lock()
        self._status = ScannerStatus(ScannerState.STOPPED, self.url, self._clock.now())

    # -- public ----------------------------------------------------------------------------

    @property
    def status(self) -> ScannerStatus:
        with self._status_lock:
            return self._status

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"scanner reader on {self.url} is already running")
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._stopping,), name=f"scanner {self.url}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the reader and wait (at most ``timeout`` seconds) for it to finish. No callback
        runs after this returns, unless a callback is itself stuck."""
        self._stopping.set()
        self._clock.notify()  # wakes a reconnect wait
        with self._port_lock:
            if self._port is not None:
                # Wakes a blocked read now rather than at its timeout. The port may be failing.
                with contextlib.suppress(Exception):
                    self._port.cancel_read()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("scanner reader on %s did not stop within %ss", self.url, timeout)

    def send(self, data: bytes) -> None:
        """Send bytes to the scanner: a host command such as a trigger or a good-read beep
        (and, with ``loop://``, a way for tests to play the scanner)."""
        with self._port_lock:
            if self._port is None:
                raise ScannerNotConnected(f"no scanner connected on {self.url} ({self.status})")
            self._port.write(data)

    def __enter__(self) -> SerialScanner:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- reader thread ---------------------------------------------------------------------

    def _run(self, stopping: threading.Event) -> None:
        try:
            while not stopping.is_set():
                port = self._open()
                if port is not None:
                    try:
                        self._read_until_lost(port, stopping)
                    finally:
                        self._close()
                if not stopping.is_set():
                    self._clock.wait_until(
                        stopping.is_set, self._clock.now() + self.reconnect_interval
                    )
        finally:
            self._report(ScannerState.STOPPED)

    def _open(self) -> serial.SerialBase | None:
        try:
            port = serial.serial_for_url(
                self.url,
                baudrate=self.baudrate,
                timeout=self.read_timeout,
                write_timeout=1.0,
                # Two readers on one scanner would each get half the bytes of every scan.
                exclusive=True,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            err = _errno_of(exc)
            self._report(_state_for_open_error(err), error=str(exc), errno=err)
            return None
        with self._port_lock:
            self._port = port
        self._report(ScannerState.CONNECTED)
        return port

    def _read_until_lost(self, port: serial.SerialBase, stopping: threading.Event) -> None:
        splitter = LineSplitter(self.terminator, self.max_line)
        while not stopping.is_set():
            try:
                # Whatever is waiting, or block (up to read_timeout) for the first byte.
                data = port.read(port.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                err = _errno_of(exc)
                partial = splitter.discard_partial()
                self._report(
                    ScannerState.DISCONNECTED, error=str(exc), errno=err, discarded=partial
                )
                return
            for line in splitter.feed(data):
                self._deliver(line)

    def _close(self) -> None:
        with self._port_lock:
            port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):  # closing an unplugged device may fail too
                port.close()

    def _deliver(self, line: bytes | SerialRejected) -> None:
        read: ScanRead
        if isinstance(line, SerialRejected):
            read = line
        else:
            try:
                read = decode_scan(line)
            except SerialRejected as rejected:
                read = rejected
        try:
            self._on_scan(read)
        except Exception:
            # A bug in the consumer must not leave the station deaf to the scanner.
            log.exception("on_scan callback failed for a read from %s", self.url)

    def _report(
        self,
        state: ScannerState,
        *,
        error: str = "",
        errno: int | None = None,
        discarded: bytes = b"",
    ) -> None:
        with self._status_lock:
            previous = self._status
            new = ScannerStatus(state, self.url, self._clock.now(), error, errno, discarded)
            # Retrying an absent port every second must not report "absent" every second.
            if replace(new, at=previous.at) == previous:
                return
            self._status = new
        log.info("%s", new)
        if self._on_status is not None:
            try:
                self._on_status(new)
            except Exception:
                log.exception("on_status callback failed for %s", self.url)
