"""MCP23017 driver on :class:`drivers.i2c.I2CBus`.

Principles (the chip facts behind them: docs/hardware-notes.md, "MCP23017"):

* **Assume nothing about the chip at start.** A Pi reboot does not power-cycle it, so a
  leftover BANK=1 or SEQOP=1 is recovered first (write 0 to 0x05: IOCON in BANK=1, a harmless
  GPINTENB in BANK=0), then every register is written and read back.
* **Shadow registers.** The driver knows what it wrote; a single output change is one 8-bit
  write to OLAT, never a read-modify-write (and never from GPIO, which holds pin levels).
* **16-bit in one transaction** where both ports change; 8 bits where only one does.
* **GPA7/GPB7 are never inputs** unless explicitly allowed (the rev D erratum).
* **Shadow read-modify-write under the bus lock.** The bus serialises single transactions;
  the shadow update around them must be atomic too, or two threads setting different pins
  lose one of the changes. The bus's own (reentrant) lock is used rather than a second one,
  so a callback arriving under the bus lock cannot deadlock against us.
"""

from drivers.i2c.bus import I2CBus
from drivers.i2c.errors import I2CError
from drivers.mcp23017.config import ExpanderConfig, check_inputs, pin_number
from drivers.mcp23017.registers import ADDRESSES, BY_NAME, IOCON, register_name
from drivers.named_tuple import NamedTuple

# BANK=0 addresses used directly (the driver always runs the chip in BANK=0, SEQOP=0).
_A = {r.name: r.bank0[0] for r in BY_NAME.values()}
_BANK1_IOCON = BY_NAME["IOCON"].bank1[0]  # 0x05


class ExpanderIdentityError(I2CError):
    """Something acknowledges at the address but does not behave like an MCP23017."""


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class InterruptSnapshot(NamedTuple):
    """One service read: which pins caused the interrupt and the ports as captured then."""

    flags: int  # INTF A | B << 8
    captured: int  # INTCAP A | B << 8
    gpio: int | None = None  # GPIO A | B << 8, if read in the same transaction

    def pins(self) -> list[int]:
        return [p for p in range(16) if self.flags >> p & 1]


def scan(bus: I2CBus) -> list[int]:
    """Addresses 0x20..0x27 that acknowledge (one zero-length write each)."""
    return [a for a in ADDRESSES if bus.probe(a)]


