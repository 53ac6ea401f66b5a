"""Known bad: retry every second, whatever happens."""

from solutions.sse import EventLog, format_event  # noqa: F401
from solutions.sse import RetryPolicy as Reference

EXPECTED = {"sse-retry-flood"}


class RetryPolicy(Reference):
    def failed(self, status: int | None) -> float | None:
        return None if status == 204 else 1.0  # BUG: no growth, no jitter
