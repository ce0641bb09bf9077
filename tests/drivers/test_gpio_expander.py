"""ExpanderFactory: real gpiozero devices on MCP23017 pins, against the register-accurate chip.

The Pi side is conftest's ``factory`` (a ``SimPiFactory`` on the ``clock`` SimClock). The INT
line is wired to GPIO17 through ``drivers.sim.wiring``, so edge detection runs the whole path:
chip input change → INT low → Pi pin falling edge → service read → gpiozero callbacks. Nothing
sleeps: time moves only when a test advances the clock.
"""

from __future__ import annotations

import gc
import threading

import pytest
from gpiozero import (
    LED,
    PWMLED,
    Button,
    DigitalInputDevice,
    DigitalOutputDevice,
    InputDevice,
)
from gpiozero.exc import (
    GPIOPinInUse,
    PinInvalidFunction,
    PinInvalidPin,
    PinInvalidPull,
    PinPWMUnsupported,
    PinSetInput,
)
from gpiozero.pins.mock import MockFactory

from drivers.gpio.expander import (
    ExpanderFactory,
    ExpanderGP7InputError,
    ExpanderPinWarning,
)
from drivers.i2c import Accounting, I2CBus
from drivers.i2c.accounting import Kind
from drivers.mcp23017.config import GP7InputError
from drivers.mcp23017.driver import MCP23017
from drivers.sim.mcp23017 import SimMCP23017
from drivers.sim.smbus import SimSMBus
from drivers.sim.wiring import Wiring

GPA0, GPA3, GPA5, GPA7, GPB0, GPB1 = 0, 3, 5, 7, 8, 9
INT_GPIO = 17
# BANK=0 addresses, by hand (the tests must not trust the register table they exercise).
IODIRA, IODIRB, GPINTENA, GPPUA, INTFA, OLATB = 0x00, 0x01, 0x04, 0x0C, 0x0E, 0x15


@pytest.fixture
def chip():
    return SimMCP23017(0x20)


@pytest.fixture
def bus(chip):
    return I2CBus(SimSMBus([chip]), name="sim:gpio", accounting=Accounting(keep_log=True))


@pytest.fixture
def expander(bus):
    return MCP23017(bus, 0x20)


@pytest.fixture
def wiring():
    w = Wiring()
    yield w
    w.disconnect_all()


@pytest.fixture
def int_pin(factory):
    return factory.pin(INT_GPIO)


@pytest.fixture
def int_line(wiring, chip, int_pin):
    return wiring.int_to_pi(chip, "A", int_pin)


@pytest.fixture
def xf(expander, factory, int_pin, int_line):
    f = ExpanderFactory(expander, ticks_from=factory, int_pin=int_pin)
    yield f
    f.close()


@pytest.fixture
def devices():
    """Make gpiozero devices that are closed even if the test fails (Button starts a thread)."""
    made = []

    def make(cls, *args, **kwargs):
        device = cls(*args, **kwargs)
        made.append(device)
        return device

    yield make
    for device in reversed(made):
        device.close()


def transactions(bus, since=0):
    return bus.accounting.log[since:]


def service_reads(bus, since=0):
    return [t for t in transactions(bus, since) if t.register == INTFA and t.kind == Kind.COMBINED]


# ------------------------------------------------------------------------ board and pins
def test_pins_answer_to_datasheet_names_numbers_and_strings(xf):
    assert xf.pin("GPB0") is xf.pin(8) is xf.pin("8") is xf.pin("B0")
    assert [xf.pin(n).info.name for n in (0, 7, 8, 15)] == ["GPA0", "GPA7", "GPB0", "GPB7"]
    with pytest.raises(PinInvalidPin):
        xf.pin("GPIO17")
    with pytest.raises(PinInvalidPin):
        xf.pin(16)


def test_board_info_is_one_header_of_sixteen_gpio_pins(xf):
    info = xf.board_info
    assert info.model == "MCP23017"
    (header,) = info.headers.values()
    assert len(header.pins) == 16
    assert all("gpio" in p.interfaces and p.pull == "" for p in header.pins.values())
    assert "GPA0" in f"{header:mono full}"  # gpiozero's own pretty-printer copes with it


