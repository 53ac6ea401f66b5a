"""Known bad: 204 treated like any error, so clients come back to a server that said stop."""

from solutions.sse import EventLog, format_event  # noqa: F401
from solutions.sse import RetryPolicy as Reference

EXPECTED = {"sse-retry-flood"}
MESSAGE = "204"


class RetryPolicy(Reference):
    def failed(self, status: int | None) -> float | None:
        return super().failed(503 if status == 204 else status)  # BUG
