"""The serial-port scanner reader: lines, garbled reads, status, unplug/replug, prompt stop.

Ports are pyserial's ``loop://`` (the test plays the scanner through ``send``) and real ptys
reached through a symlink the test owns, as udev's /dev/serial/by-id links are. Tests wait for
callbacks with a timeout and never assert how long anything took.
"""

from __future__ import annotations

import errno
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.clock import SimClock
from drivers.scanner import serial_scanner
from drivers.scanner.serial_scanner import (
    LineSplitter,
    ScannerNotConnected,
    ScannerState,
    ScannerStatus,
    SerialScanner,
)
from drivers.scanner.serials import Reason, SerialRejected

WAIT = 5.0  # generous: only a broken reader ever waits this long


class Recorder:
    """Collects what the reader thread reports and lets the test wait for it."""

    def __init__(self) -> None:
        self.reads: list[str | SerialRejected] = []
        self.statuses: list[ScannerStatus] = []
        self._cond = threading.Condition()

    def on_scan(self, read: str | SerialRejected) -> None:
        with self._cond:
            self.reads.append(read)
            self._cond.notify_all()

    def on_status(self, status: ScannerStatus) -> None:
        with self._cond:
            self.statuses.append(status)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool]) -> None:
        with self._cond:
            assert self._cond.wait_for(predicate, WAIT), (self.reads, self.states)

    def wait_reads(self, count: int) -> list[str | SerialRejected]:
        self.wait_for(lambda: len(self.reads) >= count)
        return self.reads[:count]

    def wait_state(self, state: ScannerState, *, after: int = 0) -> ScannerStatus:
        """The first status with ``state`` among those reported after the first ``after``."""
        self.wait_for(lambda: any(s.state is state for s in self.statuses[after:]))
        return next(s for s in self.statuses[after:] if s.state is state)

    @property
    def states(self) -> list[ScannerState]:
        return [s.state for s in self.statuses]


class FakeUsbScanner:
    """A pty standing in for a USB CDC-ACM scanner, behind a symlink like /dev/serial/by-id/...

    ``unplug`` closes the pty's master (the reader's next read fails) and removes the link;
    ``plug`` creates a fresh pty and points the link at it, atomically as udev does.
    """

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None
        self.slave: int | None = None

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        staging = self.link.with_name(self.link.name + ".new")
        os.symlink(os.ttyname(self.slave), staging)
        os.replace(staging, self.link)

    def type(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)

    def unplug(self) -> None:
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None
        self.link.unlink(missing_ok=True)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_scanner(recorder: Recorder) -> Iterator[Callable[..., SerialScanner]]:
    """Builds and starts scanners wired to ``recorder``; stops them all at teardown."""
    made: list[SerialScanner] = []

    def make(url: str | Path, **kw) -> SerialScanner:
        kw.setdefault("reconnect_interval", 0.01)
        scanner = SerialScanner(
            str(url), on_scan=recorder.on_scan, on_status=recorder.on_status, **kw
        )
        made.append(scanner)
        scanner.start()
        return scanner

    yield make
    for scanner in made:
        scanner.stop()


@pytest.fixture
def usb(tmp_path: Path) -> Iterator[FakeUsbScanner]:
    device = FakeUsbScanner(tmp_path / "usb-Honeywell_Scanner_123-if00")
    yield device
    device.unplug()


# --- LineSplitter: pure, so every chunking can be tested exactly ------------------------------


def test_splitter_cuts_on_the_terminator_and_keeps_partial_lines():
    splitter = LineSplitter(b"\r", max_line=32)
    assert splitter.feed(b"HMI-000042\rHMI-0") == [b"HMI-000042"]
    assert splitter.feed(b"00043\r") == [b"HMI-000043"]
    assert splitter.feed(b"") == []


def test_splitter_crlf_split_across_reads():
    splitter = LineSplitter(b"\r\n", max_line=32)
    assert splitter.feed(b"HMI-000042\r") == []
    assert splitter.feed(b"\nHMI-000043\r") == [b"HMI-000042"]
    assert splitter.feed(b"\n") == [b"HMI-000043"]


def test_splitter_byte_by_byte():
    splitter = LineSplitter(b"\r\n", max_line=32)
    lines = [line for byte in b"AB\r\nCD\r\n" for line in splitter.feed(bytes([byte]))]
    assert lines == [b"AB", b"CD"]


