"""A Recorder that keeps runs in memory: nothing durable.

For what must not touch the station's database: plan development and dry runs on a laptop,
the engine bench (the engine's own cost, without the store's), and tests of the engine. A
station always records through :class:`edge.store.RunRecorder`.
"""

from __future__ import annotations

from edge.records import Outcome, RunMeta, RunRecord, StepResult


class MemoryRecorder:
    """The engine's ``Recorder`` protocol in dictionaries. With ``keep=False`` a finished run
    is dropped once returned, so a long benchmark's memory stays flat."""

    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep
        self.metas: dict[str, RunMeta] = {}
        self.steps: dict[str, list[StepResult]] = {}
        self.records: dict[str, RunRecord] = {}
        self._seen: set[tuple[str, str]] = set()  # (serial, product) ever begun

    def has_runs_for(self, serial: str, product: str) -> bool:
        return (serial, product) in self._seen

    def begin_run(self, meta: RunMeta) -> None:
        self.metas[meta.run_id] = meta
        self.steps[meta.run_id] = []
        self._seen.add((meta.serial, meta.product))

    def record_step(self, run_id: str, step: StepResult) -> None:
        self.steps[run_id].append(step)

    def finish_run(self, run_id: str, outcome: Outcome, ended_utc: str, duration_s: float,
                   error: str | None = None) -> RunRecord:
        meta = self.metas[run_id] if self.keep else self.metas.pop(run_id)
        steps = self.steps[run_id] if self.keep else self.steps.pop(run_id)
        record = RunRecord(meta, outcome, ended_utc, duration_s, tuple(steps), error)
        if self.keep:
            self.records[run_id] = record
        return record
