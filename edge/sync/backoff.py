"""Capped exponential backoff with full jitter (AWS Builders' Library, on backoff with jitter).

Full jitter spreads the reconnects of many stations after a shared outage. There is no attempt
limit: an outage lasting days costs one probe per (at most) ``cap_s``, never a dropped result.
"""

import random

from drivers.named_tuple import NamedTuple


# (a NamedTuple, not a frozen dataclass: no dataclasses at a station's start, issue 14)
class Backoff(NamedTuple):
    """How long to wait before the next delivery attempt after failures."""

    base_s: float = 3.0
    cap_s: float = 900.0
    # Below this a "delay" is a busy loop against a dead server; full jitter can draw ~0.
    floor_s: float = 0.5

    def delay(self, failures: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        """Seconds to wait after ``failures`` consecutive failures (1 = the first failure).

        ``retry_after_s`` from the server is a floor: we never come back earlier than asked.
        """
        exponent = min(max(failures - 1, 0), 60)  # 2**60 s is past any cap; avoids overflow
        ceiling = min(self.cap_s, self.base_s * (2**exponent))
        wait = max(self.floor_s, rng.uniform(0.0, ceiling))
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return wait
