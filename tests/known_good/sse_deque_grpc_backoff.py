"""Known good: the reference log with a gRPC-style client backoff (x1.6, +/-20 % jitter)."""

from __future__ import annotations

import random

from solutions.sse import RETRY_MS, EventLog, format_event  # noqa: F401


class RetryPolicy:
    def __init__(self, rng: random.Random, base: float = 1.0, cap: float = 30.0) -> None:
        self.rng, self.base, self.cap = rng, base, cap
        self.backoff = base

    def opened(self) -> None:
        self.backoff = self.base

    def failed(self, status: int | None) -> float | None:
        if status == 204:
            return None
        delay = self.backoff * self.rng.uniform(0.8, 1.2)
        self.backoff = min(self.cap, self.backoff * 1.6)
        return delay
