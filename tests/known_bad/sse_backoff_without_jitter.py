"""Known bad: exponential and capped, but without jitter: every client retries in lockstep."""

from solutions.sse import EventLog, format_event  # noqa: F401
from solutions.sse import RetryPolicy as Reference

EXPECTED = {"sse-retry-flood"}
MESSAGE = "lockstep"


class RetryPolicy(Reference):
    def failed(self, status: int | None) -> float | None:
        if status == 204:
            return None
        delay = min(self.cap, self.base * 2**self.failures)  # BUG: no randomness
        self.failures += 1
        return delay
