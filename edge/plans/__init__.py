"""Test plans as data: TOML files loaded into validated, immutable plan objects.

* :mod:`edge.plans.model` - the Plan / Step / Parameter dataclasses the engine runs.
* :mod:`edge.plans.steptypes` - registries of step-type functions and limit derivers.
* :mod:`edge.plans.loader` - TOML -> Plan, with ``file:line: field: message`` errors.
* :mod:`edge.tomlfile` - reading TOML, finding the line of a key, typed checks (shared with
  station.toml and fixture files).

The format (every key below is checked; unknown keys are errors)::

    [plan]
    name = "Powerbank main board"     # required strings: name, version, product, revision
    version = "1.2"
    product = "PB1"
    revision = "C"
    serial_pattern = "PB1-[0-9]{6}"   # a serial must match it entirely
    fixture = "powerbank-v1"          # optional: the fixture kind the plan needs
    step_timeout = 30                 # optional default step budget in seconds (default 30)

    [parameters]                      # design values, for limit derivers and steps
    R1 = { value = 10_000, units = "ohm", tolerance = 0.01 }   # tolerance is fractional
    vin = 5.0

    [[step]]
    name = "rail voltage"             # unique within the plan
    type = "meter_voltage"            # a registered step type
    params = { channel = 3, relay = "dut_power" }   # checked against the type's schema
    timeout = 5                       # seconds; exceeding it is ERROR
    retries = 2                       # extra attempts after FAIL/ERROR
    critical = true                   # FAIL/ERROR ends the run, later steps SKIPPED
    always = false                    # true: runs even when the run is stopping
    [[step.measurement]]
    name = "voltage"
    units = "V"
    low = 4.5                         # inclusive; low and/or high, or expected = <value>,
    high = 5.5                        #   or limits = { derive = "ne555", quantity = "period" }
    marginal = 0.1                    # outer 10 % of the span at each end is PASS-MARGINAL
                                      #   (or absolute marginal_low / marginal_high)

    [[teardown]]                      # always run after the steps, whatever happened
    name = "power off"
    type = "relay"
    params = { relay = "dut_power", on = false }
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
