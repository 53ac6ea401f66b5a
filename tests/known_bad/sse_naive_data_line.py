"""Known bad: the whole data on one `data:` line, so multi-line data arrives cut short."""

from solutions.sse import EventLog as Reference
from solutions.sse import RetryPolicy  # noqa: F401

EXPECTED = {"sse-missing-event-id"}
MESSAGE = "a browser reads"


def format_event(data: str, *, event_id: str | None = None, event: str | None = None) -> str:
    head = "" if event_id is None else f"id: {event_id}\n"
    head += "" if event is None else f"event: {event}\n"
    return head + f"data: {data}\n\n"  # BUG: a line break in data ends the field


class EventLog(Reference):
    def publish(self, data: str, event: str | None = None) -> str:
        self.last_seq += 1
        text = format_event(data, event_id=self._id(self.last_seq), event=event)
        self.kept.append((self.last_seq, text))
        return text
