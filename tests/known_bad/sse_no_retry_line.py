"""Known bad: streams never say `retry:`, so browsers reconnect after their own 3-5 s."""

from solutions.sse import EventLog as Reference
from solutions.sse import RetryPolicy, format_event  # noqa: F401

EXPECTED = {"sse-missing-retry"}
MESSAGE = "no retry: line"


class EventLog(Reference):
    def open(self, last_event_id: str | None) -> str:
        text = super().open(last_event_id)
        return text.removeprefix("retry: 10000\n\n")  # BUG: the retry line is dropped
