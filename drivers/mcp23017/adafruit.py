"""Adafruit's CircuitPython MCP23017 driver as an alternative :class:`Expander` backend.

Why it exists: an *independent* implementation of the same chip, run against the same
simulator, cross-checks our driver and the simulator at once (two codebases written from the
datasheet by different people agreeing on register contents is evidence neither one alone
gives). It is also a fallback backend selectable by configuration
(:func:`drivers.mcp23017.backends.make_expander`).

Two pieces:

* :class:`BlinkaI2C` gives ``adafruit_bus_device.I2CDevice`` the object it duck-types
  (``try_lock``/``unlock``/``writeto``/``readfrom_into``/``writeto_then_readfrom``) on top of our
  :class:`~drivers.i2c.bus.I2CBus`, so Adafruit's traffic gets the same lock, retries,
  errno-preserving errors and wire accounting as ours, and runs on the simulator unchanged.
  Each call is exactly one bus transaction of the shape Blinka would put on the wire.
* :class:`AdafruitExpander` translates :class:`Expander` calls into Adafruit's API the way an
  Adafruit user writes them: a ``DigitalInOut`` per pin for per-pin operations, the 16-bit
  register properties (``gpio``, ``iodir``, ``gppu``, ``ipol``, ``interrupt_*``,
  ``default_value``, ``io_control``, ``int_flag``, ``int_cap``) for port operations. It does not
  paper over Adafruit's behaviour; the differences are listed on the class and each one has a
  test against the simulator.

Importing this module never imports Blinka: Adafruit's package runs board detection at import
time and pulls ~15 distributions, so it is imported only when an
:class:`AdafruitExpander` is initialised.
"""

from __future__ import annotations

import errno as E
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from drivers.i2c.bus import I2CBus
from drivers.i2c.errors import I2CNackError, from_oserror
from drivers.mcp23017.config import ExpanderConfig, check_inputs, pin_number
from drivers.mcp23017.driver import InterruptSnapshot
from drivers.mcp23017.registers import ADDRESSES, BY_NAME, IOCON, register_name

_BANK1_IOCON = BY_NAME["IOCON"].bank1[0]  # 0x05: IOCON if BANK=1, GPINTENB if BANK=0

# Adafruit's mcp230xx keeps one module-global 3-byte _BUFFER for every instance ("explicitly
# not thread safe or re-entrant"), so two expanders on two different buses would still corrupt
# each other's transfers. One process-wide lock around every adapter operation prevents that.
_ADAFRUIT_BUFFER_LOCK = threading.RLock()


def _import_adafruit() -> tuple[Any, Any]:
    """(adafruit MCP23017 class, Blinka's digitalio module), imported on first use."""
    # Blinka 10 may offer to pip-install "platform dependencies" on a TTY; the station never
    # wants that. setdefault: an operator who set it explicitly wins.
    os.environ.setdefault("BLINKA_SKIP_DEPENDENCY_CHECK", "1")
    import digitalio
    from adafruit_mcp230xx.mcp23017 import MCP23017 as AdafruitMCP23017

    return AdafruitMCP23017, digitalio


def _window(buffer: Any, start: int, end: int | None) -> memoryview:
    """``buffer[start:end]`` without copying, so reads land in the caller's buffer."""
    if isinstance(buffer, str):  # busio accepts str for writes; so do we
        buffer = buffer.encode("latin-1")
    return memoryview(buffer).cast("B")[start:end]


