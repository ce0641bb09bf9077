"""``pibench sync setup``: prepare an InvenTree server for this station's plans.

For each configured product (``[sync.parts]`` / ``[sync.products]``; every product with a plan
when none is configured): find its part, derive from the plan the test templates the station's
results need (:func:`~edge.sync.backends.inventree_mapping.template_specs`), create the missing
ones, and refuse existing ones that would reject the results (``choices`` the values cannot
match, ``requires_attachment``, disabled). ``dry_run`` only says what it would do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.sync.backends.inventree import InvenTreeBackend, InvenTreeRefusal
from edge.sync.backends.inventree_mapping import TemplateSpec, template_specs
from edge.sync.settings import SyncSettings

_OUTCOME_VALUES = {"PASS", "PASS-MARGINAL", "FAIL"}


@dataclass
class SetupReport:
    lines: list[str] = field(default_factory=list)
    created: int = 0
    problems: int = 0  # templates refused, products that could not be prepared

    def say(self, text: str) -> None:
        self.lines.append(text)

    def problem(self, text: str) -> None:
        self.problems += 1
        self.lines.append(text)


def _refusal(spec: TemplateSpec, row: dict) -> str | None:
    """Why an existing template would reject this station's results, or None."""
    if not row.get("enabled", True):
        return "is disabled: InvenTree refuses results for it; enable it"
    if row.get("requires_attachment"):
        return ("requires an attachment, which the station does not send: untick "
                "'requires attachment'")
    choices = {c.strip() for c in str(row.get("choices") or "").split(",") if c.strip()}
    if choices:
        values = None if "/" in spec.source else _OUTCOME_VALUES  # a run or step outcome
        if values is None or not values <= choices:
            wanted = ", ".join(sorted(values)) if values else "measured values with units"
            return (f"has choices '{row.get('choices')}' but the station posts {wanted}: clear "
                    "the choices")
    return None


def _products(settings: SyncSettings) -> list[str]:
    configured = settings.inventree.configured_products()
    if configured:
        return configured
    from edge.products.catalog import list_products

    return sorted({p.product for p in list_products(settings.plans_dirs)})


def run_setup(backend: InvenTreeBackend, settings: SyncSettings, now: float,
              dry_run: bool = False) -> SetupReport:
    from edge.plans.loader import PlanError
    from edge.products.catalog import UnknownProduct, find_plan

    report = SetupReport()
    verb = "would create" if dry_run else "created"
    probe = backend.probe(now)
    if not probe.delivered:
        report.problem(f"InvenTree at {settings.url}: {probe.reason}")
        return report
    for product in _products(settings):
        try:
            plan = find_plan(product, settings.plans_dirs)
        except (UnknownProduct, PlanError) as exc:
            report.problem(f"{product}: no usable plan on this station ({exc})")
            continue
        product_cfg = settings.inventree.product(product)
        known = {st.name for st in plan.all_steps}
        known |= {f"{st.name}/{m}" for st in plan.all_steps for m in st.measurements}
        named = set(product_cfg.skip) | set(product_cfg.post_steps) | set(product_cfg.optional)
        own = settings.inventree.products.get(product)
        named |= set(own.keys) if own is not None else set()  # [sync.templates] spans products
        for name in sorted(named - known - {"run"}):
            report.problem(f"{product}: '{name}' in [sync.products.\"{product}\"] is "
                           f"not a step or \"step/measurement\" of plan '{plan.name}'")
        specs = template_specs(plan, product_cfg, settings.inventree.run_template)
        try:
            part_pk = backend.find_part(product, now)
            existing = {str(t.get("key")): t for t in backend.list_templates(part_pk)}
        except InvenTreeRefusal as exc:
            report.problem(f"{product}: {exc.outcome.reason}")
            continue
        report.say(f"{product} (plan '{plan.name}' v{plan.version}) -> part {part_pk}: "
                   f"{len(specs)} template(s)")
        for spec in specs:
            row = existing.get(spec.key)
            if row is not None:
                refused = _refusal(spec, row)
                if refused:
                    report.problem(f"  REFUSED  {spec.key}: template {row.get('pk')} {refused}")
                else:
                    report.say(f"  ok       {spec.key} (template {row.get('pk')})")
                continue
            if dry_run:
                report.created += 1
                report.say(f"  {verb} {spec.key}: '{spec.test_name}'"
                           f"{'' if spec.required else ' (optional)'}")
                continue
            try:
                made = backend.create_template(part_pk, spec.test_name, spec.description,
                                               spec.required, now)
            except InvenTreeRefusal as exc:
                report.problem(f"  FAILED   {spec.key}: {exc.outcome.reason}")
                continue
            report.created += 1
            if made.get("key") != spec.key:  # the server derived another key from the name
                report.problem(f"  MISMATCH {spec.key}: the server made key '{made.get('key')}'")
                continue
            report.say(f"  {verb}  {spec.key}: '{spec.test_name}' (template {made.get('pk')})"
                       f"{'' if spec.required else ' (optional)'}")
    return report
