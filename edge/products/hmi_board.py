"""The HMI kit I/O board: its MCP23017, every output, every button, INT, and the relay.

Step types, in the order a plan runs them (the DUT expander must be found and initialised by
``expander_present`` before the others touch it):

* ``expander_present`` - ``found``: the DUT's chip answers at its address and behaves like an
  MCP23017; it is initialised to the pin map in the fixture file. Missing is a FAIL (the board
  is bad or not seated), not an ERROR.
* ``output_walk`` - ``walking_one``, ``walking_zero``: every output of a loopback group driven
  alone high, then alone low, read back through the fixture; the value is ``"pass"`` or what is
  wrong, by name ("LED3 (GPA2) stuck low"). ``failed_pins``: the same as data, the DUT pins
  that read wrong in either walk as a mask (bit n = the DUT expander's pin n, GPA0 = bit 0,
  GPB7 = bit 15; limit ``expected = 0``), which screens draw without reading the words.
* ``input_walk`` - ``buttons``: the fixture presses each button in turn and the DUT must see that
  one, and only that one; ``failed_pins`` as for the outputs.
* ``interrupt_check`` - ``asserted``, ``flagged``, ``cleared``: interrupt-on-change on the
  buttons; a press pulls the Pi's INT line active, the service read flags that button's pin,
  and the line is released.
* ``relay_check`` - ``closed_when_on``, ``open_when_off``: the DUT's relay, through its contact.
"""

from __future__ import annotations

from drivers.mcp23017.config import PIN_NAMES
from drivers.mcp23017.driver import ExpanderIdentityError, scan
from edge.engine.context import DutFailure, StationError, StepContext
from edge.fixtures.resources import ExpanderHandle, InterruptLine, Sense, WireGroup
from edge.plans.steptypes import Param, resource, step_type
from edge.products.walks import PASS, Observation, Signal, diagnose, high_labels, wrong_pins

FAILED_PINS = "failed_pins"  # the walks' failing DUT pins as a mask (0: none)


def _settle(ctx: StepContext) -> None:
    if ctx.params["settle_s"] > 0:
        ctx.sleep(ctx.params["settle_s"])


@step_type("expander_present", params={"expander": resource("expander")},
           measurements=("found",))
def expander_present(ctx: StepContext) -> None:
    """Scan the bus for the DUT's expander, then initialise it to the fixture's pin map."""
    handle: ExpanderHandle = ctx.resource("expander")
    where = f"0x{handle.address:02x} on {handle.bus.name}"
    found = scan(handle.bus)
    if handle.address not in found:
        ctx.measure("found", False)
        raise DutFailure(f"DUT expander not found at {where} (answering: "
                         f"{_who(ctx, found)}) — is the board seated and powered?")
    try:
        handle.init()
    except ExpanderIdentityError as exc:
        ctx.measure("found", False)
        raise DutFailure(f"the DUT's device at {where} is not a working MCP23017: "
                         f"{exc}") from None
    ctx.measure("found", True)


def _who(ctx: StepContext, addresses: list[int]) -> str:
    """'0x21 (fixture), 0x22 (stimulus)': what answered, named from the fixture file."""
    names = {h.address: h.name for h in getattr(ctx.fixture, "handles", {}).values()}
    return ", ".join(f"0x{a:02x}" + (f" ({names[a]})" if a in names else "")
                     for a in addresses) or "nothing"


def _signals(group: WireGroup, *, inputs: bool = False) -> list[Signal]:
    return [Signal(group.describe(w), group.dut_pin(w).bit,
                   w.active_high if inputs else None) for w in group.wires]


@step_type("output_walk", params={
    "loopbacks": resource("loopbacks"),
    "settle_s": Param(float, default=0.0, doc="wait between writing and reading back"),
}, measurements=("walking_one", "walking_zero", FAILED_PINS))
def output_walk(ctx: StepContext) -> None:
    """Walking one, then walking zero, over every output in the loopback group."""
    group: WireGroup = ctx.resource("loopbacks")
    dut, mask = group.dut.expander, group.dut_mask
    signals = _signals(group)
    verdicts: dict[str, str] = {}
    failed = 0
    try:
        for name in ("walking_one", "walking_zero"):
            observations = []
            for signal in signals:
                expected = signal.bit if name == "walking_one" else mask & ~signal.bit
                dut.write_port(expected, mask)
                _settle(ctx)
                seen = group.read()
                if seen != expected:
                    ctx.log.info("%s, %s: wrote high %s, read high %s", name.replace("_", " "),
                                 signal.label, high_labels(signals, expected),
                                 high_labels(signals, seen))
                observations.append(Observation(expected, seen, signal.label))
            verdicts[name] = "; ".join(diagnose(signals, observations)) or PASS
            failed |= wrong_pins(signals, observations)
            ctx.measure(name, verdicts[name])
        ctx.measure(FAILED_PINS, failed)
    finally:
        dut.write_port(0, mask)  # every walked output off again
    wrong = [f"{name.replace('_', ' ')}: {v}" for name, v in verdicts.items() if v != PASS]
    if wrong:
        raise DutFailure("; ".join(wrong))