class BlinkaI2C:
    """What ``adafruit_bus_device`` needs from a ``busio.I2C``, backed by an :class:`I2CBus`.

    Wire shapes (so the accounting is honest about what Blinka does on a Pi):

    * ``writeto`` with data: one write transaction, ``S addr+W d… P`` (1 + len bytes).
    * ``writeto`` with nothing: Adafruit's presence probe, ``S addr+W P`` (1 byte, a quick
      write). A NACK raises :class:`I2CNackError` (errno 121), which is an ``OSError`` as
      ``I2CDevice`` expects.
    * ``readfrom_into``: one read transaction from the chip's address pointer.
    * ``writeto_then_readfrom``: one combined transaction with a repeated START (one
      ``I2C_RDWR``), as Blinka does; never a write and a separate read, which would let another
      master move the pointer in between.

    ``try_lock`` takes the bus's own lock (re-entrant), so Adafruit's transfers serialise with
    our driver and gpiozero callbacks on other threads, which Blinka's per-object flag would not.
    """

    def __init__(self, bus: I2CBus) -> None:
        self.bus = bus

    def __repr__(self) -> str:
        return f"BlinkaI2C({self.bus.name})"

    def try_lock(self) -> bool:
        # Non-blocking, as busio's is: I2CDevice spins on it with sleep(0). AdafruitExpander
        # already holds this (re-entrant) lock around every call, so there it never spins.
        return self.bus.lock.acquire(blocking=False)

    def unlock(self) -> None:
        self.bus.lock.release()

    def writeto(self, address: int, buffer: Any, *, start: int = 0, end: int | None = None,
                stop: bool = True) -> None:
        data = _window(buffer, start, end)
        if not len(data):
            self._probe(address)
            return
        self.bus.write_read_messages(address, list(data), 0)

    def readfrom_into(self, address: int, buffer: Any, *, start: int = 0,
                      end: int | None = None, stop: bool = True) -> None:
        target = _window(buffer, start, end)
        if not len(target):
            # A zero-byte read cannot be expressed as an i2c_msg; the kernel rejects it too.
            raise ValueError("readfrom_into needs a buffer of at least one byte")
        target[:] = bytes(self.bus.write_read_messages(address, [], len(target)))

    def writeto_then_readfrom(self, address: int, buffer_out: Any, buffer_in: Any, *,
                              out_start: int = 0, out_end: int | None = None,
                              in_start: int = 0, in_end: int | None = None,
                              stop: bool = False) -> None:
        # Copy the outgoing bytes first: Adafruit passes the *same* buffer for both directions
        # (register byte at [0], data read into [1:]).
        out = list(_window(buffer_out, out_start, out_end))
        target = _window(buffer_in, in_start, in_end)
        if not out:
            self.readfrom_into(address, target)
            return
        if not len(target):
            self.bus.write_read_messages(address, out, 0)
            return
        target[:] = bytes(self.bus.write_read_messages(address, out, len(target)))

    def _probe(self, address: int) -> None:
        if not self.bus.probe(address):
            raise from_oserror(OSError(E.EREMOTEIO, os.strerror(E.EREMOTEIO)),
                               bus=self.bus.name, address=address, operation="probing")