def test_the_factory_brings_the_chip_to_a_known_state(xf, chip):
    assert chip.word("IODIR") == 0x7F7F  # inputs, GPA7/GPB7 outputs (the erratum)
    assert chip.word("OLAT") == 0x0000
    assert chip.word("GPINTEN") == 0x0000
    assert chip.word("IOCON") == 0x44  # MIRROR | ODR: one open-drain active-low line


def test_ticks_are_the_pi_factorys(xf, factory, clock):
    clock.advance(3.25)
    assert xf.ticks() == factory.ticks() == clock.now()
    assert xf.ticks_diff(clock.now() + 1.5, clock.now()) == 1.5


# ------------------------------------------------------------------------ outputs
def test_led_drives_olat_with_one_three_byte_write_per_change(xf, chip, bus, devices):
    led = devices(LED, "GPB0", pin_factory=xf)
    assert chip.is_output(GPB0) and chip.level(GPB0) is False
    for action, level in ((led.on, True), (led.off, False), (led.toggle, True)):
        with bus.accounting.measure() as span:
            action()
        assert chip.level(GPB0) is level
        assert chip.word("OLAT") == (1 << GPB0 if level else 0)
        assert (span.totals.transactions, span.totals.wire_bytes) == (1, 3)
    assert led.value == 1 and led.is_lit


def test_output_state_reads_cost_no_bus_traffic(xf, bus, devices):
    led = devices(LED, "GPB0", pin_factory=xf)
    led.on()
    with bus.accounting.measure() as span:
        assert led.value == 1 and led.pin.function == "output"
    assert span.totals.transactions == 0


def test_active_low_output_is_written_to_olat_before_iodir(xf, chip, bus, devices):
    levels = []
    chip.on_pin_change(lambda pin, level: pin == GPB1 and levels.append(level))
    since = len(bus.accounting.log)
    device = devices(DigitalOutputDevice, GPB1, active_high=False, pin_factory=xf)
    registers = [t.register for t in transactions(bus, since)]
    assert registers.index(OLATB) < registers.index(IODIRB)
    # The pin came up high (off) and never went low on the way: no glitch on the load.
    assert chip.level(GPB1) is True and levels == [True]
    device.on()
    assert chip.level(GPB1) is False


