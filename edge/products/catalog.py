"""What the station and the CLI call: find a product's plan and fixture, build the fixture,
list the products.

* :func:`load_product` - the plan for a product (or plan file) name, with its fixture spec;
  every resource the plan names is checked against the fixture here, at load (PlanError with
  the plan's file and line), never mid-run.
* :func:`build_fixture` - the :class:`~edge.fixtures.runtime.Fixture`, real or simulated.
* :func:`list_products` - product, revision, plan path, serial pattern and an example serial.

Plans are the ``*.toml`` files of ``plans_dirs``, searched in order (a shop's own directory
comes before the built-in one, so its files win). A plan file that does not load is never
skipped in favour of another: the products it could define cannot be tested until it is fixed
(:class:`BrokenPlan`). A fixture kind ``K`` is the file ``K.toml``
in the first of ``fixtures_dirs`` that has one. A shop's own step types are ``*.py`` files
next to its plans: they are imported (once per process) before any plan is read, so their
``@step_type`` registrations are there when the plan needs them (``docs/adding-a-product.md``).
Those files run with the station's rights: keep the directory writable by administrators only.
"""

import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import edge.products  # noqa: F401  (registers the built-in step types and derivers)
from drivers.clock import Clock
from drivers.named_tuple import NamedTuple
from edge import lazylog
from edge.digest import sha256
from edge.fixtures.build import build_real, build_sim
from edge.fixtures.loader import load_fixture
from edge.fixtures.model import FixtureSpec
from edge.fixtures.runtime import Fixture
from edge.plans.loader import PlanError, check_resources, load_plan, read_toml
from edge.plans.model import Plan
from edge.products.serial_example import example_serial
from edge.tomlfile import LineIndex, TomlFileError, parse_toml, scan_string

_log = lazylog.getLogger("edge.products")

DirList = Iterable[str | Path]


# NamedTuples, not frozen dataclasses: Python 3.11 compiles each dataclass method from
# source as the module is imported (~0.4 ms a class, a third of a start: issue 14).
class ProductInfo(NamedTuple):
    """A product the station can test, as ``pibench products`` lists it."""

    product: str
    revision: str
    name: str  # the plan's name
    version: str  # the plan's version
    plan_path: Path
    serial_pattern: str
    example_serial: str  # "" if the pattern is too unusual to make one
    fixture: str | None  # the fixture kind the plan needs
    description: str = ""
    blocked_by: str = ""  # a broken plan file that could define this product: not testable


class UnknownProduct(LookupError):
    """No plan matches the name (the message lists what is known)."""


# -- the shop's own step modules ---------------------------------------------------------------
_step_modules: dict[Path, ModuleType] = {}


def load_step_modules(plans_dirs: DirList) -> list[ModuleType]:
    """Import every ``*.py`` (not starting with "_") in the plans directories, once."""
    modules = []
    for directory in _dirs(plans_dirs):
        for path in _files_ending(directory, ".py"):
            if path.name.startswith("_"):
                continue
            modules.append(_import_step_module(path.resolve()))
    return modules


def _import_step_module(path: Path) -> ModuleType:
    module = _step_modules.get(path)
    if module is not None:
        return module
    digest = sha256(str(path).encode()).hexdigest()[:8]
    name = f"pibench_local_steps.{path.stem.replace('-', '_')}_{digest}"
    import importlib.util  # only where a shop has its own step modules

    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PlanError(str(path), 1, "", "cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise PlanError(str(path), _error_line(exc, path), "", "step module failed to "
                        f"import: {type(exc).__name__}: {exc}") from exc
    _step_modules[path] = module
    return module


def _error_line(exc: BaseException, path: Path) -> int:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return exc.lineno
    import traceback  # (only for a broken step module: with linecache, tokenize, textwrap)

    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__)
             if Path(f.filename) == path and f.lineno]
    return lines[-1] if lines else 1


# -- plans ----------------------------------------------------------------------------------------
def _dirs(dirs: DirList) -> list[Path]:
    return [Path(d) for d in dirs if Path(d).is_dir()]


def _files_ending(directory: Path, suffix: str) -> list[Path]:
    """``sorted(directory.glob("*" + suffix))``, without the pattern glob compiles to a regex at
    every command's start (issue 14)."""
    return sorted(p for p in directory.iterdir() if p.name.endswith(suffix))


def _plan_files(plans_dirs: DirList) -> list[Path]:
    return [p for d in _dirs(plans_dirs) for p in _files_ending(d, ".toml")]


