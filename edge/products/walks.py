"""Turning walk read-backs into words a technician can act on: "LED3 (GPA2) stuck low".

A walk applies patterns to a set of signals and compares what was expected with what was
seen. :func:`diagnose` looks at one signal across every pattern: never high is *stuck low*,
never low is *stuck high*, wrong only in some patterns points at the signal those patterns
singled out (a short). Pure functions, so the wording is tested without hardware.
"""

from collections.abc import Sequence

from drivers.named_tuple import NamedTuple

PASS = "pass"  # the value of a walk measurement with nothing wrong (its limit: expected = "pass")


class Signal(NamedTuple):
    label: str  # "LED3 (GPA2)"
    bit: int  # its bit in the observation masks
    active_level: bool | None = None  # for inputs: the level that means "pressed"


class Observation(NamedTuple):
    expected: int
    seen: int
    cause: str | None = None  # label of the signal this pattern singles out


def diagnose(signals: Sequence[Signal], observations: Sequence[Observation]) -> list[str]:
    """One phrase per signal that read wrong in any observation, in signal order."""
    problems = []
    for signal in signals:
        wrong = [o for o in observations if (o.expected ^ o.seen) & signal.bit]
        if not wrong:
            continue
        levels = [bool(o.seen & signal.bit) for o in observations]
        if not any(levels):
            problems.append(f"{signal.label} stuck low{_meaning(signal, False)}")
        elif all(levels):
            problems.append(f"{signal.label} stuck high{_meaning(signal, True)}")
        else:
            causes = sorted({o.cause for o in wrong if o.cause and o.cause != signal.label})
            if causes:
                problems.append(f"{signal.label} reads wrong when {' or '.join(causes)} "
                                "is switched (shorted to it?)")
            else:
                problems.append(f"{signal.label} reads wrong in {len(wrong)} of "
                                f"{len(observations)} patterns (intermittent contact?)")
    return problems


def wrong_pins(signals: Sequence[Signal], observations: Sequence[Observation]) -> int:
    """The bits of every signal that read wrong in any observation (0: none): which pins
    failed, as data, beside :func:`diagnose`'s words."""
    wrong = 0
    for o in observations:
        wrong |= o.expected ^ o.seen
    return wrong & sum(s.bit for s in signals)


def _meaning(signal: Signal, level: bool) -> str:
    if signal.active_level is None:
        return ""
    return " (always reads pressed)" if level == signal.active_level else " (never reads pressed)"


def high_labels(signals: Sequence[Signal], mask: int) -> str:
    """The signals that are high in ``mask``, for logs: 'LED1, LED3' or 'none'."""
    return ", ".join(s.label for s in signals if mask & s.bit) or "none"