def test_splitter_reports_an_over_long_line_once_and_skips_its_tail():
    splitter = LineSplitter(b"\r", max_line=8)
    first = splitter.feed(b"X" * 6)
    assert first == []
    second = splitter.feed(b"X" * 100)
    assert len(second) == 1
    assert isinstance(second[0], SerialRejected)
    assert second[0].reason is Reason.LINE_TOO_LONG
    assert "more than 8 bytes" in str(second[0])
    assert "plus de 8 octets" in second[0].message("fr")
    assert splitter.feed(b"X" * 10_000) == []  # same line still: not reported again
    assert splitter.feed(b"YYY\rGOOD\r") == [b"GOOD"]


def test_splitter_over_long_line_arriving_whole():
    splitter = LineSplitter(b"\r", max_line=8)
    [too_long, good] = splitter.feed(b"X" * 9 + b"\rGOOD\r")
    assert isinstance(too_long, SerialRejected) and too_long.reason is Reason.LINE_TOO_LONG
    assert good == b"GOOD"


def test_splitter_accepts_a_line_of_exactly_max_line_with_a_split_terminator():
    splitter = LineSplitter(b"\r\n", max_line=4)
    assert splitter.feed(b"ABCD\r") == []
    assert splitter.feed(b"\n") == [b"ABCD"]


def test_splitter_over_long_line_ends_on_a_split_terminator():
    splitter = LineSplitter(b"\r\n", max_line=4)
    assert len(splitter.feed(b"ABCDEFGH\r")) == 1
    assert splitter.feed(b"\nOK\r\n") == [b"OK"]


def test_splitter_discard_partial():
    splitter = LineSplitter(b"\r", max_line=32)
    splitter.feed(b"HMI-0")
    assert splitter.discard_partial() == b"HMI-0"
    assert splitter.discard_partial() == b""
    splitter.feed(b"AB\r\n")  # scanner sends CRLF, terminator set to CR: a stray LF waits
    assert splitter.discard_partial() == b""


@settings(deadline=None)  # a loaded CI machine must not fail it
@given(
    terminator=st.sampled_from([b"\r", b"\n", b"\r\n"]),
    lines=st.lists(st.binary(max_size=12).filter(lambda b: b"\r" not in b and b"\n" not in b)),
    cuts=st.lists(st.integers(0, 200)),
)
def test_splitter_result_does_not_depend_on_how_reads_are_cut(terminator, lines, cuts):
    stream = b"".join(line + terminator for line in lines)
    bounds = [0, *sorted(c for c in cuts if c < len(stream)), len(stream)]
    splitter = LineSplitter(terminator, max_line=12)
    got = [out for a, b in itertools.pairwise(bounds) for out in splitter.feed(stream[a:b])]
    assert got == lines


@pytest.mark.parametrize(("terminator", "max_line"), [(b"", 10), (b"\r", 0)])
def test_splitter_refuses_bad_arguments(terminator, max_line):
    with pytest.raises(ValueError):
        LineSplitter(terminator, max_line)


# --- loop:// --------------------------------------------------------------------------------


def test_loop_scans_flow(make_scanner, recorder):
    scanner = make_scanner("loop://")
    recorder.wait_state(ScannerState.CONNECTED)
    scanner.send(b"HMI-000042\rPBA0001234\r")
    assert recorder.wait_reads(2) == ["HMI-000042", "PBA0001234"]
    assert scanner.status.state is ScannerState.CONNECTED


@pytest.mark.parametrize(
    ("terminator", "sent"),
    [
        (b"\r", b"AB12\rCD34\r"),
        ("\r", b"AB12\rCD34\r"),
        (b"\n", b"AB12\nCD34\n"),
        ("\r\n", b"AB12\r\nCD34\r\n"),
        (b"\r\n", b"AB12\r\nCD34\r\n"),
    ],
)
def test_loop_terminator_variants(make_scanner, recorder, terminator, sent):
    scanner = make_scanner("loop://", terminator=terminator)
    recorder.wait_state(ScannerState.CONNECTED)
    scanner.send(sent)
    assert recorder.wait_reads(2) == ["AB12", "CD34"]


def test_loop_invalid_utf8_is_a_specific_error_and_reading_goes_on(make_scanner, recorder):
    scanner = make_scanner("loop://")
    recorder.wait_state(ScannerState.CONNECTED)
    scanner.send(b"HM\xff\xfe\x1b[A\rHMI-000042\r")
    garbled, good = recorder.wait_reads(2)
    assert isinstance(garbled, SerialRejected)
    assert garbled.reason is Reason.INVALID_UTF8
    assert garbled.details == {"byte": 0xFF, "position": 3}
    assert good == "HMI-000042"