class BrokenPlan(NamedTuple):
    """A plan file of the plans path that does not load, and the products it could define.

    A broken file must never let another plan stand in for it (a shop's override of a built-in
    product, with a typo, would otherwise be replaced by the built-in limits). So what it was
    meant to define is read from its text even when it is not valid TOML: ``product`` and
    ``revision`` from its ``[plan]`` table if they are plain strings there, else None. With no
    product readable, the file could be any product's, and no product can be tested at all
    until it is fixed: being unable to test is recoverable, a board judged against a plan the
    shop did not mean is not.
    """

    error: PlanError
    product: str | None
    revision: str | None  # None: every revision of ``product``
    names: frozenset[str]  # casefolded names a technician could ask for it by

    @property
    def path(self) -> str:
        return self.error.path

    def blocks(self, plan: Plan) -> bool:
        if self.product is None:
            return True
        if plan.product.casefold() != self.product.casefold():
            return False
        return self.revision is None or plan.revision.casefold() == self.revision.casefold()

    def could_define(self) -> str:
        if self.product is None:
            return "its product cannot be read, so no product can be tested until it is fixed"
        rev = f" rev {self.revision}" if self.revision else " (any revision)"
        return f"it could define {self.product}{rev}, which cannot be tested until it is fixed"

    def unusable(self) -> PlanError:
        """The error a run of a product this file blocks ends with (exit 78)."""
        e = self.error
        return PlanError(e.path, e.line, e.field, f"{e.message} [{self.could_define()}]")


def _broken_plan(path: Path, error: PlanError) -> BrokenPlan:
    try:
        raw = path.read_bytes()
    except OSError:
        raw = b""
    text = raw.decode("utf-8", errors="replace")
    try:  # (through the cache: a plan that parses but does not load is broken at every start)
        head = parse_toml(text.encode(), str(path), cached=True).data.get("plan")
        found = ({k: v.strip() for k, v in head.items() if isinstance(v, str) and v.strip()}
                 if isinstance(head, dict) else {})
        product, revision, name = (found.get(k) for k in ("product", "revision", "name"))
    except TomlFileError:  # not TOML: read what it meant from the text, line by line
        lines = LineIndex(text)
        product, revision, name = (scan_string(lines, ("plan", k))
                                   for k in ("product", "revision", "name"))
    names = {path.stem, *(n for n in (product, name) if n)}
    if product and revision:
        names.add(plan_key(product, revision))
    return BrokenPlan(error, product, revision if product else None,
                      frozenset(n.casefold() for n in names))


class Catalog(NamedTuple):
    """Every plan of the plans path that loads (first directory first, one per product and
    revision) and every one that does not."""

    plans: tuple[Plan, ...]
    broken: tuple[BrokenPlan, ...]

    def blocker(self, plan: Plan) -> BrokenPlan | None:
        return next((b for b in self.broken if b.blocks(plan)), None)


def read_catalog(plans_dirs: DirList) -> Catalog:
    """Read every plan file once. A shop's step modules (``*.py``) are imported first; one
    that fails to import stops everything (PlanError): any plan could need its step types."""
    load_step_modules(plans_dirs)
    plans: list[Plan] = []
    broken: list[BrokenPlan] = []
    seen: set[tuple[str, str]] = set()
    for path in _plan_files(plans_dirs):
        try:
            plan = load_plan(path)
        except PlanError as exc:
            broken.append(_broken_plan(path, exc))
            continue
        key = (plan.product.casefold(), plan.revision.casefold())
        if key in seen:
            _log.info("%s: %s rev %s is already defined earlier in the plans path; ignored",
                      path, plan.product, plan.revision)
            continue
        seen.add(key)
        plans.append(plan)
    return Catalog(tuple(plans), tuple(broken))


def list_products(plans_dirs: DirList | Catalog) -> list[ProductInfo]:
    """The products the plans directories (or an already read catalog) describe, in search
    order, each with ``blocked_by`` set when a broken plan file could define it (it cannot be
    tested until that is fixed). :func:`read_catalog` also lists the broken files themselves."""
    catalog = plans_dirs if isinstance(plans_dirs, Catalog) else read_catalog(plans_dirs)
    out = []
    for p in catalog.plans:
        blocker = catalog.blocker(p)
        out.append(ProductInfo(
            product=p.product, revision=p.revision, name=p.name, version=p.version,
            plan_path=Path(p.path), serial_pattern=p.serial_pattern.pattern,
            example_serial=example_serial(p.serial_pattern.pattern), fixture=p.fixture,
            description=p.description, blocked_by=blocker.path if blocker else "",
        ))
    return out


def plan_key(product: str, revision: str) -> str:
    """The name that picks one revision's plan of a product (see :func:`find_plan`)."""
    return f"{product}-rev{revision}"


def _names(plan: Plan) -> set[str]:
    return {n.casefold() for n in (Path(plan.path).stem, plan.name, plan.product,
                                   plan_key(plan.product, plan.revision))}


