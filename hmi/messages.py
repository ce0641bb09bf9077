"""The HMI's message vocabulary: what workers tell the screen. Workers never touch widgets;
they post one of these and the app applies it to the state, then repaints."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class LinkUp(Message):
    """Connected (again): ``snapshot`` is the station's whole current state."""

    snapshot: dict


@dataclass
class LinkDown(Message):
    """The station stopped answering (or refused the token); the link keeps retrying."""

    reason: str


@dataclass
class StationEvent(Message):
    """One live event, already in the HMI's vocabulary (see ``hmi.link.KINDS``). Never
    coalesced: every step result must reach the screen."""

    kind: str
    data: dict
    seq: int | None = None


@dataclass
class RunLoaded(Message):
    """A stored run fetched by id: the one this screen was watching when the link dropped
    (``while_away``), or one tapped in the today view."""

    record: dict
    while_away: bool = False


@dataclass
class CommandFailed(Message):
    """The station refused an action (its reason per language) or did not answer."""

    action: str
    reason: dict[str, str]


@dataclass
class CommandSettled(Message):
    """A command (scan, start, abort) has its answer, its refusal or its time-out: whatever it
    said was posted just before this. Until then the command is pending (and, after a moment,
    said to be slow)."""

    action: str


@dataclass
class TodayLoaded(Message):
    """Today's runs and yield, for the today view."""

    runs: list[dict]
    yields: list[dict]


@dataclass
class TodayPlot(Message):
    """Measurements over today's boards: (name, values, the limits to draw them against: a
    hmi.state.MeasurementView) per measurement."""

    series: list[tuple[str, list[float], object]]