def test_loop_over_long_line_is_reported_not_dropped(make_scanner, recorder):
    scanner = make_scanner("loop://", max_line=16)
    recorder.wait_state(ScannerState.CONNECTED)
    scanner.send(b"X" * 300)
    scanner.send(b"YYY\rHMI-000042\r")
    too_long, good = recorder.wait_reads(2)
    assert isinstance(too_long, SerialRejected)
    assert too_long.reason is Reason.LINE_TOO_LONG
    assert good == "HMI-000042"


def test_a_failing_callback_does_not_stop_the_reader(recorder, make_scanner):
    calls: list[str] = []

    def flaky(read):
        calls.append(read)
        if len(calls) == 1:
            raise RuntimeError("bug in the consumer")
        recorder.on_scan(read)

    scanner = SerialScanner("loop://", on_scan=flaky, on_status=recorder.on_status)
    scanner.start()
    try:
        recorder.wait_state(ScannerState.CONNECTED)
        scanner.send(b"FIRST\rSECOND\r")
        assert recorder.wait_reads(1) == ["SECOND"]
    finally:
        scanner.stop()


def test_status_timestamps_come_from_the_clock(make_scanner, recorder):
    clock = SimClock(start=1234.5)
    make_scanner("loop://", clock=clock)
    assert recorder.wait_state(ScannerState.CONNECTED).at == 1234.5


def test_restart_after_stop_and_stop_from_a_callback(recorder):
    scanner = SerialScanner("loop://", on_scan=lambda read: scanner.stop(),
                            on_status=recorder.on_status)
    for round_ in range(2):
        mark = len(recorder.statuses)
        scanner.start()
        recorder.wait_state(ScannerState.CONNECTED, after=mark)
        scanner.send(b"ANY\r")  # the callback stops the reader from inside its own thread
        recorder.wait_state(ScannerState.STOPPED, after=mark)
        scanner.stop()
        assert not scanner.running, round_


def test_start_twice_is_refused(make_scanner):
    scanner = make_scanner("loop://")
    with pytest.raises(RuntimeError, match="already running"):
        scanner.start()


def test_context_manager_and_send_when_not_connected(recorder, tmp_path):
    scanner = SerialScanner(tmp_path / "nothing", on_scan=recorder.on_scan,
                            on_status=recorder.on_status)
    with scanner:
        recorder.wait_state(ScannerState.ABSENT)
        with pytest.raises(ScannerNotConnected, match="no scanner connected"):
            scanner.send(b"beep")
    assert not scanner.running
    assert scanner.status.state is ScannerState.STOPPED


# --- a real pty behind a by-id style symlink -------------------------------------------------


def test_pty_unplug_and_replug(make_scanner, recorder, usb):
    usb.plug()
    scanner = make_scanner(usb.link, terminator=b"\r\n")
    recorder.wait_state(ScannerState.CONNECTED)
    usb.type(b"HMI-000042\r")
    usb.type(b"\n")
    assert recorder.wait_reads(1) == ["HMI-000042"]

    mark = len(recorder.statuses)
    usb.unplug()
    lost = recorder.wait_state(ScannerState.DISCONNECTED, after=mark)
    assert lost.port == str(usb.link)
    assert lost.error
    assert "disconnected" in lost.message("en") and "déconnecté" in lost.message("fr")
    absent = recorder.wait_state(ScannerState.ABSENT, after=mark)
    assert absent.errno == errno.ENOENT
    assert absent.message() == f"no scanner on {usb.link} — is it plugged in?"

    mark = len(recorder.statuses)
    usb.plug()
    recorder.wait_state(ScannerState.CONNECTED, after=mark)
    assert scanner.status.state is ScannerState.CONNECTED
    usb.type(b"PBA0001234\r\n")
    assert recorder.wait_reads(2)[1] == "PBA0001234"


def test_pty_partial_scan_at_unplug_is_noted(make_scanner, recorder, usb):
    usb.plug()
    make_scanner(usb.link)
    recorder.wait_state(ScannerState.CONNECTED)
    # The complete line after the half scan proves the reader has taken the half scan in.
    usb.type(b"HMI-000042\rHMI-0")
    recorder.wait_reads(1)
    usb.type(b"00")
    usb.unplug()
    lost = recorder.wait_state(ScannerState.DISCONNECTED)
    assert lost.discarded.startswith(b"HMI-0")
    assert f"partial read of {len(lost.discarded)} bytes discarded" in lost.message("en")
    assert "lecture partielle" in lost.message("fr")