def test_outputs_written_from_two_threads_keep_each_others_bits(xf, chip, devices):
    # A latch is read-modify-write (the driver's shadow, the factory's record): two threads
    # writing two pins of one port (LED.blink's thread and the main one) must not write back a
    # latch missing the other's bit. Each thread owns its pin, so the pin must read back what
    # the thread last wrote, on the chip and in the factory's record.
    leds = {n: devices(LED, n, pin_factory=xf) for n in (GPB0, GPB1)}
    start = threading.Barrier(2)
    wrong = []

    def hammer(n):
        start.wait()
        for i in range(400):
            level = i % 2 == 0
            leds[n].value = level
            # Still ours after the other thread had its turn (checked again before the
            # next write): a write built from a stale latch would have flipped it.
            for _ in range(2):
                if chip.level(n) is not level or leds[n].value != level:
                    wrong.append((n, i))

    threads = [threading.Thread(target=hammer, args=(n,)) for n in leds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert chip.word("OLAT") == 0  # both ended with a write of 0


def test_setting_an_input_raises_pin_set_input(xf):
    pin = xf.pin(GPA0)
    pin.input_with_pull("up")
    with pytest.raises(PinSetInput):
        pin.state = 1


def test_pwm_is_not_supported(xf):
    with pytest.raises(PinPWMUnsupported):
        PWMLED("GPB0", pin_factory=xf)


# ------------------------------------------------------------------------ inputs
def test_button_reads_the_simulated_pin(xf, chip, wiring, devices):
    switch = wiring.button(chip, GPA3)
    button = devices(Button, GPA3, pin_factory=xf)
    assert button.pin.pull == "up" and chip.word("GPPU") == 1 << GPA3
    assert not button.is_pressed
    switch.press()
    assert button.is_pressed and button.value == 1
    switch.release()
    assert not button.is_pressed


def test_digital_input_device_with_an_external_pull(xf, chip, devices):
    device = devices(DigitalInputDevice, "GPA5", pull_up=None, active_state=True, pin_factory=xf)
    assert device.pin.pull == "floating"
    chip.drive(GPA5, True)
    assert device.value == 1
    chip.drive(GPA5, False)
    assert device.value == 0


def test_input_with_pull_writes_gppu_before_iodir(xf, bus):
    pin = xf.pin(GPA0)
    pin.output_with_state(False)
    since = len(bus.accounting.log)
    pin.input_with_pull("up")
    registers = [t.register for t in transactions(bus, since)]
    assert registers == [GPPUA, IODIRA]


# ------------------------------------------------------------------------ edges via INT
def test_when_pressed_fires_through_int_with_the_pi_edge_time(
    xf, chip, wiring, clock, devices, int_pin
):
    switch = wiring.button(chip, GPA3)
    button = devices(Button, GPA3, pin_factory=xf)
    pressed, released = [], []
    button.when_pressed = lambda: pressed.append(clock.now())
    button.when_released = lambda: released.append(clock.now())
    assert chip.word("GPINTEN") == 1 << GPA3

    clock.advance(1.5)
    t_press = clock.now()
    switch.press()
    assert pressed == [t_press]
    assert int_pin.state is True  # serviced: the line is released again
    clock.advance(0.25)
    # active_time is ticks() minus the ticks the device was given: exact only if those were
    # the edge's.
    assert button.active_time == 0.25
    switch.release()
    assert released == [t_press + 0.25]
    clock.advance(0.5)
    assert button.inactive_time == 0.5


def test_when_changed_gets_the_edge_ticks_not_the_service_time(
    xf, chip, expander, clock, monkeypatch
):
    pin = xf.pin(GPA0)
    pin.input_with_pull("up")
    calls = []

    def on_change(ticks, state):
        calls.append((ticks, state))

    pin.when_changed = on_change
    real_service = expander.service_interrupt

    def slow_service(**kwargs):
        clock.advance(0.004)  # the callback thread and the I2C read take time
        return real_service(**kwargs)

    monkeypatch.setattr(expander, "service_interrupt", slow_service)
    clock.advance(10)
    t_edge = clock.now()
    chip.drive(GPA0, False)
    assert calls == [(t_edge, False)]
    assert clock.now() == t_edge + 0.004


def test_one_service_read_per_edge(xf, chip, bus, wiring, devices):
    switch = wiring.button(chip, GPA3)
    # Not a Button: one left pressed makes gpiozero's hold thread wait hold_time in real time
    # before it can be joined.
    devices(DigitalInputDevice, GPA3, pull_up=True, pin_factory=xf)
    since = len(bus.accounting.log)
    switch.press()
    reads = service_reads(bus, since)
    assert len(reads) == 1
    assert reads[0].wire_bytes == 3 + 6  # address+W, register, address+R, 6 data bytes
    assert len(transactions(bus, since)) == 1  # and nothing else touched the bus


def test_interrupts_are_enabled_only_for_pins_with_a_callback(xf, chip, devices):
    devices(InputDevice, GPA0, pull_up=True, pin_factory=xf)  # no events: no interrupt
    assert chip.word("GPINTEN") == 0
    devices(DigitalInputDevice, GPA5, pin_factory=xf, pull_up=True)
    assert chip.word("GPINTEN") == 1 << GPA5
    pin = xf.pin(GPB0)
    pin.input_with_pull("up")

    def on_change(ticks, state):
        pass

    pin.when_changed = on_change
    assert chip.word("GPINTEN") == 1 << GPA5 | 1 << GPB0
    pin.edges = "none"
    assert chip.word("GPINTEN") == 1 << GPA5
    pin.edges = "both"
    pin.function = "output"  # outputs never interrupt
    assert chip.word("GPINTEN") == 1 << GPA5
    pin.function = "input"
    pin.when_changed = None
    assert chip.word("GPINTEN") == 1 << GPA5


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ("both", [False, True, False]),
        ("falling", [False, False]),
        ("rising", [True]),
    ],
)
def test_edges_select_what_fires(xf, chip, edges, expected):
    pin = xf.pin(GPA0)
    pin.input_with_pull("up")
    pin.edges = edges
    states = []

    def on_change(ticks, state):
        states.append(state)

    pin.when_changed = on_change
    for level in (False, True, False):
        chip.drive(GPA0, level)
    assert states == expected