def find_plan(product_or_plan_name: str, plans_dirs: DirList, *,
              catalog: Catalog | None = None) -> Plan:
    """A plan by file path, file stem, plan name, product, or "<product>-rev<revision>".

    A plan file that does not load and could be the one asked for (by its name, or by the
    product its text names) makes the lookup fail with that file's error: another plan of the
    same product never stands in for it (:class:`BrokenPlan`). ``catalog``: the plans of
    ``plans_dirs`` already read (by the same caller, a moment ago), else they are read now."""
    wanted = product_or_plan_name.strip()
    as_path = Path(wanted)
    if as_path.suffix == ".toml" and as_path.is_file():  # a file named explicitly: that file
        if catalog is not None:
            known = next((p for p in catalog.plans if Path(p.path) == as_path), None)
            if known is not None:  # the same file, read a moment ago
                return known
        load_step_modules(plans_dirs)
        return load_plan(as_path)
    key = wanted.casefold()
    if catalog is None:
        catalog = read_catalog(plans_dirs)
    for broken in catalog.broken:
        if key in broken.names or broken.product is None:
            raise broken.unusable()
    matches = [p for p in catalog.plans if key in _names(p)]
    stems = [p for p in matches if Path(p.path).stem.casefold() == key]
    matches = stems or matches  # a file stem names exactly one plan
    for plan in matches:
        blocker = catalog.blocker(plan)
        if blocker is not None:
            raise blocker.unusable()
    if len(matches) == 1:
        return matches[0]
    if matches:
        choices = ", ".join(f"{Path(p.path).stem} (rev {p.revision})" for p in matches)
        raise UnknownProduct(f"'{wanted}' matches several plans: {choices}; name one by its "
                             "file name")
    known = ", ".join(sorted({f"{p.product} (rev {p.revision})" for p in catalog.plans}))
    raise UnknownProduct(f"no plan for '{wanted}' (known: {known or 'none'})")


# -- fixtures -------------------------------------------------------------------------------------
def find_fixture(kind: str, fixtures_dirs: DirList, *, plan: Plan | None = None) -> FixtureSpec:
    """The fixture file ``<kind>.toml`` from the first fixtures directory that has one."""
    dirs = _dirs(fixtures_dirs)
    for directory in dirs:
        path = directory / f"{kind}.toml"
        if path.is_file():
            spec = load_fixture(path)
            if spec.kind != kind:
                src = read_toml(path)
                raise PlanError(str(path), src.lines.line_of(("fixture", "kind")),
                                "fixture.kind", f"the file is named {kind}.toml but declares "
                                f"kind = '{spec.kind}'; the name and the kind must agree")
            return spec
    searched = ", ".join(str(d) for d in dirs) or "no existing directory"
    message = f"fixture '{kind}' not found: no {kind}.toml in {searched}"
    if plan is None:
        raise LookupError(message)
    line = read_toml(plan.path).lines.line_of(("plan", "fixture"))
    raise PlanError(plan.path, line, "plan.fixture", message)


def load_product(product_or_plan_name: str, *, plans_dirs: DirList, fixtures_dirs: DirList,
                 catalog: Catalog | None = None) -> tuple[Plan, FixtureSpec]:
    """The plan and its fixture spec, cross-checked: every resource a step names exists in the
    fixture with the kind the step needs (PlanError naming the plan's file and line)."""
    plans_dirs, fixtures_dirs = list(plans_dirs), list(fixtures_dirs)
    plan = find_plan(product_or_plan_name, plans_dirs, catalog=catalog)
    if plan.fixture is None:
        line = read_toml(plan.path).lines.line_of(("plan",))
        raise PlanError(plan.path, line, "plan.fixture", "the plan names no fixture "
                        '(e.g. fixture = "powerbank-v1"); the station runs plans on a fixture')
    spec = find_fixture(plan.fixture, fixtures_dirs, plan=plan)
    check_resources(plan, spec.resources)
    return plan, spec


def build_fixture(fixture_spec: FixtureSpec, *, simulated: bool, i2c_bus: int | str | Any = 1,
                  expander_backend: str = "pibench", sim_faults: Iterable[str] = (),
                  clock: Clock | None = None, pin_factory: Any = None,
                  gpio_workdir: Any = None) -> Fixture:
    """The fixture, not yet checked (its first run's ``fixture_check`` step, or ``.check()``,
    does that). Simulated: on a fresh SimClock (``.clock``) unless one is given, carrying
    ``sim_faults``. Real: on ``i2c_bus`` (a number, path, or SMBus-like object) and the Pi's
    lgpio pin factory unless ``pin_factory`` is given; ``sim_faults`` must be empty."""
    if simulated:
        if pin_factory is not None:
            raise ValueError("the simulated station makes its own pin factory")
        return build_sim(fixture_spec, faults=sim_faults, clock=clock,  # type: ignore[arg-type]
                         expander_backend=expander_backend)
    if tuple(sim_faults):
        raise ValueError("simulated faults need the simulated station")
    return build_real(fixture_spec, i2c_bus=i2c_bus, expander_backend=expander_backend,
                      pin_factory=pin_factory, clock=clock, gpio_workdir=gpio_workdir)