class AdafruitExpander:
    """:class:`Expander` on top of ``adafruit_mcp230xx.mcp23017.MCP23017`` 2.6.2.

    Where Adafruit's driver behaves differently from ours (each pinned by a test against the
    simulator in ``tests/drivers/test_adafruit_backend.py``):

    * **No BANK=1 recovery.** Adafruit assumes BANK=0. A chip left in BANK=1 by an earlier run
      (no power cycle on a Pi reboot) gets every access on the wrong register. With
      ``recover_bank1=True`` (default) *this adapter* writes 0x00 to 0x05 before handing the
      chip to Adafruit, exactly as our driver's init does; that write is ours, not Adafruit's,
      and is counted in the init cost. With ``recover_bank1=False`` (pure Adafruit) the
      constructor's "IODIR=0xFFFF, IPOL=0, GPPU=0" land on IODIRA/IPOLA, GPINTENA/DEFVALA and
      two unimplemented addresses; :meth:`init`'s later 16-bit ``interrupt_enable = 0`` at 0x04
      then spills into 0x05 (IOCON in BANK=1) and leaves BANK=0 by accident, but port A's
      inputs stay inverted (IPOLA=0xFF). Nothing raises, so don't turn recovery off.
    * **IOCON is not written by Adafruit's constructor.** Its ``self.iocon = 0x4`` ("IRQ pins
      open drain") sets a Python attribute; the register property is ``io_control``. So
      :meth:`init` writes ``io_control`` itself, as an Adafruit user wanting open-drain INT has
      to. (``io_control``'s setter also silently clears BANK.)
    * **Read-modify-write from GPIO.** ``DigitalInOut.value = x`` reads GPIO (pin levels) and
      writes it back to GPIO→OLAT; Adafruit has no OLAT accessor at all, so a partial
      :meth:`write_port` must do the same. An output held low externally gets its *latch*
      cleared by the next write to any other pin; input levels (IPOL applied) are copied into
      the latch bits of input pins; and, because reading GPIO clears a port's pending
      interrupt, writing an output can lose an interrupt that has not been serviced yet.
    * **Direction before value.** ``switch_to_output(value)`` sets IODIR first, so the pin
      briefly drives the stale latch (a glitch our driver avoids by writing OLAT first).
    * ``switch_to_input()`` also writes the pin's IPOL bit (``invert_polarity=False`` by
      default), so :meth:`configure_input` clears a polarity set earlier for that pin.
    * **No identity check and no shadows.** Construction only probes the address; every
      per-pin change is RD16 + W16 (9 wire bytes instead of 3), every per-pin read is RD16.
    * **Interrupt service is two reads** (``int_flag`` then ``int_cap``), not one: an interrupt
      raised between them is cleared by the INTCAP read without its flag having been seen.
    * The constructor (``reset=True``, as users call it) makes all 16 pins inputs, GPA7/GPB7
      included, until :meth:`init` writes IODIR a few transactions later.

    The GPA7/GPB7-input policy (``allow_gp7_input``) is enforced by this adapter, since
    Adafruit's driver only documents the erratum.
    """

    def __init__(self, bus: I2CBus, address: int = 0x20, *, allow_gp7_input: bool = False,
                 recover_bank1: bool = True) -> None:
        if address not in ADDRESSES:
            raise ValueError(f"MCP23017 address must be 0x20..0x27, not 0x{address:02x}")
        self.bus = bus
        self.address = address
        self.allow_gp7_input = allow_gp7_input
        self.recover_bank1 = recover_bank1
        self.i2c = BlinkaI2C(bus)
        self.config = ExpanderConfig()
        self._mcp: Any = None
        self._pins: list[Any] = []
        self._digitalio: Any = None
        bus.describe_registers(address, lambda reg: register_name(reg, 0))

    def __repr__(self) -> str:
        return f"AdafruitExpander(0x{self.address:02x} on {self.bus.name})"

    @property
    def mcp(self) -> Any:
        """The underlying ``adafruit_mcp230xx.mcp23017.MCP23017`` (after :meth:`init`)."""
        if self._mcp is None:
            raise RuntimeError(f"{self!r}: call init() first (the chip's state is unknown)")
        return self._mcp

    @contextmanager
    def _exclusive(self) -> Iterator[Any]:
        """Adafruit's shared buffer, then our bus: RMW sequences are atomic for other threads."""
        mcp = self.mcp
        with _ADAFRUIT_BUFFER_LOCK, self.bus.lock:
            yield mcp

    # ---------------------------------------------------------------- initialisation
    def init(self, config: ExpanderConfig | None = None) -> None:
        config = config or ExpanderConfig()
        check_inputs(config.inputs, self.allow_gp7_input)
        adafruit_cls, digitalio = _import_adafruit()
        with _ADAFRUIT_BUFFER_LOCK, self.bus.lock:
            if self.recover_bank1:
                # Adapter workaround, not Adafruit: a leftover BANK=1 would make all of
                # Adafruit's BANK=0 addresses wrong. In BANK=0, 0x05 is GPINTENB: zeroing it
                # is harmless (interrupts are configured below anyway).
                self.i2c.writeto(self.address, bytes([_BANK1_IOCON, 0x00]))
            try:
                # Probe (zero-length write) + IODIR=0xFFFF, GPPU=0, IPOL=0.
                mcp = adafruit_cls(self.i2c, self.address)
            except ValueError as exc:
                # Adafruit turns the probe's OSError into a ValueError; give the station back
                # the errno and context every other backend reports.
                raise I2CNackError(
                    E.EREMOTEIO,
                    f"no device at 0x{self.address:02x} on {self.bus.name} ({exc})",
                    bus=self.bus.name, address=self.address, operation="probing",
                ) from exc
            # The constructor's `self.iocon = 0x4` never reaches the chip: write IOCON here.
            mcp.io_control = config.iocon()
            # Nothing may interrupt while the compare registers change (the constructor leaves
            # GPINTEN, DEFVAL, INTCON and OLAT as a previous run left them).
            mcp.interrupt_enable = 0x0000
            mcp.gpio = config.output_levels  # latch before direction: outputs start defined
            if config.pullups:  # the constructor already wrote GPPU=0 and IPOL=0
                mcp.gppu = config.pullups
            if config.polarity:
                mcp.ipol = config.polarity
            mcp.default_value = config.interrupt_defval
            mcp.interrupt_configuration = config.interrupt_compare
            if config.outputs:
                mcp.iodir = config.inputs
            mcp.clear_ints()  # a stale pending interrupt from before would otherwise stick
            if config.interrupt_enable:
                mcp.interrupt_enable = config.interrupt_enable
            self._mcp = mcp
            self._digitalio = digitalio
            self._pins = [mcp.get_pin(n) for n in range(16)]  # no bus traffic
            self.config = config

    # ---------------------------------------------------------------- outputs
    def write_pin(self, pin: int | str, level: bool) -> None:
        """``DigitalInOut.value = level``: RD16 of GPIO, then W16 to GPIO (→ OLAT)."""
        n = pin_number(pin)
        with self._exclusive():
            self._pins[n].value = bool(level)

    def write_port(self, value: int, mask: int = 0xFFFF) -> None:
        """``mcp.gpio = …``; with a partial mask, read-modify-write from GPIO (Adafruit has no
        OLAT property, so this is what its users can write)."""
        mask &= 0xFFFF
        if not mask:
            return
        with self._exclusive() as mcp:
            if mask == 0xFFFF:
                mcp.gpio = value & 0xFFFF
            else:
                mcp.gpio = (mcp.gpio & ~mask | value & mask) & 0xFFFF

    # ---------------------------------------------------------------- inputs
    def read_port(self, mask: int = 0xFFFF) -> int:
        """``mcp.gpio``: Adafruit reads both ports whatever the mask."""
        with self._exclusive() as mcp:
            return mcp.gpio & mask

    def read_pin(self, pin: int | str) -> bool:
        """``DigitalInOut.value``: reads both ports (RD16) for one bit."""
        n = pin_number(pin)
        with self._exclusive():
            return bool(self._pins[n].value)

    # ---------------------------------------------------------------- direction, pulls
    def set_outputs(self, outputs: int, levels: int | None = None) -> None:
        inputs = ~outputs & 0xFFFF
        check_inputs(inputs, self.allow_gp7_input)
        with self._exclusive() as mcp:
            if levels is not None:
                mcp.gpio = levels & 0xFFFF
            mcp.iodir = inputs

    def configure_output(self, pin: int | str, level: bool = False) -> None:
        """``DigitalInOut.switch_to_output(value=level)``: direction first, then value."""
        n = pin_number(pin)
        with self._exclusive():
            self._pins[n].switch_to_output(value=bool(level))

    def configure_input(self, pin: int | str, pull_up: bool = False) -> None:
        """``DigitalInOut.switch_to_input(pull=…)``; also clears the pin's IPOL bit."""
        n = pin_number(pin)
        check_inputs(1 << n, self.allow_gp7_input)
        with self._exclusive():
            pull = self._digitalio.Pull.UP if pull_up else None
            self._pins[n].switch_to_input(pull=pull)

    def set_inputs(self, inputs: int, pullups: int | None = None) -> None:
        """``mcp.gppu = pullups`` then ``mcp.iodir``: read-modify-write unless all 16 pins
        become inputs (Adafruit keeps no copy of IODIR)."""
        inputs &= 0xFFFF
        check_inputs(inputs, self.allow_gp7_input)
        with self._exclusive() as mcp:
            if pullups is not None:
                mcp.gppu = pullups & 0xFFFF
            mcp.iodir = 0xFFFF if inputs == 0xFFFF else mcp.iodir | inputs

    def set_pullups(self, mask: int) -> None:
        with self._exclusive() as mcp:
            mcp.gppu = mask & 0xFFFF

    def set_polarity(self, mask: int) -> None:
        with self._exclusive() as mcp:
            mcp.ipol = mask & 0xFFFF

    # ---------------------------------------------------------------- interrupts
    def configure_interrupts(
        self,
        enable: int,
        *,
        compare: int = 0,
        defval: int = 0,
        mirror: bool | None = None,
        open_drain: bool | None = None,
        active_high: bool | None = None,
    ) -> None:
        """``io_control`` read-modify-write (only if an IOCON option is given), then
        ``interrupt_enable``/``default_value``/``interrupt_configuration``/``interrupt_enable``.
        The first write disables interrupts so changing DEFVAL/INTCON cannot fire one; without
        shadows the adapter cannot know whether any were enabled, so it always pays for it."""
        with self._exclusive() as mcp:
            wanted = ((IOCON.MIRROR, mirror), (IOCON.ODR, open_drain), (IOCON.INTPOL, active_high))
            if any(want is not None for _, want in wanted):
                old = mcp.io_control
                iocon = old
                for bit, want in wanted:
                    if want is not None:
                        iocon = iocon | bit if want else iocon & ~bit
                if iocon != old:
                    mcp.io_control = iocon
            mcp.interrupt_enable = 0x0000
            mcp.default_value = defval & 0xFFFF
            mcp.interrupt_configuration = compare & 0xFFFF
            mcp.interrupt_enable = enable & 0xFFFF

    def service_interrupt(self, *, include_gpio: bool = False) -> InterruptSnapshot:
        """``int_flag`` (RD16 of INTF, clears nothing) then ``int_cap`` (RD16 of INTCAP, clears
        both ports); ``gpio`` as a third read if asked. ``clear_ints()`` would only repeat the
        INTCAP read, so it is not called."""
        with self._exclusive() as mcp:
            flags = mcp.int_flag  # list of pin numbers
            levels = mcp.int_cap  # list of 16 levels, pin order
            gpio = mcp.gpio if include_gpio else None
        return InterruptSnapshot(
            flags=sum(1 << p for p in flags),
            captured=sum(bit << p for p, bit in enumerate(levels)),
            gpio=gpio,
        )
