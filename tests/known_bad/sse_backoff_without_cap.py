"""Known bad: exponential backoff with jitter but no cap: after a long outage, minutes pass."""

from solutions.sse import EventLog, format_event  # noqa: F401
from solutions.sse import RetryPolicy as Reference

EXPECTED = {"sse-retry-flood"}


class RetryPolicy(Reference):
    def failed(self, status: int | None) -> float | None:
        if status == 204:
            return None
        ceiling = self.base * 2 ** min(self.failures, 60)  # BUG: no min(self.cap, ...)
        self.failures += 1
        return self.rng.uniform(ceiling / 2, ceiling)
