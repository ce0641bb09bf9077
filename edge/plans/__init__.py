"""Test plans as data: TOML files loaded into validated, immutable plan objects.

* :mod:`edge.plans.model` - the Plan / Step / Parameter dataclasses the engine runs.
* :mod:`edge.plans.steptypes` - registries of step-type functions and limit derivers.
* :mod:`edge.plans.loader` - TOML -> Plan, with ``file:line: field: message`` errors.
"""

from edge.plans.loader import (
    PlanError,
    check_resources,
    load_plan,
    parse_plan,
    parse_toml,
    read_toml,
)
from edge.plans.model import Parameter, Plan, ResourceRef, Step
from edge.plans.steptypes import (
    DEFAULT_REGISTRY,
    Param,
    Registry,
    StepType,
    limit_deriver,
    resource,
    step_type,
)

__all__ = [
    "DEFAULT_REGISTRY",
    "Param",
    "Parameter",
    "Plan",
    "PlanError",
    "Registry",
    "ResourceRef",
    "Step",
    "StepType",
    "check_resources",
    "limit_deriver",
    "load_plan",
    "parse_plan",
    "parse_toml",
    "read_toml",
    "resource",
    "step_type",
]