def test_invalid_edges_and_bounce_are_refused(xf):
    from gpiozero.exc import PinInvalidBounce, PinInvalidEdges

    pin = xf.pin(GPA0)
    with pytest.raises(PinInvalidEdges):
        pin.edges = "sideways"
    with pytest.raises(PinInvalidBounce):
        pin.bounce = -1


def test_software_bounce_ignores_chatter_after_an_edge(xf, chip, wiring, clock, devices):
    switch = wiring.button(chip, GPA3)
    button = devices(Button, GPA3, bounce_time=0.05, pin_factory=xf)
    pressed, released = [], []
    button.when_pressed = lambda: pressed.append(clock.now())
    button.when_released = lambda: released.append(clock.now())
    t0 = clock.now()
    switch.press()
    for _ in range(3):  # contact chatter, 1 ms apart, inside the 50 ms window
        clock.advance(0.001)
        switch.release()
        clock.advance(0.001)
        switch.press()
    clock.advance(0.1)
    assert pressed == [t0] and released == []
    assert button.is_pressed
    switch.release()
    assert released == [clock.now()]


def test_a_change_swallowed_by_bounce_is_reported_when_the_window_ends(
    xf, chip, wiring, clock, devices
):
    switch = wiring.button(chip, GPA3)
    button = devices(Button, GPA3, bounce_time=0.05, pin_factory=xf)
    released = []
    button.when_released = lambda: released.append(clock.now())
    t0 = clock.now()
    switch.press()
    clock.advance(0.01)
    switch.release()  # a real release, but inside the window: no event yet
    assert released == []
    assert button.is_active is False  # (a fresh read of the pin is right already)
    clock.advance(0.1)
    # Reported when the window ends (t0 + 50 ms), stamped with the release's own time.
    assert released == [pytest.approx(t0 + 0.05)]
    assert button.inactive_time == pytest.approx(0.1)


def test_a_state_read_that_clears_a_pending_interrupt_loses_no_edge(
    xf, chip, wiring, devices, int_line, clock
):
    switch = wiring.button(chip, GPA3)
    button = devices(Button, GPA3, pin_factory=xf)
    pressed, released = [], []
    button.when_pressed = lambda: pressed.append(clock.now())
    button.when_released = lambda: released.append(clock.now())
    int_line.lose_edges(1)  # the kernel drops the press's edge event...
    switch.press()
    assert pressed == []
    assert button.is_pressed  # ...and this GPIO read clears the chip's interrupt
    clock.advance(0.2)
    switch.release()  # the next interrupt shows the pin was pressed in between
    assert len(pressed) == 1 and released == [clock.now()]


# ------------------------------------------------------------------------ the re-check
def test_recheck_services_a_change_that_arrived_during_the_read(
    xf, chip, expander, int_line, clock, monkeypatch
):
    pins = {n: xf.pin(n) for n in (GPA0, GPA5)}
    calls = []

    def on_change(ticks, state):
        calls.append((ticks, state))

    for pin in pins.values():
        pin.input_with_pull("up")
        pin.when_changed = on_change
    real_service = expander.service_interrupt
    late = []

    def service_with_a_late_change(**kwargs):
        snapshot = real_service(**kwargs)
        if not late:
            late.append(clock.now())
            # GPA5 falls just after the read, and the line's next edge is lost: only a
            # re-check of the INT level can find it.
            int_line.lose_edges(2)
            chip.drive(GPA5, False)
        return snapshot

    monkeypatch.setattr(expander, "service_interrupt", service_with_a_late_change)
    t_edge = clock.now()
    chip.drive(GPA0, False)
    assert calls == [(t_edge, False)]
    assert chip.int_level(0) is False  # GPA5's interrupt is pending, unseen
    clock.advance(0)  # the scheduled re-check runs once the callback has returned
    assert calls == [(t_edge, False), (t_edge, False)]
    assert chip.int_level(0) is True


