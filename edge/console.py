"""Printing a run on a terminal: each step with its values against its limits, live, and a
verdict large enough to read from across the bench."""

from __future__ import annotations

from typing import TextIO

from edge.engine import Log, MeasurementTaken, RunStarted, StepFinished, StepStarted
from edge.i18n import t
from edge.records import Measurement, Outcome, RunRecord

# Exit codes of `pibench run`: one per outcome, so scripts can tell them apart.
EXIT_CODES = {
    Outcome.PASS: 0,
    Outcome.FAIL: 1,
    Outcome.ERROR: 2,
    Outcome.ABORTED: 3,
    Outcome.MARGINAL: 4,
}
EXIT_USAGE = 64  # bad command line (sysexits EX_USAGE)
EXIT_BAD_INPUT = 65  # a serial or product that cannot be tested (EX_DATAERR)
EXIT_CONFIG = 78  # a broken configuration, plan or fixture file (EX_CONFIG)

_MARK = {
    Outcome.PASS: "ok ",
    Outcome.MARGINAL: "~  ",
    Outcome.FAIL: "XX ",
    Outcome.ERROR: "!! ",
    Outcome.ABORTED: "-- ",
    Outcome.SKIPPED: "   ",
}


def format_value(m: Measurement) -> str:
    v = m.value
    if v is None:
        text = "none"
    elif isinstance(v, float):
        text = f"{v:.6g}"
    elif isinstance(v, int) and not isinstance(v, bool) and m.limits.expected is not None:
        text = f"{v:#06x}" if isinstance(m.limits.expected, int) else str(v)
    else:
        text = str(v)
    units = f" {m.units}" if m.units and not isinstance(v, bool) else ""
    return f"{text}{units}"


def format_limits(m: Measurement) -> str:
    lim = m.limits
    if lim.expected is not None:
        exp = lim.expected
        is_pattern = isinstance(exp, int) and not isinstance(exp, bool)
        return f"== {exp:#06x}" if is_pattern else f"== {exp}"
    return lim.describe()


class LivePrinter:
    """An event-bus subscriber that prints as the engine goes (called in the engine's thread)."""

    def __init__(self, out: TextIO, lang: str) -> None:
        self.out = out
        self.lang = lang

    def __call__(self, event: object) -> None:
        out = self.out
        if isinstance(event, RunStarted):
            meta = event.meta
            retest = f"  ({t('retest', self.lang)})" if meta.retest else ""
            print(f"{meta.product} rev {meta.revision}  serial {meta.serial}{retest}", file=out)
            print(f"plan {meta.plan_name} v{meta.plan_version}  run {meta.run_id}", file=out)
        elif isinstance(event, StepStarted):
            retry = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            tag = "teardown: " if event.teardown else ""
            print(f"  -> {tag}{event.name}{retry}", file=out)
        elif isinstance(event, MeasurementTaken):
            m = event.measurement
            print(f"     {_MARK.get(m.outcome, '   ')}{m.name:<28} {format_value(m):>18}"
                  f"   [{format_limits(m)}]", file=out)
        elif isinstance(event, StepFinished):
            r = event.result
            error = f": {r.error}" if r.error and not r.outcome.passed else ""
            print(f"     {r.outcome.value} {r.name} ({r.duration_s * 1000:.1f} ms){error}",
                  file=out)
        elif isinstance(event, Log) and event.level >= 30:
            print(f"     ! {event.message}", file=out)
        out.flush()


def banner(record: RunRecord, lang: str) -> str:
    """The verdict, big: a framed line the technician reads from a metre away."""
    word = t(record.outcome.value, lang)
    other = t(record.outcome.value, "en" if lang == "fr" else "fr")
    text = f"{word}  /  {other}" if word != other else word
    width = max(len(text) + 8, 40)
    bar = "#" * width
    lines = [bar, f"##{text.center(width - 4)}##", bar]
    if record.error:
        lines.append(record.error)
    failed = [s for s in record.steps if s.outcome in (Outcome.FAIL, Outcome.ERROR)]
    for step in failed:
        bad = [m for m in step.measurements if not m.outcome.passed]
        detail = "; ".join(f"{m.name} = {format_value(m)} [{format_limits(m)}]" for m in bad)
        lines.append(f"  {step.outcome.value}: {step.name}"
                     + (f": {detail}" if detail else f": {step.error or ''}"))
    return "\n".join(lines)
