"""A register-accurate MCP23017 (datasheet DS20001952C; docs/hardware-notes.md, "MCP23017" and
"What the simulator implements").

The chip model sees the bus as the real chip does: a transaction starts, bytes are written
(the first one sets the address pointer) or read (from the pointer), the transaction stops.
The pointer auto-increments (SEQOP=0), toggles within an A/B pair (SEQOP=1, BANK=0) or stays
put (SEQOP=1, BANK=1), and persists across transactions. Pin levels come from OLAT for
outputs, from whatever the fixture drives (or the pull-up, or a floating default) for inputs.
Interrupts are captured and cleared per port exactly as the datasheet describes (summarised
in docs/hardware-notes.md, "Interrupts").

Two points the datasheet leaves open are options (``ipol_in_intcap``, ``ipol_in_compare``), and
so is what unimplemented addresses do; the defaults are the most plausible reading.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from drivers.mcp23017.registers import (
    BY_NAME,
    IOCON,
    IOCON_IMPLEMENTED_MASK,
    LAST_ADDRESS_BANK0,
    OUTPUT_ONLY_PINS,
    Port,
    decode,
)

PinListener = Callable[[int, bool], None]  # (pin 0..15, level)
IntListener = Callable[[Port, bool], None]  # (port, electrical level of INTA/INTB)

_PORT_REGISTERS = ("IODIR", "IPOL", "GPINTEN", "DEFVAL", "INTCON", "GPPU", "OLAT")

_PORTS = tuple(Port)  # (iterating the enum itself is slow, and this runs at every change)


# Plain classes, not dataclasses: `dataclasses` (with inspect, ast, dis) and its compiled
# methods cost every start several ms (issue 14).
class ChipOptions:
    """Behaviours of the simulated chip the datasheet leaves open."""

    def __init__(
        self,
        # An undriven input without pull-up: "low", "high" or "random" (seeded; floats are noisy).
        floating: str = "low",
        ipol_in_intcap: bool = True,  # [unverified] does INTCAP hold IPOL-applied values?
        ipol_in_compare: bool = True,  # [unverified] is DEFVAL compared with the IPOL-applied one?
        unimplemented_read: int = 0x00,  # what reading an unimplemented address returns
        # GPA7/GPB7 erratum: an input on pin 7/15 changing during a read corrupts the data byte.
        gp7_corruption: bool = False,
        seed: int = 0,
    ) -> None:
        self.floating = floating
        self.ipol_in_intcap = ipol_in_intcap
        self.ipol_in_compare = ipol_in_compare
        self.unimplemented_read = unimplemented_read
        self.gp7_corruption = gp7_corruption
        self.seed = seed

    def __repr__(self) -> str:
        return f"ChipOptions({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]  # mutable: unhashable, as the dataclass was


class _Faults:
    """Faults injected into the simulated chip's pins."""

    def __init__(self) -> None:
        self.stuck: dict[int, bool] = {}  # pin → level it is shorted to
        self.toggle_during_next_read: set[int] = set()