def test_a_change_after_the_read_with_its_edge_intact_is_serviced_by_the_edge(
    xf, chip, expander, bus, clock, monkeypatch
):
    pin_a, pin_b = xf.pin(GPA0), xf.pin(GPB1)
    calls = []

    def on_change(ticks, state):
        calls.append((ticks, state))

    for pin in (pin_a, pin_b):
        pin.input_with_pull("up")
        pin.when_changed = on_change
    real_service = expander.service_interrupt
    late = []

    def service_then_port_b_changes(**kwargs):
        snapshot = real_service(**kwargs)
        if not late:
            late.append(True)
            clock.advance(0.002)
            # After the read: INT goes inactive, then active again (port B, through MIRROR).
            # The Pi sees that as a new falling edge, with its own time.
            chip.drive(GPB1, False)
        return snapshot

    monkeypatch.setattr(expander, "service_interrupt", service_then_port_b_changes)
    since = len(bus.accounting.log)
    t0 = clock.now()
    chip.drive(GPA0, False)
    assert calls == [(t0, False), (t0 + 0.002, False)]
    assert len(service_reads(bus, since)) == 2


def test_an_edge_arriving_while_servicing_is_handed_to_the_running_loop(xf, chip, bus, int_pin):
    pin = xf.pin(GPA0)
    pin.input_with_pull("up")
    calls = []

    def on_change(ticks, state):
        calls.append(state)
        if len(calls) == 1:
            # Another edge reaches the factory while its loop is still dispatching (another
            # thread on hardware): it must not start a second, concurrent service.
            xf._int_edge(xf.ticks())

    pin.when_changed = on_change
    since = len(bus.accounting.log)
    chip.drive(GPA0, False)
    assert calls == [False]
    assert len(service_reads(bus, since)) == 2  # the hand-over was serviced in the same loop


# ------------------------------------------------------------------------ refusals
def test_a_pin_in_use_raises_gpio_pin_in_use(xf, factory, devices):
    devices(LED, "GPB0", pin_factory=xf)
    with pytest.raises(GPIOPinInUse):
        LED(8, pin_factory=xf)
    # The Pi GPIO carrying INT is taken too: a Button there would steal its callback.
    with pytest.raises(GPIOPinInUse):
        Button(INT_GPIO, pin_factory=factory)


def test_pull_down_is_refused_with_a_way_out(xf, chip, devices):
    with pytest.raises(PinInvalidPull, match="no pull-down") as excinfo:
        Button(GPA0, pull_up=False, pin_factory=xf)
    assert "pull_up=None, active_state=True" in str(excinfo.value)
    # The refused device released the pin; the suggested form works.
    device = devices(DigitalInputDevice, GPA0, pull_up=None, active_state=True, pin_factory=xf)
    chip.drive(GPA0, True)
    assert device.is_active


def test_gp7_input_is_refused_as_a_gpiozero_error(xf, chip, devices):
    with pytest.raises(ExpanderGP7InputError, match="GPA7") as excinfo:
        Button("GPA7", pin_factory=xf)
    assert isinstance(excinfo.value, PinInvalidFunction)
    assert isinstance(excinfo.value, GP7InputError)
    assert chip.is_output(GPA7)  # untouched
    led = devices(LED, "GPA7", pin_factory=xf)  # fine as an output, and the pin is free
    led.on()
    assert chip.level(GPA7) is True


def test_gp7_input_when_the_driver_allows_it(bus, factory, int_pin, int_line, devices):
    expander = MCP23017(bus, 0x20, allow_gp7_input=True)
    xf = ExpanderFactory(expander, ticks_from=factory, int_pin=int_pin)
    try:
        button = devices(Button, "GPB7", pin_factory=xf)
        assert button.pin.function == "input"
        button.close()
        assert xf.pin("GPB7").function == "input"  # and closing leaves it an input
    finally:
        xf.close()


# ------------------------------------------------------------------------ close
def test_close_returns_pins_to_a_floating_input(xf, chip):
    led = LED("GPB0", pin_factory=xf)
    led.on()
    led.close()
    assert not chip.is_output(GPB0)
    button = Button(GPA3, pin_factory=xf)
    assert chip.word("GPPU") == 1 << GPA3 and chip.word("GPINTEN") == 1 << GPA3
    button.close()
    assert (chip.word("GPPU"), chip.word("GPINTEN")) == (0, 0)
    assert xf.pin(GPA3).edges == "both" and xf.pin(GPA3).bounce is None


def test_close_leaves_gp7_an_output_driven_low(xf, chip):
    led = LED("GPB7", pin_factory=xf)
    led.on()
    led.close()
    assert chip.is_output(15) and chip.level(15) is False


