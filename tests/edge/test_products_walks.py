"""Walk diagnosis: what a technician reads when an output or input misbehaves."""

from __future__ import annotations

from edge.products.walks import Observation, Signal, diagnose, high_labels

LEDS = [Signal(f"LED{i + 1} (GPA{i})", 1 << i) for i in range(4)]
MASK = 0b1111


def walk(read, *, zero: bool = False):
    """Observations of a walk where ``read(expected)`` gives what the fixture saw."""
    out = []
    for s in LEDS:
        expected = MASK & ~s.bit if zero else s.bit
        out.append(Observation(expected, read(expected), s.label))
    return out


def test_all_good_is_no_problem():
    assert diagnose(LEDS, walk(lambda e: e)) == []


def test_stuck_low_and_stuck_high_are_named_by_label_and_pin():
    def read(e):
        return (e & ~0b0100) | 0b0001  # LED3 stuck low, LED1 stuck high

    assert diagnose(LEDS, walk(read)) == ["LED1 (GPA0) stuck high", "LED3 (GPA2) stuck low"]
    assert diagnose(LEDS, walk(read, zero=True)) == ["LED1 (GPA0) stuck high",
                                                     "LED3 (GPA2) stuck low"]


def test_a_short_points_at_the_other_signal():
    def read(e):
        return e | 0b0010 if e & 0b0100 else e  # LED2 follows LED3

    assert diagnose(LEDS, walk(read)) == [
        "LED2 (GPA1) reads wrong when LED3 (GPA2) is switched (shorted to it?)"]


def test_inputs_say_what_the_stuck_level_means():
    buttons = [Signal("SW1 (GPB0)", 1, active_level=False),
               Signal("SW2 (GPB1)", 2, active_level=False)]
    observations = [Observation(0b11, 0b10), Observation(0b10, 0b10, "SW1 (GPB0)"),
                    Observation(0b01, 0b10, "SW2 (GPB1)")]
    assert diagnose(buttons, observations) == ["SW1 (GPB0) stuck low (always reads pressed)",
                                               "SW2 (GPB1) stuck high (never reads pressed)"]


def test_high_labels_for_logs():
    assert high_labels(LEDS, 0b0101) == "LED1 (GPA0), LED3 (GPA2)"
    assert high_labels(LEDS, 0) == "none"