class SimMCP23017:
    """One simulated chip. Thread-safe: the bus and the fixture's signals may come from any
    thread. Signals leaving the chip (pin levels for loopbacks, INT lines for the Pi) are
    delivered after the current bus transaction ends, never in the middle of one, as on a real
    board where a Pi callback can only reach the chip once the bus is free again."""

    def __init__(self, address: int = 0x20, options: ChipOptions | None = None) -> None:
        if not 0x20 <= address <= 0x27:
            raise ValueError(f"MCP23017 address must be 0x20..0x27, not 0x{address:02x}")
        self.address = address
        self.options = options or ChipOptions()
        self.faults = _Faults()
        self._rng = random.Random(self.options.seed)
        self._lock = threading.RLock()
        self._pin_listeners: list[PinListener] = []
        self._int_listeners: list[IntListener] = []
        self._external: dict[int, bool] = {}  # input pins driven by the fixture
        self._floating = [self._float_level() for _ in range(16)]
        self._in_transaction = False
        self._gp7_glitch = False
        self._deferred: list[Callable[[], None]] = []
        self._delivering = False  # one thread at a time delivers queued signals, in order
        self.power_on_reset()

    # ------------------------------------------------------------------ state
    def power_on_reset(self) -> None:
        """Everything to the datasheet's POR values (as after a power cycle, or RESET low)."""
        with self._lock:
            self.reg = {name: [BY_NAME[name].por, BY_NAME[name].por] for name in _PORT_REGISTERS}
            self.iocon = 0
            self.intf = [0, 0]
            self.intcap = [0, 0]
            self.pointer = 0
            self._pending = [False, False]
            self._ref = [self._port_value(p) for p in Port]
            self._last_levels = self._levels()
            self._last_int = self._int_levels()

    def warm_start(self, **state: int) -> None:
        """Arbitrary leftover state, as after a Pi reboot that did not power-cycle the chip:
        ``warm_start(IOCON=0xA0, OLAT=0x1234, GPINTEN=0xFFFF, pointer=0x05)``. 16-bit values
        are A | B << 8."""
        unknown = sorted(set(state) - {*_PORT_REGISTERS, "IOCON", "pointer"})
        if unknown:
            # A typo, or a register that holds no state of its own (GPIO is the pins; INTF and
            # INTCAP come from events), must not pass silently as "leftover state".
            choices = ", ".join((*_PORT_REGISTERS, "IOCON", "pointer"))
            raise ValueError(f"warm_start cannot set {', '.join(unknown)}; choose from {choices}")
        with self._lock:
            for name, value in state.items():
                if name == "IOCON":
                    self.iocon = value & IOCON_IMPLEMENTED_MASK
                elif name == "pointer":
                    self.pointer = value
                else:
                    self.reg[name] = [value & 0xFF, (value >> 8) & 0xFF]
            self._ref = [self._port_value(p) for p in Port]
            self._after_change()
        self._flush()

    @property
    def bank(self) -> int:
        return 1 if self.iocon & IOCON.BANK else 0

    def word(self, name: str) -> int:
        """A register pair as A | B << 8 (IOCON as its single byte): for tests and debugging."""
        if name == "IOCON":
            return self.iocon
        values = {"INTF": self.intf, "INTCAP": self.intcap}.get(name) or self.reg[name]
        return values[0] | values[1] << 8

    # ------------------------------------------------------------------ pins
    def _float_level(self) -> bool:
        f = self.options.floating
        if f == "random":
            return self._rng.random() < 0.5
        if f not in ("low", "high"):
            raise ValueError(f"floating must be 'low', 'high' or 'random', not {f!r}")
        return f == "high"

    def _is_input(self, pin: int) -> bool:
        return bool(self.reg["IODIR"][pin >> 3] >> (pin & 7) & 1)

    def level(self, pin: int) -> bool:
        """The electrical level of a pin."""
        with self._lock:
            return self._level(pin)

    def _level(self, pin: int) -> bool:
        # With the lock held: the chip's own walks over its pins (every change re-derives all
        # 16 and both ports' interrupts) take it once, not once a pin.
        if pin in self.faults.stuck:
            return self.faults.stuck[pin]
        port, bit = pin >> 3, pin & 7
        if not self._is_input(pin):
            return bool(self.reg["OLAT"][port] >> bit & 1)
        if pin in self._external:
            return self._external[pin]
        if self.reg["GPPU"][port] >> bit & 1:
            return True
        return self._floating[pin]

    def _levels(self) -> int:
        """Every pin's level at once (bit n: pin n, GPA0..GPB7), by :meth:`_level`'s rules, the
        lock held. Each change re-derives them all and both ports' values for the interrupts:
        the bulk of what a fixture check costs on the simulated bus (issue 14)."""
        reg = self.reg
        inputs = reg["IODIR"][0] | reg["IODIR"][1] << 8
        levels = (reg["OLAT"][0] | reg["OLAT"][1] << 8) & ~inputs & 0xFFFF
        pulled_up = reg["GPPU"][0] | reg["GPPU"][1] << 8
        external, floating = self._external, self._floating
        for pin in range(16):
            if inputs >> pin & 1:
                level = external.get(pin)
                if level is None:
                    level = pulled_up >> pin & 1 or floating[pin]
                if level:
                    levels |= 1 << pin
        for pin, level in self.faults.stuck.items():
            levels = levels | 1 << pin if level else levels & ~(1 << pin)
        return levels

    def is_output(self, pin: int) -> bool:
        return not self._is_input(pin)

    def drive(self, pin: int, level: bool | None) -> None:
        """The fixture drives an input (True/False) or lets it go (None). Driving an output
        pin is recorded but has no effect while the chip drives it (outputs win; a real short
        would be a ``stick`` fault)."""
        with self._lock:
            if level is None:
                self._external.pop(pin, None)
            else:
                self._external[pin] = bool(level)
            if self._in_transaction and pin in OUTPUT_ONLY_PINS and self._is_input(pin):
                self._gp7_glitch = True
            self._after_change()
        self._flush()

    def stick(self, pin: int, level: bool | None) -> None:
        """Fault: the pin is shorted to VDD (True) or GND (False); None removes the fault."""
        with self._lock:
            if level is None:
                self.faults.stuck.pop(pin, None)
            else:
                self.faults.stuck[pin] = bool(level)
            self._after_change()
        self._flush()

    # ------------------------------------------------------------------ listeners
    def on_pin_change(self, listener: PinListener) -> None:
        self._pin_listeners.append(listener)

    def on_int_change(self, listener: IntListener) -> None:
        self._int_listeners.append(listener)

    def int_level(self, port: Port) -> bool:
        """Electrical level of INTA/INTB; an open-drain output that is released reads high
        (the Pi pin's pull-up)."""
        with self._lock:
            return self._int_levels()[port]

    def int_active(self, port: Port) -> bool:
        with self._lock:
            return self._int_active(port)

    def _int_active(self, port: Port) -> bool:
        if self.iocon & IOCON.MIRROR:
            return self._pending[0] or self._pending[1]
        return self._pending[port]

    def _int_levels(self) -> tuple[bool, bool]:
        out = []
        for port in _PORTS:
            active = self._int_active(port)
            if self.iocon & IOCON.ODR:
                out.append(not active)  # driven low when active, released (pulled up) otherwise
            else:
                active_high = bool(self.iocon & IOCON.INTPOL)
                out.append(active == active_high)
        return out[0], out[1]

    # ------------------------------------------------------------------ port values
    def _port_value(self, port: int, apply_ipol: bool = True, levels: int | None = None) -> int:
        """What a GPIO read returns: pin levels (``levels``, when the caller has them at hand),
        inputs inverted where IPOL is set."""
        raw = (self._levels() if levels is None else levels) >> (port * 8) & 0xFF
        if apply_ipol:
            raw ^= self.reg["IPOL"][port] & self.reg["IODIR"][port]
        return raw

    # ------------------------------------------------------------------ interrupts
    def _evaluate_interrupts(self, levels: int | None = None) -> None:
        # Raising an interrupt changes no pin: one reading of the levels serves both ports.
        if levels is None:
            levels = self._levels()
        for port in _PORTS:
            if self._pending[port]:
                continue  # further changes raise nothing and INTCAP holds
            enabled = self.reg["GPINTEN"][port] & self.reg["IODIR"][port]
            value = self._port_value(port, self.options.ipol_in_compare, levels)
            intcon = self.reg["INTCON"][port]
            against_defval = (value ^ self.reg["DEFVAL"][port]) & intcon
            against_previous = (value ^ self._ref[port]) & ~intcon & 0xFF
            cause = (against_defval | against_previous) & enabled
            if cause:
                self._pending[port] = True
                self.intf[port] = cause
                self.intcap[port] = self._port_value(port, self.options.ipol_in_intcap, levels)
            else:
                self._ref[port] = value

    def _clear_interrupt(self, port: int) -> None:
        """A read of GPIOx or INTCAPx clears the port's interrupt; the reference for
        compare-to-previous becomes the state at clearing. In DEFVAL mode the condition, if it
        persists, raises the interrupt again at once: INT cannot be cleared while it lasts."""
        if not self._pending[port]:
            return
        self._pending[port] = False
        self.intf[port] = 0
        self._ref[port] = self._port_value(port, apply_ipol=self.options.ipol_in_compare)
        self._evaluate_interrupts()

    def _after_change(self) -> None:
        """Re-derive pins and INT after anything changed; queue the outgoing signals. Runs
        with the lock held, so it only queues: callers deliver with :meth:`_flush` once they
        have released the lock."""
        levels = self._levels()
        self._evaluate_interrupts(levels)
        changed = levels ^ self._last_levels
        self._last_levels = levels
        ints = self._int_levels()
        int_changes = [(p, ints[p]) for p in _PORTS if ints[p] != self._last_int[p]]
        self._last_int = ints
        for pin in range(16):
            if changed >> pin & 1:
                level = bool(levels >> pin & 1)
                for listener in list(self._pin_listeners):
                    self._deferred.append(lambda li=listener, p=pin, v=level: li(p, v))
        for port, level in int_changes:
            for listener in list(self._int_listeners):
                self._deferred.append(lambda li=listener, p=port, v=level: li(p, v))

    def _flush(self) -> None:
        """Deliver queued signals: never during a bus transaction, and never while holding the
        chip's lock. A listener may use the bus (the Pi-side INT callback services the chip);
        under our lock it would wait for the bus lock while a thread holding the bus lock
        waits for ours in ``begin()``: a deadlock. Only one thread delivers at a time, so
        listeners see events in the order they happened; events queued meanwhile (also by a
        listener's own actions) are picked up by the delivering thread's loop."""
        with self._lock:
            if self._delivering:
                return
            self._delivering = True
        try:
            while True:
                with self._lock:
                    if not self._deferred or self._in_transaction:
                        # Checked and released under the lock: an event queued after this
                        # finds _delivering False, and its own thread delivers it.
                        self._delivering = False
                        return
                    todo, self._deferred = self._deferred, []
                for fn in todo:
                    fn()
        except BaseException:
            with self._lock:
                self._delivering = False
            raise

    # ------------------------------------------------------------------ bus side
    def begin(self) -> None:
        with self._lock:
            self._in_transaction = True
            self._gp7_glitch = False
            self._pointer_set = False

    def end(self) -> None:
        with self._lock:
            self._in_transaction = False
        self._flush()

    def write_byte(self, value: int) -> None:
        """A byte the master wrote: the first of a transaction sets the pointer."""
        with self._lock:
            if not self._pointer_set:
                self.pointer = value & 0xFF
                self._pointer_set = True
                return
            self._write_register(self.pointer, value & 0xFF)
            self._advance_pointer()

    def read_byte(self) -> int:
        with self._lock:
            for pin in sorted(self.faults.toggle_during_next_read):
                # The fault toggles an input *during* this read, as a button bounce would.
                self.drive(pin, not self.level(pin))
            self.faults.toggle_during_next_read.clear()
            value = self._read_register(self.pointer)
            if self.options.gp7_corruption and self._gp7_glitch:
                value ^= 1 << self._rng.randrange(8)  # a corrupted bit on SDA
            self._advance_pointer()
            return value

    def _advance_pointer(self) -> None:
        seqop_disabled = self.iocon & IOCON.SEQOP
        if seqop_disabled:
            if not self.bank:
                self.pointer ^= 1  # byte mode, BANK=0: toggles within the A/B pair
            return
        if self.bank:
            # [unverified] BANK=1 sequential crossing of the 0x0A-0x10 gap is undocumented;
            # we step linearly and let the unimplemented addresses read as configured.
            self.pointer = (self.pointer + 1) & 0x1F
        else:
            self.pointer = 0 if self.pointer >= LAST_ADDRESS_BANK0 else self.pointer + 1

    def _read_register(self, address: int) -> int:
        hit = decode(address, self.bank)
        if hit is None:
            return self.options.unimplemented_read
        reg, port = hit
        if reg.name == "IOCON":
            return self.iocon
        if reg.name == "GPIO":
            value = self._port_value(port)
            self._clear_interrupt(port)  # clears after the data's LSb is clocked out
            self._after_change()
            return value
        if reg.name == "INTCAP":
            value = self.intcap[port]
            self._clear_interrupt(port)
            self._after_change()
            return value
        if reg.name == "INTF":
            return self.intf[port]  # reading INTF clears nothing
        return self.reg[reg.name][port]

    def _write_register(self, address: int, value: int) -> None:
        hit = decode(address, self.bank)
        if hit is None:
            return  # unimplemented: ignored
        reg, port = hit
        if not reg.writable:
            return  # INTF, INTCAP are read-only; writes are ignored
        if reg.name == "IOCON":
            self.iocon = value & IOCON_IMPLEMENTED_MASK  # the map switches right away
        elif reg.name == "GPIO":
            self.reg["OLAT"][port] = value  # a GPIO write goes to the latch
        else:
            old_enable = self.reg["GPINTEN"][port]
            self.reg[reg.name][port] = value
            if reg.name in ("GPINTEN", "INTCON", "IODIR") and not self._pending[port]:
                # Newly enabled compare-to-previous pins start from the present state.
                newly = self.reg["GPINTEN"][port] & ~old_enable
                current = self._port_value(port, apply_ipol=self.options.ipol_in_compare)
                self._ref[port] = (self._ref[port] & ~newly) | (current & newly)
        self._after_change()
