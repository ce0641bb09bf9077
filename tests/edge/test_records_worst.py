"""worst(): a run's or an attempt's outcome from its parts."""

from __future__ import annotations

import itertools

from edge.records import Outcome, worst

ORDER = [Outcome.PASS, Outcome.MARGINAL, Outcome.FAIL, Outcome.ERROR, Outcome.ABORTED,
         Outcome.RUNNING]


def test_the_worst_outcome_wins_and_skipped_never_counts():
    assert worst([]) is Outcome.PASS
    assert worst([Outcome.SKIPPED, Outcome.SKIPPED]) is Outcome.PASS
    for parts in itertools.product([*ORDER, Outcome.SKIPPED], repeat=3):
        judged = [o for o in parts if o is not Outcome.SKIPPED]
        expected = max(judged, key=ORDER.index) if judged else Outcome.PASS
        assert worst(parts) is expected
        assert worst(list(parts)) is expected
