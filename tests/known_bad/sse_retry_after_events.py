"""Known bad: the replayed events come first and `retry:` after them."""

from solutions.sse import EventLog as Reference
from solutions.sse import RetryPolicy, format_event  # noqa: F401

EXPECTED = {"sse-missing-retry"}
MESSAGE = "after the first event"


class EventLog(Reference):
    def open(self, last_event_id: str | None) -> str:
        head = "retry: 10000\n\n"
        # BUG: a client cut during the replay never learns its reconnection time
        return super().open(last_event_id).removeprefix(head) + head
