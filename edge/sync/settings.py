"""Typed sync settings, read from the ``[sync]`` table of station.toml (via :mod:`edge.config`).

``edge.config`` keeps ``backend``, ``url``, ``token_file`` and ``token_env`` and passes every
other key through in ``options``; this module validates those keys, so a typo in a shop's config
is a clear error at start-up instead of a silently ignored setting. See docs/sync.md.
"""

import math
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from drivers.named_tuple import NamedTuple
from edge.errors import SettingsFileError
from edge.store.recorder import DEFAULT_TARGET
from edge.sync.backoff import Backoff

# InvenTree stock status codes by name (InvenTree's stock/status_codes.py; docs/sync.md).
STOCK_STATUS = {
    "OK": 10,
    "ATTENTION": 50,
    "DAMAGED": 55,
    "DESTROYED": 60,
    "REJECTED": 65,
    "LOST": 70,
    "QUARANTINED": 75,
    "RETURNED": 85,
}


class SyncSettingsError(SettingsFileError):
    """A [sync] setting that cannot be used; the message names the key, and ``key`` is its path
    under [sync] (e.g. ``("parts", "PBF")``) so edge.config can add the file and line."""

    def __init__(self, message: str, key: str | tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.key = (key,) if isinstance(key, str) else tuple(key)


# NamedTuples, not frozen dataclasses: `dataclasses` (with inspect, ast, dis) and its compiled
# methods cost every station start several ms (issue 14). A table left out is one shared
# read-only empty mapping (was a new dict each time; nothing writes to them).
_NO_ENTRIES: Mapping[str, Any] = MappingProxyType({})


class ProductResults(NamedTuple):
    """Per product (``[sync.products."<product>"]``): what reaches InvenTree and under which keys.

    Names are a step name (``"pulse timing"``) or a step and one of its measurements
    (``"pulse timing/duty"``). Defaults (docs/sync.md): every measurement of a judged step is one
    result; steps that measure nothing, teardown steps and the fixture check are not posted.
    """

    part: int | str | None = None  # part pk or IPN (same as [sync.parts])
    post_steps: frozenset[str] = frozenset()  # also post these steps' own outcome
    skip: frozenset[str] = frozenset()  # never post these steps or measurements
    keys: Mapping[str, str] = _NO_ENTRIES  # name -> template key
    optional: frozenset[str] = frozenset()  # templates `sync setup` creates with required=False


class InvenTreeSettings(NamedTuple):
    """What the InvenTree backend needs beyond the URL and token."""

    # product name (RunMeta.product) -> part pk (int) or IPN (str). Unmapped products are looked
    # up by IPN == product name.
    parts: Mapping[str, int | str] = _NO_ENTRIES
    # step name -> template key, for steps whose name does not produce the template's key.
    templates: Mapping[str, str] = _NO_ENTRIES
    run_template: str | None = None  # optional template for the run's overall verdict
    fail_status: int | None = None  # e.g. 65 REJECTED, set on a FAIL run
    pass_status: int | None = None  # e.g. 10 OK, set on a passing run
    create_items: bool = True  # create the serialized stock item when missing
    location: int | None = None  # location pk for created items
    min_api_version: int = 382  # bulk test results (InvenTree 1.0, API 382)
    products: Mapping[str, ProductResults] = _NO_ENTRIES

    def product(self, name: str) -> ProductResults:
        """The product's settings, with [sync.parts] and [sync.templates] folded in (the
        product's own table wins)."""
        found = self.products.get(name, ProductResults())
        if found.part is None and name in self.parts:
            found = found._replace(part=self.parts[name])
        if self.templates:
            found = found._replace(keys={**self.templates, **found.keys})
        return found

    def configured_products(self) -> list[str]:
        return sorted(set(self.parts) | set(self.products))


class GenericSettings(NamedTuple):
    """What the generic JSON endpoint backend needs beyond the URL and token."""

    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"  # header value is "<scheme> <token>"; empty: the bare token
    probe_url: str = ""  # cheap GET while the target is down; default: the endpoint URL


class SyncSettings(NamedTuple):
    """The sync's settings, checked: backend, endpoint, where the token is, timings."""

    backend: str  # "none" | "inventree" | "generic"
    url: str
    target: str  # name stored with each outbox row
    token_file: Path | None = None
    token_env: str | None = "PIBENCH_INVENTORY_TOKEN"
    connect_timeout_s: float = 4.0
    read_timeout_s: float = 20.0
    backoff: Backoff = Backoff()
    auth_retry_s: float = 300.0  # how often a paused (auth/incompatible) target is re-checked
    poll_s: float = 2.0  # how often an idle worker looks for new runs
    # After an answer that may hide a stored run (timeout, reset, 502/504), wait this long before
    # looking for it: a server still working on the earlier request must have finished by then.
    reconcile_after_s: float = 120.0
    # How long a run delivered after such an answer is watched for a late copy (the earlier
    # request committing after all), which the station then deletes. See docs/sync.md.
    late_copy_watch_s: float = 7 * 86400.0
    plans_dirs: tuple[Path, ...] = ()  # where the station's plans are (what to post, setup)
    source: Path | None = None  # the station.toml these came from, for messages
    inventree: InvenTreeSettings = InvenTreeSettings()
    generic: GenericSettings = GenericSettings()

    @property
    def enabled(self) -> bool:
        return self.backend != "none"

    @property
    def waits_before_reconcile(self) -> bool:
        """InvenTree has no idempotency key: a run whose earlier request may still be at work on
        the server must not be looked for (or re-sent) before ``reconcile_after_s``. A generic
        endpoint de-duplicates on the key, so a retry is always safe at once."""
        return self.backend == "inventree"

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) for requests: never a single number, never a string."""
        return (self.connect_timeout_s, self.read_timeout_s)


_COMMON = {
    "target",
    "connect_timeout_s",
    "read_timeout_s",
    "backoff_base_s",
    "backoff_cap_s",
    "auth_retry_s",
    "poll_s",
    "reconcile_after_s",
    "late_copy_watch_s",
}
_INVENTREE = {"parts", "templates", "run_template", "fail_status", "pass_status", "create_items",
              "location", "min_api_version", "products"}
_PRODUCT_KEYS = {"part", "post_steps", "skip", "keys", "optional"}
_GENERIC = {"auth_header", "auth_scheme", "probe_url"}


def _positive(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    # A TOML number, as every other key of station.toml: `true` is not 1 s, "20" is text (as
    # `baudrate = "9600"` is refused), and inf would let a hung server hold the worker forever.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SyncSettingsError(
            f"[sync] {key} must be a number of seconds, not {value!r}", key
        )
    number = float(value)
    if not math.isfinite(number):
        raise SyncSettingsError(f"[sync] {key} must be a finite number of seconds, not {value!r}",
                                key)
    if not number > 0:
        raise SyncSettingsError(f"[sync] {key} must be positive, not {value!r}", key)
    return number


def _typed(options: Mapping[str, Any], key: str, kind: type, default: Any, what: str) -> Any:
    """``options[key]`` if given and of TOML type ``kind`` (true/false is not a number)."""
    if key not in options:
        return default
    value = options[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise SyncSettingsError(f"[sync] {key} must be {what}, not {value!r}", key)
    return value


def _status(options: Mapping[str, Any], key: str) -> int | None:
    value = options.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.upper() in STOCK_STATUS:
        return STOCK_STATUS[value.upper()]
    names = ", ".join(STOCK_STATUS)
    raise SyncSettingsError(f"[sync] {key} must be a status code or one of {names}, not {value!r}",
                            key)


def _names(product: str, key: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SyncSettingsError(
            f'[sync.products."{product}"] {key} must be a list of step or "step/measurement" '
            f"names, not {value!r}", ("products", product, key))
    return frozenset(value)


def _products(raw: Any) -> dict[str, ProductResults]:
    if not isinstance(raw, Mapping):
        raise SyncSettingsError("[sync.products] must be a table of products", "products")
    out = {}
    for product, table in raw.items():
        where = f'[sync.products."{product}"]'
        if not isinstance(table, Mapping):
            raise SyncSettingsError(f"{where} must be a table", ("products", product))
        unknown = sorted(set(table) - _PRODUCT_KEYS)
        if unknown:
            raise SyncSettingsError(f"{where} unknown key(s): {', '.join(unknown)} (known: "
                                    f"{', '.join(sorted(_PRODUCT_KEYS))})",
                                    ("products", product, unknown[0]))
        part = table.get("part")
        if part is not None and (not isinstance(part, int | str) or isinstance(part, bool)):
            raise SyncSettingsError(f"{where} part must be a part pk (number) or an IPN (text)",
                                    ("products", product, "part"))
        keys = table.get("keys", {})
        if not isinstance(keys, Mapping) or not all(
                isinstance(v, str) and v for v in keys.values()):
            raise SyncSettingsError(f"{where} keys must map names to template keys (text)",
                                    ("products", product, "keys"))
        out[str(product)] = ProductResults(
            part=part,
            post_steps=_names(product, "post_steps", table.get("post_steps", [])),
            skip=_names(product, "skip", table.get("skip", [])),
            keys={str(k): str(v) for k, v in keys.items()},
            optional=_names(product, "optional", table.get("optional", [])),
        )
    return out


def from_options(
    backend: str,
    url: str,
    token_file: Path | None,
    token_env: str | None,
    options: Mapping[str, Any],
) -> SyncSettings:
    backend = backend or "none"
    allowed = _COMMON | (_INVENTREE if backend == "inventree" else set())
    allowed |= _GENERIC if backend == "generic" else set()
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise SyncSettingsError(
            f"[sync] unknown key(s) for backend {backend!r}: {', '.join(unknown)}"
            f" (known: {', '.join(sorted(allowed))})", unknown[0]
        )
    if backend != "none" and not url.startswith(("http://", "https://")):
        raise SyncSettingsError(f"[sync] url must start with http:// or https://, not {url!r}",
                                "url")
    base = _positive(options, "backoff_base_s", 3.0)
    cap = _positive(options, "backoff_cap_s", 900.0)
    if cap < base:
        raise SyncSettingsError("[sync] backoff_cap_s must be at least backoff_base_s",
                                "backoff_cap_s")
    inv = InvenTreeSettings()
    if backend == "inventree":
        parts = dict(_typed(options, "parts", dict, {}, "a table ([sync.parts])"))
        for product, ref in parts.items():
            if not isinstance(ref, int | str) or isinstance(ref, bool):
                raise SyncSettingsError(
                    f"[sync.parts] {product!r} must be a part pk (number) or an IPN (text)",
                    ("parts", product),
                )
        templates = _typed(options, "templates", dict, {}, "a table ([sync.templates])")
        inv = InvenTreeSettings(
            parts=parts,
            templates={str(k): str(v) for k, v in templates.items()},
            run_template=_typed(options, "run_template", str, None, "a template key") or None,
            fail_status=_status(options, "fail_status"),
            pass_status=_status(options, "pass_status"),
            create_items=_typed(options, "create_items", bool, True, "true or false"),
            location=_typed(options, "location", int, None, "a location pk (a number)"),
            min_api_version=_typed(options, "min_api_version", int, 382, "an API version number"),
            products=_products(options.get("products", {})),
        )
    gen = GenericSettings()
    if backend == "generic":
        gen = GenericSettings(
            auth_header=_typed(options, "auth_header", str, "Authorization", "a header name"),
            auth_scheme=_typed(options, "auth_scheme", str, "Bearer", "a string"),
            probe_url=_typed(options, "probe_url", str, "", "a URL"),
        )
    return SyncSettings(
        backend=backend,
        url=url,
        target=_typed(options, "target", str, DEFAULT_TARGET, "a name"),
        token_file=token_file,
        token_env=token_env,
        connect_timeout_s=_positive(options, "connect_timeout_s", 4.0),
        read_timeout_s=_positive(options, "read_timeout_s", 20.0),
        backoff=Backoff(base_s=base, cap_s=cap),
        auth_retry_s=_positive(options, "auth_retry_s", 300.0),
        poll_s=_positive(options, "poll_s", 2.0),
        reconcile_after_s=_positive(options, "reconcile_after_s", 120.0),
        late_copy_watch_s=_positive(options, "late_copy_watch_s", 7 * 86400.0),
        inventree=inv,
        generic=gen,
    )


def from_station_config(config: Any) -> SyncSettings:
    """From :class:`edge.config.StationConfig` (or its ``.sync``). Errors name the file."""
    sync = getattr(config, "sync", config)
    source = getattr(config, "source", None)
    try:
        settings = from_options(
            sync.backend, sync.url, sync.token_file, sync.token_env, dict(sync.options)
        )
    except SyncSettingsError as exc:
        if source is None or str(exc).startswith(f"{source}:"):
            raise
        raise SyncSettingsError(f"{source}: {exc}", exc.key) from None
    return settings._replace(plans_dirs=tuple(getattr(config, "plans_dirs", ()) or ()),
                             source=source)
