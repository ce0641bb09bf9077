"""Shared by the fixture and product tests: the shipped directories, an in-memory recorder, and
a helper that runs a product's plan on the simulated station through the real Runner.

Imported explicitly (``from products_support import ...``), like ``tests/drivers/sim_fixtures``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from edge.config import BUILTIN_FIXTURES, BUILTIN_PLANS
from edge.engine import EventBus, Runner, StationInfo
from edge.engine.memory import MemoryRecorder
from edge.fixtures import Fixture
from edge.plans import Plan
from edge.products.catalog import build_fixture, load_product
from edge.records import RunRecord, StepResult

PLANS = (BUILTIN_PLANS,)
FIXTURES = (BUILTIN_FIXTURES,)
SERIALS = {"PowerBank-Foolish": "PBF-000042", "HMI-IO-Board": "HIO-000042"}


@dataclass
class Bench:
    plan: Plan
    fixture: Fixture
    runner: Runner
    recorder: object
    events: EventBus
    product: str
    closed: bool = field(default=False)

    def run(self, serial: str | None = None) -> RunRecord:
        return self.runner.run(serial or SERIALS[self.product])

    def close(self) -> None:
        if not self.closed:
            self.fixture.close()
            self.closed = True


def sim_bench(product: str, faults: Iterable[str] = (), *, recorder=None,
              backend: str = "pibench", plans_dirs=PLANS) -> Bench:
    plan, spec = load_product(product, plans_dirs=plans_dirs, fixtures_dirs=FIXTURES)
    fixture = build_fixture(spec, simulated=True, sim_faults=tuple(faults),
                            expander_backend=backend)
    events = EventBus()
    recorder = recorder if recorder is not None else MemoryRecorder()
    runner = Runner(plan, fixture, recorder, clock=fixture.clock,
                    station=StationInfo("bench-1", "0.1.0"), events=events,
                    clock_synced=lambda: True)
    return Bench(plan, fixture, runner, recorder, events, plan.product)


def step(record: RunRecord, name: str) -> StepResult:
    return next(s for s in record.steps if s.name == name)


def values(result: StepResult) -> dict[str, object]:
    return {m.name: m.value for m in result.measurements}


def outcomes(record: RunRecord) -> dict[str, str]:
    return {s.name: s.outcome.value for s in record.steps}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
