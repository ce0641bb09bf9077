"""The current run as a snapshot, kept up to date from the event bus.

A client that connects (or reconnects to a restarted station) first reads this snapshot, then
follows the stream from the snapshot's ``seq``: "snapshot + deltas". The tracker applies events
in seq order under its owner's lock; a :class:`~edge.engine.events.Gap` (it should never lag,
being drained at every emit) makes it reload the run from the database instead of guessing.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from edge import lazylog
from edge.engine.events import (
    Event,
    Gap,
    Log,
    MeasurementTaken,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from edge.records import Outcome, RunRecord
from edge.service.views import measurement_view, meta_view, record_to_json, step_view

_log = lazylog.getLogger("edge.service")

_MAX_LOGS = 20  # warnings kept in the snapshot of a live run


class RunTracker:
    """``snapshot()`` is JSON-ready: ``{"seq", "state", "run", "last_run"}``.

    ``run`` is the live run (``None`` when idle); ``last_run`` the last finished run of this
    process, as ``pibench.run/1``. A verdict is only ever in ``last_run``, never presented as the
    run in progress.
    """

    def __init__(self, load_run: Callable[[str], RunRecord | None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load_run = load_run
        self._clock = clock
        self._started_at = 0.0  # the clock when the live run started (for elapsed_s)
        self.seq = 0  # the last event applied
        self.run: dict[str, Any] | None = None
        self.last_run: dict[str, Any] | None = None
        self.last_record: RunRecord | None = None

    def snapshot(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "state": "running" if self.run is not None else "idle",
            "run": self._live_copy(),
            "last_run": self.last_run,
        }

    def _live_copy(self) -> dict[str, Any] | None:
        """The live run, with ``elapsed_s`` on the station's monotonic clock: a client shows
        the time since start without comparing its wall clock with the station's."""
        run = _copy(self.run)
        if run is not None:
            run["elapsed_s"] = round(max(0.0, self._clock() - self._started_at), 3)
        return run

    def apply(self, event: Event) -> None:
        if isinstance(event, Gap):
            self._reload()
        elif isinstance(event, RunStarted):
            self._started(event)
        elif self.run is not None and event.run_id == self.run["run_id"]:
            self._live(event)
        elif isinstance(event, RunFinished):  # a run this tracker never saw start
            self._finished(event.record)
        self.seq = max(self.seq, event.seq)

    # -- events -------------------------------------------------------------------------------
    def _started(self, event: RunStarted) -> None:
        teardown = set(range(len(event.steps) - len(event.teardown), len(event.steps)))
        self._started_at = self._clock()
        self.run = {
            "run_id": event.run_id,
            "meta": meta_view(event.meta),
            "current_step": None,
            "steps": [_pending(i, name, i in teardown) for i, name in enumerate(event.steps)],
            "logs": [],
        }

    def _live(self, event: Event) -> None:
        run = self.run
        assert run is not None
        steps = run["steps"]
        if isinstance(event, StepStarted) and 0 <= event.index < len(steps):
            step = steps[event.index]
            step.update(state="running", attempt=event.attempt, measurements=[],
                        timeout_s=event.timeout_s)
            run["current_step"] = event.index
        elif isinstance(event, MeasurementTaken) and 0 <= event.step_index < len(steps):
            # (kept as the engine gave it; made JSON when a snapshot is taken, not at every step)
            steps[event.step_index]["measurements"].append(event.measurement)
        elif isinstance(event, StepFinished) and 0 <= event.result.index < len(steps):
            steps[event.result.index] = _finished_step(event.result,
                                                     steps[event.result.index]["teardown"])
            if run["current_step"] == event.result.index:
                run["current_step"] = None
        elif isinstance(event, Log) and event.level >= lazylog.WARNING:
            logs = deque(run["logs"], maxlen=_MAX_LOGS)
            logs.append({"level": event.level, "message": event.message,
                         "step_index": event.step_index})
            run["logs"] = list(logs)
        elif isinstance(event, RunFinished):
            self._finished(event.record)

    def _finished(self, record: RunRecord) -> None:
        self.run = None
        self.last_record = record
        self.last_run = record_to_json(record)

    def abandon(self, run_id: str) -> None:
        """The run ended without RunFinished (its verdict could not be stored): it is no longer
        live; what the store kept of it is in the history."""
        if self.run is not None and self.run["run_id"] == run_id:
            self.run = None

    def _reload(self) -> None:
        """Events were lost: rebuild the live run from what the store has."""
        if self.run is None:
            return
        run_id = self.run["run_id"]
        try:
            record = self._load_run(run_id)
        except Exception:  # the store is the engine's problem; keep what we have
            _log.warning("could not reload run %s after a gap", run_id, exc_info=True)
            return
        if record is None:
            return
        if record.outcome is not Outcome.RUNNING:
            self._finished(record)
            return
        for result in record.steps:
            if 0 <= result.index < len(self.run["steps"]):
                steps = self.run["steps"]
                steps[result.index] = _finished_step(result, steps[result.index]["teardown"])


def _pending(index: int, name: str, teardown: bool) -> dict[str, Any]:
    return {"index": index, "name": name, "teardown": teardown, "state": "pending",
            "outcome": None, "attempt": 0, "timeout_s": None, "duration_s": None,
            "error": None, "measurements": []}


def _finished_step(result: Any, teardown: bool) -> dict[str, Any]:
    """A finished step as the engine stored it, made JSON by ``_copy`` only when a snapshot is
    taken: the tracker follows every step in the engine's thread (issue 14 goal 2)."""
    return {"teardown": teardown, "result": result}


def _done(result, teardown: bool) -> dict[str, Any]:
    view = step_view(result)
    last = view["attempts"][-1] if view["attempts"] else {"measurements": [], "error": None}
    return {"index": result.index, "name": result.name, "teardown": teardown, "state": "done",
            "outcome": view["outcome"], "attempt": len(view["attempts"]), "timeout_s": None,
            "duration_s": view["duration_s"], "error": last["error"],
            "measurements": last["measurements"]}


def _copy(run: dict[str, Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    out = dict(run)
    out["steps"] = [_done(s["result"], s["teardown"]) if "result" in s
                    else dict(s, measurements=[measurement_view(m) for m in s["measurements"]])
                    for s in run["steps"]]
    out["logs"] = list(run["logs"])
    return out
