"""Known good: the reference log; a backoff that draws from the random module itself
(the grader seeds it, so runs still replay) with equal jitter and its own counter name."""

from __future__ import annotations

import random

from solutions.sse import RETRY_MS, EventLog, format_event  # noqa: F401


class RetryPolicy:
    def __init__(self, rng: random.Random, base: float = 1.0, cap: float = 30.0) -> None:
        self.base, self.cap = base, cap
        self.streak = 0

    def opened(self) -> None:
        self.streak = 0

    def failed(self, status: int | None) -> float | None:
        if status == 204:
            return None
        self.streak += 1
        half = min(self.cap, self.base * 2 ** min(self.streak - 1, 32)) / 2
        return half + random.uniform(0, half)
