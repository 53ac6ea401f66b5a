"""Known bad: a stream that opens does not reset the backoff."""

from solutions.sse import EventLog, format_event  # noqa: F401
from solutions.sse import RetryPolicy as Reference

EXPECTED = {"sse-retry-flood"}
MESSAGE = "blip"


class RetryPolicy(Reference):
    def opened(self) -> None:
        pass  # BUG: the next outage starts at the longest waits