def test_closing_the_factory_releases_everything(expander, factory, int_pin, int_line, chip, clock):
    xf = ExpanderFactory(expander, ticks_from=factory, int_pin=int_pin)
    led = LED("GPB0", pin_factory=xf)
    led.on()
    button = Button(GPA3, pin_factory=xf)
    xf.close()
    xf.close()  # idempotent
    assert chip.word("IODIR") == 0x7F7F and chip.word("GPINTEN") == 0
    assert int_pin.when_changed is None
    Button(INT_GPIO, pin_factory=factory).close()  # the INT GPIO is free again
    led.close()
    button.close()


def test_close_survives_an_unplugged_fixture(xf, bus):
    led = LED("GPB0", pin_factory=xf)
    bus._smbus.inject("nack", count=-1)
    with pytest.warns(ExpanderPinWarning, match="could not return"):
        led.close()
    bus._smbus.clear_faults()


# ------------------------------------------------------------------------ weak references
def test_when_changed_is_held_weakly_like_gpiozeros_pins(xf, chip):
    pin = xf.pin(GPA0)
    pin.input_with_pull("up")
    pin.when_changed = lambda ticks, state: None  # nothing else holds it: gone at once
    gc.collect()
    assert pin.when_changed is None
    chip.drive(GPA0, False)  # the dead reference is noticed on the next edge...
    assert chip.word("GPINTEN") == 0  # ...and the chip stops interrupting for it


def test_a_bound_method_does_not_keep_its_object_alive(xf, chip):
    class Listener:
        def __init__(self):
            self.calls = []

        def changed(self, ticks, state):
            self.calls.append(state)

    pin = xf.pin(GPA0)
    pin.input_with_pull("up")
    listener = Listener()
    pin.when_changed = listener.changed
    chip.drive(GPA0, False)
    assert listener.calls == [False]
    del listener
    gc.collect()
    chip.drive(GPA0, True)
    assert pin.when_changed is None and chip.word("GPINTEN") == 0


# ------------------------------------------------------------------------ polling fallback
@pytest.fixture
def polled(expander, factory):
    f = ExpanderFactory(expander, ticks_from=factory, poll_interval=0.01)
    yield f
    f.close()


def test_polling_reports_changes_at_the_next_poll(polled, chip, wiring, clock, devices):
    switch = wiring.button(chip, GPA3)
    assert not polled.polling
    button = devices(Button, GPA3, pin_factory=polled)
    assert polled.polling
    pressed = []
    button.when_pressed = lambda: pressed.append(clock.now())
    t0 = clock.now()
    clock.advance(0.003)
    switch.press()
    assert pressed == []  # no INT line: nothing happens until the poll
    clock.advance(0.01)
    assert pressed == [t0 + 0.01]  # stamped with the poll's time, the best it knows


def test_polling_catches_a_pulse_shorter_than_the_interval(polled, chip, wiring, clock, devices):
    switch = wiring.button(chip, GPA3)
    button = devices(Button, GPA3, pin_factory=polled)
    pressed, released = [], []
    button.when_pressed = lambda: pressed.append(clock.now())
    button.when_released = lambda: released.append(clock.now())
    clock.advance(0.002)
    switch.press()
    clock.advance(0.002)
    switch.release()  # gone before the poll: INTF/INTCAP still hold it
    clock.advance(0.01)
    assert len(pressed) == 1 and len(released) == 1


def test_polling_stops_when_nothing_listens(polled, chip, bus, clock):
    button = Button(GPA3, pin_factory=polled)
    clock.advance(0.05)
    button.close()
    assert not polled.polling
    since = len(bus.accounting.log)
    clock.advance(1)
    assert transactions(bus, since) == []


def test_poll_thread_on_real_time(expander, chip):
    # No SimClock: the poller is a daemon thread. Wait for its callback on an event (no sleep,
    # no timing asserted), then check that closing stops and joins it.
    mock = MockFactory()
    xf = ExpanderFactory(expander, ticks_from=mock, poll_interval=0.001)
    try:
        pin = xf.pin(GPA0)
        pin.input_with_pull("up")
        seen = threading.Event()

        def on_change(ticks, state):
            seen.set()

        pin.when_changed = on_change
        poller = xf._poller
        assert poller is not None and poller.is_alive()
        chip.drive(GPA0, False)
        assert seen.wait(timeout=10)
    finally:
        xf.close()
    assert not poller.is_alive()


