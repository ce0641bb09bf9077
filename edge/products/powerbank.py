"""PowerBank-Foolish: its NE555 keep-alive must start after power-on and pulse within limits.

Step types (the DUT-power relay is :func:`edge.products.common.dut_power`):

* ``wait_first_pulse`` measures ``first_pulse``: seconds from the relay switching the DUT on to
  the start of the first keep-alive pulse (its limits: ``derive = "ne555", quantity =
  "first_pulse"``). No pulse in time is a FAIL with the reason.
* ``pulse_timing`` measures ``pulse_width``, ``gap``, ``period`` and ``duty`` (means over
  ``cycles`` complete cycles) with :class:`~drivers.timing.pulses.PulseCapture`. The period's
  high limit is also how long a good unit may take per cycle, so it sets the capture's
  deadlines.

Which level is the pulse comes from the plan's ``pulse`` parameter, like the limits do.
"""

from __future__ import annotations

from drivers.timing.pulses import NoPulsesError, TooFewCyclesError
from edge.engine.context import DutFailure, StationError, StepContext
from edge.fixtures.resources import PulseInput, Relay
from edge.plans.steptypes import Param, resource, step_type
from edge.products.ne555 import pulse_polarity

TIMING = ("pulse_width", "gap", "period", "duty")
# Without an explicit within_s, wait this much beyond the first pulse's upper limit: the limit
# is the verdict, the extra only makes sure a late pulse is measured (and FAILs) rather than
# missed.
_PATIENCE = 1.2


@step_type("wait_first_pulse", params={
    "input": resource("pulse_input"),
    "relay": resource("relay", doc="the relay that powered the DUT: time is counted from it"),
    "within_s": Param(float, default=0.0, doc="patience; 0 = 1.2 × the limit's high"),
}, measurements=("first_pulse",))
def wait_first_pulse(ctx: StepContext) -> None:
    """The first keep-alive pulse after power-on, timed from the relay switching on."""
    pulse_in: PulseInput = ctx.resource("input")
    relay: Relay = ctx.resource("relay")
    if not relay.is_on or relay.switched_at is None:
        raise StationError(f"relay '{relay.name}' is off: switch the DUT on (a dut_power "
                           "step) before waiting for its first pulse")
    pulse_level = pulse_polarity(ctx.parameters) == "high"
    within = ctx.params["within_s"]
    if within <= 0:
        high = ctx.step.measurements["first_pulse"].high
        if high is None:
            raise StationError(f"step '{ctx.step.name}': give within_s or a high limit for "
                               "first_pulse: nothing says how long to wait")
        within = high * _PATIENCE
    t0 = relay.switched_at

    def this_boards(e) -> bool:
        # At the instant of power-on the output can only rise (unpowered it is held low, and a
        # 555 starts in its high phase): a fall stamped at that very instant is the previous
        # board's output dying as the last run's teardown cut its power. The simulation stamps
        # both at one instant when a run follows an abort; it was measured as first_pulse = 0.
        return e.level or pulse_in.factory.ticks_diff(e.ticks, t0) > 0

    def first_pulse():
        return next((e for e in pulse_in.edges_since(t0)
                     if e.level == pulse_level and this_boards(e)), None)

    remaining = t0 + within - ctx.clock.now()
    if not ctx.wait_until(lambda: first_pulse() is not None, max(remaining, 0.0)):
        ctx.measure("first_pulse", None)
        raise DutFailure(f"no keep-alive pulse on {pulse_in.pin_name} within {within:.1f} s "
                         "of power-on: is the 555 fitted and running?")
    edge = first_pulse()
    ctx.measure("first_pulse", pulse_in.factory.ticks_diff(edge.ticks, t0))


@step_type("pulse_timing", params={
    "input": resource("pulse_input"),
    "cycles": Param(int, default=3, doc="complete cycles to average over"),
    "glitch_filter_s": Param(float, default=0.002, doc="pulses/gaps shorter than this are noise"),
}, measurements=TIMING)
def pulse_timing(ctx: StepContext) -> None:
    """Pulse width, gap, period and duty of the keep-alive, means over N cycles."""
    pulse_in: PulseInput = ctx.resource("input")
    period = ctx.step.measurements["period"]
    if period.high is None:
        raise StationError(f"step '{ctx.step.name}': period needs a high limit; it is also "
                           "how long a cycle may take, so it sets the capture's deadlines")
    capture = pulse_in.capture(polarity=pulse_polarity(ctx.parameters),
                               cycles=ctx.params["cycles"], expected_period=period.high,
                               glitch_filter=ctx.params["glitch_filter_s"])
    try:
        if capture.overall_timeout > ctx.remaining:
            raise StationError(
                f"step '{ctx.step.name}': {ctx.params['cycles']} cycles may take up to "
                f"{capture.overall_timeout:.0f} s but the step's timeout leaves "
                f"{ctx.remaining:.0f} s; raise the step's timeout")
        stats = capture.measure()
    except NoPulsesError as exc:
        for name in TIMING:
            ctx.measure(name, None)
        raise DutFailure(f"{exc}: the keep-alive has stopped") from None
    except TooFewCyclesError as exc:
        for name in TIMING:  # partial statistics are evidence: keep them in the record
            ctx.measure(name, getattr(exc.stats, name).mean if exc.stats else None)
        raise DutFailure(_too_few(ctx, exc)) from None
    finally:
        capture.close()
    if stats.glitches_dropped or stats.lost_edges:
        ctx.log.warning("%d glitches dropped, %d lost edges on %s", stats.glitches_dropped,
                        stats.lost_edges, pulse_in.pin_name)
    ctx.log.info("%d cycles on %s: period %.4f s (%.4f-%.4f), pulse %.4f s (%.4f-%.4f)",
                 stats.n, pulse_in.pin_name, stats.period.mean, stats.period.min,
                 stats.period.max, stats.pulse_width.mean, stats.pulse_width.min,
                 stats.pulse_width.max)
    for name in TIMING:
        ctx.measure(name, getattr(stats, name).mean)


def _too_few(ctx: StepContext, exc: TooFewCyclesError) -> str:
    """A board too slow for its limits runs out of time before N cycles: say what is out of
    limits in the cycles it did complete, which is the finding, rather than only 'too few'."""
    bad = [m for m in ctx.measurements.values() if m.value is not None and not m.outcome.passed]
    if not bad:
        return str(exc)
    found = "; ".join(f"{m.name} = {m.value:.4g} {m.units}".rstrip() +
                      f" outside {m.limits.describe()}" for m in bad)
    return f"{found} (over {exc.got} of {exc.wanted} cycles, then out of time)"