def test_absent_from_the_start_then_plugged_in(make_scanner, recorder, usb):
    make_scanner(usb.link)
    absent = recorder.wait_state(ScannerState.ABSENT)
    assert absent.errno == errno.ENOENT
    assert "is it plugged in?" in absent.message("en")
    assert "est-il branché ?" in absent.message("fr")
    usb.plug()
    recorder.wait_state(ScannerState.CONNECTED)
    usb.type(b"HMI-000042\r")
    assert recorder.wait_reads(1) == ["HMI-000042"]


def test_pty_crlf_written_byte_by_byte(make_scanner, recorder, usb):
    usb.plug()
    make_scanner(usb.link, terminator="\r\n")
    recorder.wait_state(ScannerState.CONNECTED)
    for byte in b"AB12\r\nCD34\r\n":
        usb.type(bytes([byte]))
    assert recorder.wait_reads(2) == ["AB12", "CD34"]


def test_pty_garbage_from_a_wrong_baud_rate(make_scanner, recorder, usb):
    usb.plug()
    make_scanner(usb.link)
    recorder.wait_state(ScannerState.CONNECTED)
    usb.type(b"\x80\xe6\x1e\xf8\r")
    [garbled] = recorder.wait_reads(1)
    assert isinstance(garbled, SerialRejected) and garbled.reason is Reason.INVALID_UTF8


# --- stopping is immediate, whatever the timeouts ----------------------------------------------


def test_stop_interrupts_a_reconnect_wait(make_scanner, recorder, tmp_path):
    scanner = make_scanner(tmp_path / "nothing", reconnect_interval=3600)
    recorder.wait_state(ScannerState.ABSENT)
    scanner.stop()
    assert not scanner.running


def test_stop_interrupts_a_blocked_read(make_scanner, recorder, usb):
    usb.plug()
    scanner = make_scanner(usb.link, read_timeout=3600)
    recorder.wait_state(ScannerState.CONNECTED)
    scanner.stop()
    assert not scanner.running
    assert recorder.states[-1] is ScannerState.STOPPED


# --- open failures, classified by errno ------------------------------------------------------


def _failing_open(err: int, on_attempt: Callable[[], None] = lambda: None):
    """Stands for serial.serial_for_url on a port that fails to open with ``err``."""

    def serial_for_url(url, **kwargs):
        on_attempt()
        raise serial.SerialException(err, f"could not open port {url}: {os.strerror(err)}")

    return serial_for_url


def test_permission_denied(monkeypatch, make_scanner, recorder):
    monkeypatch.setattr(serial_scanner.serial, "serial_for_url", _failing_open(errno.EACCES))
    make_scanner("/dev/ttyACM0")
    denied = recorder.wait_state(ScannerState.PERMISSION_DENIED)
    assert denied.errno == errno.EACCES
    assert "Permission denied" in denied.error
    assert "dialout" in denied.message("en") and "dialout" in denied.message("fr")


def test_port_busy(monkeypatch, make_scanner, recorder):
    monkeypatch.setattr(serial_scanner.serial, "serial_for_url", _failing_open(errno.EBUSY))
    make_scanner("/dev/ttyACM0")
    busy = recorder.wait_state(ScannerState.UNAVAILABLE)
    assert busy.errno == errno.EBUSY
    assert "in use by another program" in busy.message()


def test_retries_wait_on_the_clock_and_repeat_no_status(monkeypatch, make_scanner, recorder):
    clock = SimClock(start=1000.0)
    attempts: list[float] = []
    four_attempts = threading.Event()

    def attempt():
        attempts.append(clock.now())
        if len(attempts) >= 4:
            four_attempts.set()

    monkeypatch.setattr(
        serial_scanner.serial, "serial_for_url", _failing_open(errno.ENOENT, attempt)
    )
    scanner = make_scanner("/dev/ttyACM0", clock=clock, reconnect_interval=0.5)
    assert four_attempts.wait(WAIT)
    scanner.stop()
    assert attempts[:4] == [1000.0, 1000.5, 1001.0, 1001.5]
    assert recorder.states == [ScannerState.ABSENT, ScannerState.STOPPED]


def test_errno_is_found_behind_pyserial_wrapping():
    try:
        try:
            raise OSError(errno.EIO, "Input/output error")
        except OSError as exc:
            raise serial.SerialException(f"read failed: {exc}")  # noqa: B904 (as pyserial does)
    except serial.SerialException as wrapped:
        assert wrapped.errno is None
        assert serial_scanner._errno_of(wrapped) == errno.EIO
