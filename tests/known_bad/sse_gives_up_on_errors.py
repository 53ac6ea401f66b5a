"""Known bad: stops for good on any HTTP error, as a browser does: no client ever returns."""

from solutions.sse import EventLog, format_event  # noqa: F401
from solutions.sse import RetryPolicy as Reference

EXPECTED = {"sse-retry-flood"}
MESSAGE = "gave up"


class RetryPolicy(Reference):
    def failed(self, status: int | None) -> float | None:
        if status is not None:
            return None  # BUG: 500 and 503 pass; only 204 means stop
        return super().failed(status)
