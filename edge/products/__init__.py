"""The products this station tests: their step types, plans and fixture files.

Importing the package registers the step types and limit derivers in
:data:`edge.plans.steptypes.DEFAULT_REGISTRY`, so the plans in ``plans/`` load:

* :mod:`~edge.products.common` - ``fixture_check``, ``dut_power`` (every fixture-based plan);
* :mod:`~edge.products.ne555` - the ``ne555`` limit deriver (limits from R1/R2/C);
* :mod:`~edge.products.powerbank` - ``wait_first_pulse``, ``pulse_timing``;
* :mod:`~edge.products.hmi_board` - ``expander_present``, ``output_walk``, ``input_walk``,
  ``interrupt_check``, ``relay_check``.

:mod:`~edge.products.catalog` is what the station and CLI call: find and load a product's plan
with its fixture, build the fixture (real or simulated), list the products.
"""

from edge.products import common, hmi_board, ne555, powerbank

__all__ = ["common", "hmi_board", "ne555", "powerbank"]