# ------------------------------------------------------------------------ INT variants
def test_push_pull_active_high_int(expander, factory, chip, wiring, clock):
    pin = factory.pin(27)
    wiring.int_to_pi(chip, "B", pin)
    xf = ExpanderFactory(
        expander, ticks_from=factory, int_pin=pin, int_open_drain=False, int_active_high=True
    )
    try:
        assert chip.word("IOCON") == 0x42  # MIRROR | INTPOL
        assert pin.edges == "rising" and pin.pull == "floating"
        expander_pin = xf.pin(GPA0)
        expander_pin.input_with_pull("up")
        calls = []

        def on_change(ticks, state):
            calls.append((ticks, state))

        expander_pin.when_changed = on_change
        chip.drive(GPA0, False)  # port A's change reaches INTB through MIRROR
        assert calls == [(clock.now(), False)]
    finally:
        xf.close()


def test_bad_int_configurations_are_refused(expander, factory):
    with pytest.raises(ValueError, match="open-drain"):
        ExpanderFactory(expander, ticks_from=factory, int_pin=factory.pin(4), int_active_high=True)
    other = MockFactory()
    with pytest.raises(ValueError, match="ticks_from"):
        ExpanderFactory(expander, ticks_from=factory, int_pin=other.pin(4))


def test_a_failed_service_is_retried_with_the_edges_time(xf, chip, bus, clock):
    pin = xf.pin(GPA0)
    pin.input_with_pull("up")
    calls = []

    def on_change(ticks, state):
        calls.append((ticks, state))

    pin.when_changed = on_change
    bus._smbus.inject("nack", count=3)  # first read and both of the bus wrapper's retries
    t_edge = clock.now()
    with pytest.warns(ExpanderPinWarning, match="retrying"):
        chip.drive(GPA0, False)
    assert calls == []
    clock.advance(xf.poll_interval)
    assert calls == [(t_edge, False)]


# ------------------------------------------------------------------------ fixture loopbacks
def test_loopback_expander_to_expander(factory, clock, wiring, devices):
    a, b = SimMCP23017(0x20), SimMCP23017(0x21)
    bus = I2CBus(SimSMBus([a, b]), name="sim:two")
    pin_a, pin_b = factory.pin(17), factory.pin(27)
    wiring.int_to_pi(a, "A", pin_a)
    wiring.int_to_pi(b, "A", pin_b)
    wiring.loopback(a, "GPB0", b, "GPA0")
    xa = ExpanderFactory(MCP23017(bus, 0x20), ticks_from=factory, int_pin=pin_a)
    xb = ExpanderFactory(MCP23017(bus, 0x21), ticks_from=factory, int_pin=pin_b)
    try:
        led = devices(LED, "GPB0", pin_factory=xa)
        sensor = devices(
            DigitalInputDevice, "GPA0", pull_up=None, active_state=True, pin_factory=xb
        )
        seen = []
        sensor.when_activated = lambda: seen.append(clock.now())
        clock.advance(2)
        led.on()
        assert sensor.is_active and seen == [clock.now()]
        clock.advance(0.5)
        led.off()
        assert not sensor.is_active and sensor.inactive_time == 0
    finally:
        led.close()
        sensor.close()
        xa.close()
        xb.close()


def test_loopback_expander_to_pi(xf, chip, factory, wiring, clock, devices):
    wiring.to_pi(chip, "GPB0", factory.pin(22))
    led = devices(LED, "GPB0", pin_factory=xf)
    pi_input = devices(DigitalInputDevice, 22, pull_up=None, active_state=True, pin_factory=factory)
    clock.advance(1)
    led.on()
    clock.advance(0.3)
    assert pi_input.is_active and pi_input.active_time == pytest.approx(0.3)


def test_loopback_pi_to_expander(xf, chip, factory, wiring, clock, devices):
    wiring.from_pi(factory.pin(22), chip, "GPA0")
    pi_led = devices(LED, 22, pin_factory=factory)
    sensor = devices(DigitalInputDevice, "GPA0", pull_up=None, active_state=True, pin_factory=xf)
    seen = []
    sensor.when_activated = lambda: seen.append(clock.now())
    clock.advance(4)
    pi_led.on()
    assert seen == [clock.now()] and sensor.value == 1
    pi_led.off()
    assert sensor.value == 0
