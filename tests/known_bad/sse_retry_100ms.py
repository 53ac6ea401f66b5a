"""Known bad: `retry: 100`, so every cut brings every tab back within a tenth of a second."""

from solutions.sse import EventLog as Reference
from solutions.sse import RetryPolicy, format_event  # noqa: F401

EXPECTED = {"sse-missing-retry"}
MESSAGE = "retry: 100,"


class EventLog(Reference):
    def open(self, last_event_id: str | None) -> str:
        text = super().open(last_event_id)
        return text.replace("retry: 10000\n", "retry: 100\n", 1)  # BUG: far too eager
