"""Step types every fixture-based plan uses: the fixture check and switching DUT power."""

from __future__ import annotations

from edge.engine.context import StationError, StepContext
from edge.plans.steptypes import Param, resource, step_type
from edge.products.ne555 import astable_design, has_ne555


@step_type("fixture_check", measurements=())
def fixture_check(ctx: StepContext) -> None:
    """Start of a run: the fixture's expanders answer and its identity straps read as
    expected, else ERROR (the station's fault) before anything is powered. Make it the first
    step and critical. It also initialises every fixture output to its inactive level."""
    start_run = getattr(ctx.fixture, "start_run", None)
    if start_run is None:
        raise StationError(f"fixture '{ctx.fixture.fixture_id}' cannot be checked")
    # A simulated DUT is built to the plan being run; real hardware ignores the design.
    design = astable_design(ctx.parameters) if has_ne555(ctx.parameters) else None
    report = start_run(ne555=design)
    ctx.log.info("%s", report.describe())


@step_type("dut_power", params={
    "relay": resource("relay", doc="the fixture relay that powers the DUT"),
    "on": Param(bool),
    "settle_s": Param(float, default=0.0, doc="wait after switching (supply rise, bounce)"),
}, measurements=())
def dut_power(ctx: StepContext) -> None:
    """Switch the DUT's supply relay on or off (off belongs in [[teardown]])."""
    ctx.resource("relay").set(ctx.params["on"])
    if ctx.params["settle_s"] > 0:
        ctx.sleep(ctx.params["settle_s"])
