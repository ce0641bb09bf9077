"""The run engine: executes a loaded plan against a fixture, one step at a time, recording each
step durably before the next and publishing live events.

* :mod:`edge.engine.runner` - Runner, the Recorder protocol, FixtureBusy, InvalidSerial.
* :mod:`edge.engine.context` - StepContext (what a step function gets) and the outcome exceptions.
* :mod:`edge.engine.events` - the event dataclasses and the EventBus fan-out with replay.
* :mod:`edge.engine.timesync` - is the wall clock NTP-synchronised?
"""

from edge.engine.context import DutFailure, RunAborted, StationError, StepContext, StepTimeout
from edge.engine.events import (
    Event,
    EventBus,
    Gap,
    Log,
    MeasurementTaken,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    Subscription,
)
from edge.engine.runner import (
    Fixture,
    FixtureBusy,
    InvalidSerial,
    Recorder,
    Runner,
    StationInfo,
    utc_now_iso,
)
from edge.engine.timesync import ntp_synchronized

__all__ = [
    "DutFailure",
    "Event",
    "EventBus",
    "Fixture",
    "FixtureBusy",
    "Gap",
    "InvalidSerial",
    "Log",
    "MeasurementTaken",
    "Recorder",
    "RunAborted",
    "RunFinished",
    "RunStarted",
    "Runner",
    "StationError",
    "StationInfo",
    "StepContext",
    "StepFinished",
    "StepStarted",
    "StepTimeout",
    "Subscription",
    "ntp_synchronized",
    "utc_now_iso",
]
