"""A step that holds a run open until the test lets it go: a gate file in a directory (so a
station in another process can be held too). Abort and the step budget still apply."""

import os
import time

from edge.plans import Param, step_type


@step_type("gate", params={"gate_dir": Param(str)}, measurements=("held",))
def gate(ctx):
    """Wait for ``<gate_dir>/open`` (real time: this is the test's hand on the run), then
    measure a constant so the step has something to show."""
    path = os.path.join(ctx.params["gate_dir"], "open")
    while not os.path.exists(path):
        ctx.check()  # abort or step budget
        time.sleep(0.01)  # a real-world gate polled in real time, not simulated time
    ctx.measure("held", 1.0)