class MCP23017:
    def __init__(self, bus: I2CBus, address: int = 0x20, *, allow_gp7_input: bool = False):
        if address not in ADDRESSES:
            raise ValueError(f"MCP23017 address must be 0x20..0x27, not 0x{address:02x}")
        self.bus = bus
        self.address = address
        self.allow_gp7_input = allow_gp7_input
        self.config = ExpanderConfig()
        # Shadows of everything the driver writes, A | B << 8 (IOCON as one byte).
        self._shadow: dict[str, int] = {}
        bus.describe_registers(address, _describe_register)

    def __repr__(self) -> str:
        return f"MCP23017(0x{self.address:02x} on {self.bus.name})"

    # ---------------------------------------------------------------- initialisation
    def init(self, config: ExpanderConfig | None = None) -> None:
        """Bring the chip to ``config`` from any state it may have been left in."""
        config = config or ExpanderConfig()
        check_inputs(config.inputs, self.allow_gp7_input)
        with self.bus.lock:
            self._init(config)

    def _init(self, config: ExpanderConfig) -> None:
        iocon = config.iocon()
        a = self.address
        # 1. Leftover BANK=1 → BANK=0, SEQOP=0. (In BANK=0 this zeroes GPINTENB: harmless.)
        self.bus.write_byte_data(a, _BANK1_IOCON, 0x00)
        # 1b. Now surely in BANK=0, IOCON is at 0x0A. A chip left in BANK=0 with SEQOP=1 (byte
        #     mode) still has SEQOP=1, and the sequential burst below would toggle between
        #     IODIRA/IODIRB instead of walking the map. A single-byte write works in any mode.
        self.bus.write_byte_data(a, _A["IOCON"], iocon)
        # 2. What the pins are doing now. A reboot leaves outputs driving and pull-ups on, and
        #    the fixture may depend on them (a relay held on), so the transition below must
        #    not move any pin twice. One sequential read of 0x00..0x15; reading INTCAP and
        #    GPIO on the way also clears anything pending.
        now = self.bus.read_block(a, _A["IODIR"], 0x16)
        old_gppu = now[0x0C] | now[0x0D] << 8
        old_olat = now[0x14] | now[0x15] << 8
        outputs = config.outputs & 0xFFFF
        inputs = outputs ^ 0xFFFF
        # 3. Latch before direction: the new outputs get their level now, so they come up at
        #    it. Every other pin keeps its present latch bit: one that is still an output and
        #    becomes an input keeps driving what it drives until released.
        olat_first = (config.output_levels & outputs) | (old_olat & inputs)
        self.bus.write_word_data(a, _A["OLAT"], olat_first)
        # 4. Pull-ups before direction: the new inputs get theirs now, so they never float.
        #    A pin that is still an input and becomes an output keeps its present pull-up
        #    until it is driven (dropping it first would let a high pin fall, then rise).
        gppu_first = (config.pullups & inputs) | (old_gppu & outputs)
        self.bus.write_word_data(a, _A["GPPU"], gppu_first)
        # 5. IODIR..IOCON in one sequential burst; interrupts stay disabled until the end.
        block = [
            *_pair(config.outputs ^ 0xFFFF),  # IODIR: 1 = input
            *_pair(config.polarity),
            0, 0,  # GPINTEN
            *_pair(config.interrupt_defval),
            *_pair(config.interrupt_compare),
            iocon, iocon,
        ]
        self.bus.write_block(a, _A["IODIR"], block)
        # 6. The configured latch and pull-ups where they differ: only bits that no longer
        #    affect any pin (latch of inputs, pull-ups of outputs) are left to change.
        if olat_first != config.output_levels:
            self.bus.write_word_data(a, _A["OLAT"], config.output_levels)
        if gppu_first != config.pullups:
            self.bus.write_word_data(a, _A["GPPU"], config.pullups)
        # 7. Read back IODIR..INTCAP: proves it is an MCP23017, and reading INTCAP clears any
        #    interrupt raised during the steps above. Every register written so far is compared
        #    (0x00..0x0D): GPINTEN must read 0 and IOCON the same at both addresses, so a
        #    device answering every read with one constant byte fails for any config that
        #    is not all zeros.
        back = self.bus.read_block(a, _A["IODIR"], 0x12)
        expected = [*block, *_pair(config.pullups)]
        wrong = [r for r, want in enumerate(expected) if back[r] != want]
        if wrong:
            detail = ", ".join(f"{register_name(r, 0)} read {back[r]:#04x}, wrote "
                               f"{expected[r]:#04x}" for r in wrong[:4])
            raise ExpanderIdentityError(
                None,
                f"device at 0x{a:02x} on {self.bus.name} does not behave like an MCP23017 "
                f"({detail}{', …' if len(wrong) > 4 else ''})",
                bus=self.bus.name, address=a,
            )
        # 8. Interrupts last, from a clean state.
        if config.interrupt_enable:
            self.bus.write_word_data(a, _A["GPINTEN"], config.interrupt_enable)
        self._shadow = {
            "IODIR": config.outputs ^ 0xFFFF,
            "IPOL": config.polarity,
            "GPINTEN": config.interrupt_enable,
            "DEFVAL": config.interrupt_defval,
            "INTCON": config.interrupt_compare,
            "GPPU": config.pullups,
            "OLAT": config.output_levels,
            "IOCON": iocon,
        }
        self.config = config

    def _need_init(self) -> None:
        if not self._shadow:
            raise RuntimeError(f"{self!r}: call init() first (the chip's state is unknown)")

    # ---------------------------------------------------------------- register writes
    def _write(self, name: str, value: int, *, always_port: int | None = None,
               always_ports: tuple[int, ...] = ()) -> None:
        """Write the halves of a 16-bit register that differ from the shadow: one W8 if one
        port changed, one W16 if both. ``always_port`` (0/1) / ``always_ports`` are written
        even if unchanged: an explicit output command reaches the chip even if the shadow
        already agrees."""
        self._need_init()
        value &= 0xFFFF
        forced = {*always_ports, always_port}
        with self.bus.lock:
            old = self._shadow[name]
            changed = [((value ^ old) >> (8 * p)) & 0xFF != 0 or p in forced for p in (0, 1)]
            reg = _A[name]
            # Shadow first. Pin changes can reach a listener before the bus call returns (the
            # simulator delivers them when the transaction ends, on this thread), and a
            # listener that writes another pin re-enters here: it must build on this value,
            # not on the old one, or it rewrites the latch without our change and we then
            # overwrite the shadow without its change.
            self._shadow[name] = value
            try:
                if all(changed):
                    self.bus.write_word_data(self.address, reg, value)
                elif changed[0]:
                    self.bus.write_byte_data(self.address, reg, value & 0xFF)
                elif changed[1]:
                    self.bus.write_byte_data(self.address, reg + 1, value >> 8)
            except BaseException:
                # Not written (as far as we know): keep describing what the chip has.
                if self._shadow[name] == value:
                    self._shadow[name] = old
                raise

    @property
    def shadow(self) -> dict[str, int]:
        return dict(self._shadow)

    # ---------------------------------------------------------------- outputs
    def write_pin(self, pin: int | str, level: bool) -> None:
        """One output: a single 8-bit write to OLATA or OLATB (3 wire bytes)."""
        n = pin_number(pin)
        with self.bus.lock:
            olat = self._latch()
            value = olat | (1 << n) if level else olat & ~(1 << n)
            self._write("OLAT", value, always_port=n >> 3)

    def write_port(self, value: int, mask: int = 0xFFFF) -> None:
        """Set the output latch bits selected by ``mask`` to ``value``'s bits. Every port the
        mask touches is written, like :meth:`write_pin`, even if the shadow already agrees:
        both ports is one W16, one port one W8."""
        mask &= 0xFFFF
        ports = tuple(p for p in (0, 1) if mask >> (8 * p) & 0xFF)
        with self.bus.lock:
            olat = self._latch()
            self._write("OLAT", (olat & ~mask) | (value & mask), always_ports=ports)

    def _latch(self) -> int:
        self._need_init()
        return self._shadow["OLAT"]

    @property
    def output_latch(self) -> int:
        return self._latch()

    # ---------------------------------------------------------------- inputs
    def read_port(self, mask: int = 0xFFFF) -> int:
        """The pins in ``mask`` (GPIO A | B << 8; other bits 0) in one transaction: an 8-bit
        read when they all sit on one port, 16 bits otherwise. Reading a port's GPIO clears
        that port's pending interrupt."""
        mask &= 0xFFFF
        if mask and not mask & 0xFF00:
            return self.bus.read_byte_data(self.address, _A["GPIO"]) & mask
        if mask and not mask & 0x00FF:
            return (self.bus.read_byte_data(self.address, _A["GPIO"] + 1) << 8) & mask
        return self.bus.read_word_data(self.address, _A["GPIO"]) & mask

    def read_pin(self, pin: int | str) -> bool:
        """One pin: an 8-bit read of its port's GPIO register."""
        n = pin_number(pin)
        return bool(self.bus.read_byte_data(self.address, _A["GPIO"] + (n >> 3)) >> (n & 7) & 1)

    # ---------------------------------------------------------------- direction, pulls
    def set_outputs(self, outputs: int, levels: int | None = None) -> None:
        """Make the pins in ``outputs`` outputs and the rest inputs. With ``levels``, the
        latch is written first so new outputs come up at the requested level."""
        inputs = ~outputs & 0xFFFF
        check_inputs(inputs, self.allow_gp7_input)
        with self.bus.lock:
            if levels is not None:
                self._write("OLAT", levels)
            self._write("IODIR", inputs)

    def configure_output(self, pin: int | str, level: bool = False) -> None:
        """One pin to output at ``level``: OLAT first, then IODIR (no glitch)."""
        n = pin_number(pin)
        with self.bus.lock:
            self.write_pin(n, level)
            self._write("IODIR", self._shadow["IODIR"] & ~(1 << n))

    def configure_input(self, pin: int | str, pull_up: bool = False) -> None:
        """One pin to input; the pull-up is set before the direction changes."""
        n = pin_number(pin)
        check_inputs(1 << n, self.allow_gp7_input)
        self._need_init()
        with self.bus.lock:
            gppu = self._shadow["GPPU"]
            self._write("GPPU", gppu | (1 << n) if pull_up else gppu & ~(1 << n))
            self._write("IODIR", self._shadow["IODIR"] | (1 << n))

    def set_inputs(self, inputs: int, pullups: int | None = None) -> None:
        """Make ``inputs`` inputs (the rest keep their direction), pull-ups first: for 16 pins
        that is two 16-bit writes."""
        check_inputs(inputs, self.allow_gp7_input)
        self._need_init()
        with self.bus.lock:
            if pullups is not None:
                self._write("GPPU", pullups)
            self._write("IODIR", self._shadow["IODIR"] | inputs)

    def set_pullups(self, mask: int) -> None:
        self._write("GPPU", mask)

    def set_polarity(self, mask: int) -> None:
        """IPOL: inputs in ``mask`` read inverted."""
        self._write("IPOL", mask)

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
        """Interrupt-on-change for ``enable`` pins; pins in ``compare`` fire while they differ
        from ``defval`` instead of on any change. IOCON is changed read-modify-write from its
        shadow, so the other bits are never wiped."""
        self._need_init()
        with self.bus.lock:
            old = self._shadow["IOCON"]
            iocon = old
            for bit, want in ((IOCON.MIRROR, mirror), (IOCON.ODR, open_drain),
                              (IOCON.INTPOL, active_high)):
                if want is not None:
                    iocon = iocon | bit if want else iocon & ~bit
            if iocon != old:
                self._shadow["IOCON"] = iocon  # shadow first, as in _write
                try:
                    self.bus.write_byte_data(self.address, _A["IOCON"], iocon)
                except BaseException:
                    self._shadow["IOCON"] = old
                    raise
            self._write("GPINTEN", 0)  # disable while compare values change
            self._write("DEFVAL", defval)
            self._write("INTCON", compare)
            self._write("GPINTEN", enable)

    def service_interrupt(self, *, include_gpio: bool = False) -> InterruptSnapshot:
        """INTF A/B and INTCAP A/B (and GPIO A/B) in one sequential read from 0x0E. Reading
        INTCAP clears both ports' interrupts. After servicing, check the INT line's level again:
        a change that arrived meanwhile raises a new interrupt."""
        data = self.bus.read_block(self.address, _A["INTF"], 6 if include_gpio else 4)
        return InterruptSnapshot(
            flags=data[0] | data[1] << 8,
            captured=data[2] | data[3] << 8,
            gpio=(data[4] | data[5] << 8) if include_gpio else None,
        )

    def interrupt_flags(self) -> int:
        """INTF A | B << 8 (reading it clears nothing)."""
        return self.bus.read_word_data(self.address, _A["INTF"])

    def read_register(self, name: str) -> int:
        """A register pair straight from the chip (diagnostics; the shadow is not updated)."""
        if name == "IOCON":
            return self.bus.read_byte_data(self.address, _A["IOCON"])
        return self.bus.read_word_data(self.address, _A[name])


def _describe_register(address: int) -> str:
    # 0x05 is written first at init as the BANK reset: naming it only GPINTENB would send a
    # technician reading "no device at 0x20 (writing GPINTENB)" down the wrong path.
    if address == _BANK1_IOCON:
        return "IOCON (BANK reset; GPINTENB in BANK=0)"
    return register_name(address, 0)


def _pair(value: int) -> tuple[int, int]:
    return value & 0xFF, (value >> 8) & 0xFF