@step_type("input_walk", params={
    "drives": resource("drives"),
    "settle_s": Param(float, default=0.0, doc="wait between pressing and reading"),
}, measurements=("buttons", FAILED_PINS))
def input_walk(ctx: StepContext) -> None:
    """Nothing pressed, then each input driven alone: the DUT must see exactly that one."""
    group: WireGroup = ctx.resource("drives")
    dut, mask = group.dut.expander, group.dut_mask
    signals = _signals(group, inputs=True)
    released = sum(s.bit for s in signals if not s.active_level)  # idle levels, as DUT bits
    observations = []
    try:
        group.release_all()
        _settle(ctx)
        observations.append(Observation(released, dut.read_port(mask)))
        for wire, signal in zip(group.wires, signals, strict=True):
            group.press(wire.label)
            _settle(ctx)
            expected = released ^ signal.bit
            observations.append(Observation(expected, dut.read_port(mask), signal.label))
            group.release(wire.label)
    finally:
        group.release_all()
    verdict = "; ".join(diagnose(signals, observations)) or PASS
    ctx.measure("buttons", verdict)
    ctx.measure(FAILED_PINS, wrong_pins(signals, observations))
    if verdict != PASS:
        raise DutFailure(verdict)


@step_type("interrupt_check", params={
    "drives": resource("drives"),
    "interrupt": resource("interrupt"),
    "button": Param(str, default="", doc="label of the input to press (default: the first)"),
    "timeout_s": Param(float, default=0.05, doc="how long INT may take to move"),
}, measurements=("asserted", "flagged", "cleared"))
def interrupt_check(ctx: StepContext) -> None:
    """Interrupt-on-change on the group's inputs: press one, INT goes active, the service
    read flags that pin and releases INT."""
    group: WireGroup = ctx.resource("drives")
    line: InterruptLine = ctx.resource("interrupt")
    handle = group.dut
    dut, timeout = handle.expander, ctx.params["timeout_s"]
    try:
        wire = group.wire(ctx.params["button"]) if ctx.params["button"] else group.wires[0]
    except KeyError as exc:
        raise StationError(f"step '{ctx.step.name}': {exc.args[0]}") from None
    bit, label = group.dut_pin(wire).bit, group.describe(wire)
    problems = []
    try:
        dut.configure_interrupts(group.dut_mask, compare=0, mirror=handle.config.mirror,
                                 open_drain=handle.config.open_drain)
        dut.service_interrupt()  # anything pending from before is not this test's business
        if not ctx.wait_until(lambda: not line.active, timeout):
            raise DutFailure(f"INT ({line.pin_name}) is active before anything was pressed: "
                             "stuck low, or another input keeps interrupting")
        group.press(wire.label)
        asserted = ctx.wait_until(lambda: line.active, timeout)
        ctx.measure("asserted", asserted)
        if not asserted:
            problems.append(f"pressing {label} did not make INT ({line.pin_name}) active")
        flags = dut.service_interrupt().flags
        ctx.measure("flagged", flags == bit)
        if flags != bit:
            flagged = ", ".join(PIN_NAMES[p] for p in range(16) if flags >> p & 1) or "nothing"
            problems.append(f"the service read flagged {flagged}, expected {label}")
        cleared = ctx.wait_until(lambda: not line.active, timeout)
        ctx.measure("cleared", cleared)
        if not cleared:
            problems.append(f"INT ({line.pin_name}) stayed active after the service read")
    finally:
        group.release(wire.label)
        dut.configure_interrupts(0)
        dut.service_interrupt()  # the release interrupted too: clear it
    if problems:
        raise DutFailure("; ".join(problems))


@step_type("relay_check", params={
    "contact": resource("sense", doc="the fixture input on the DUT relay's contact"),
    "settle_s": Param(float, default=0.02, doc="relay operate/release time"),
}, measurements=("closed_when_on", "open_when_off"))
def relay_check(ctx: StepContext) -> None:
    """Energise the DUT's relay from its driver output: the contact closes; then it opens."""
    contact: Sense = ctx.resource("contact")
    coil = contact.source
    dut = ctx.fixture.resource(coil.expander).expander
    problems = []
    try:
        dut.write_pin(coil.pin, True)
        _settle(ctx)
        closed = contact.active
        ctx.measure("closed_when_on", closed)
        if not closed:
            problems.append(f"the relay contact did not close with {coil} on (coil, driver "
                            "or contact open)")
        dut.write_pin(coil.pin, False)
        _settle(ctx)
        opened = not contact.active
        ctx.measure("open_when_off", opened)
        if not opened:
            problems.append(f"the relay contact stayed closed with {coil} off (welded or "
                            "driver shorted)")
    finally:
        dut.write_pin(coil.pin, False)
    if problems:
        raise DutFailure("; ".join(problems))
