"""Known bad: data split with str.splitlines(), which drops a trailing newline, splits at
characters the SSE parser does not (U+2028) and writes no data line for empty data."""

import re

from solutions.sse import EventLog as Reference
from solutions.sse import RetryPolicy  # noqa: F401

EXPECTED = {"sse-missing-event-id"}


def format_event(data: str, *, event_id: str | None = None, event: str | None = None) -> str:
    head = "" if event_id is None else f"id: {event_id}\n"
    head += "" if event is None else f"event: {event}\n"
    return head + "".join(f"data: {line}\n" for line in data.splitlines()) + "\n"  # BUG


class EventLog(Reference):
    def publish(self, data: str, event: str | None = None) -> str:
        self.last_seq += 1
        text = format_event(data, event_id=self._id(self.last_seq), event=event)
        self.kept.append((self.last_seq, text))
        return text


_ = re  # the fix would use re.split(r"\r\n|\r|\n", data)
