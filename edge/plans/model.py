"""What a loaded test plan is: immutable, validated data the engine can run without re-checking.

The loader (``loader.py``) builds these from TOML; nothing here parses or validates. Every step
already points at its registered step-type function, its params are type-checked with defaults
filled in, and every measurement carries concrete :class:`~edge.records.Limits` (derived limits are
computed at load time, so a bad deriver fails when the plan is loaded, not halfway through a run).
"""

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drivers.named_tuple import NamedTuple
from edge.records import Limits

if TYPE_CHECKING:
    from edge.plans.steptypes import StepType

ParamValue = float | int | str | bool


# NamedTuples, not frozen dataclasses: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class Parameter(NamedTuple):
    """A design value of the product (R1 = 10 kΩ ± 1 %): input to limit derivers and steps.
    ``tolerance`` is fractional (0.01 = ±1 %), like component datasheets and the NE555 model."""

    name: str
    value: ParamValue
    units: str = ""
    tolerance: float | None = None
    doc: str = ""


class ResourceRef(NamedTuple):
    """A step param that names a fixture resource, kept with its source position so a fixture
    connected later can still be checked with a file-and-line error (see loader.check_resources)."""

    step_name: str
    param: str
    resource: str  # the name the plan uses, e.g. "dut_power"
    kind: str  # the kind the step type needs, e.g. "relay"
    field: str  # e.g. "step[1].params.relay"
    line: int


class Step(NamedTuple):
    """One step of a plan: its type, validated parameters and limits."""

    name: str
    step_type: "StepType"  # (only for type checkers: steptypes imports this module)
    params: Mapping[str, Any]  # validated against the step type's schema, defaults filled in
    measurements: Mapping[str, Limits]  # declared measurements in plan order
    timeout_s: float
    retries: int = 0  # extra attempts after a FAIL or ERROR
    critical: bool = False  # a FAIL/ERROR ends the run; later (non-always) steps are SKIPPED
    always: bool = False  # runs even when the run is stopping (critical stop, abort)
    teardown: bool = False  # part of the [[teardown]] block: runs after the steps, always
    line: int = 0  # line of the step's table header in the plan file


class Plan(NamedTuple):
    """A test plan as loaded from its file: the product it tests and its steps."""

    name: str
    version: str
    product: str
    revision: str
    serial_pattern: re.Pattern[str]  # a serial must fullmatch it
    fixture: str | None  # the fixture kind the plan needs (None: no fixture)
    parameters: Mapping[str, Parameter]
    steps: tuple[Step, ...]
    teardown: tuple[Step, ...]
    resource_refs: tuple[ResourceRef, ...]
    path: str
    sha256: str  # of the plan file's bytes: what exactly was run
    description: str = ""

    @property
    def all_steps(self) -> tuple[Step, ...]:
        """Steps then teardown, in the order they run and are indexed in a record."""
        return self.steps + self.teardown
