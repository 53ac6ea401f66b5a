"""Known bad: events without `id:`, so a browser cannot say where it stopped."""

from solutions.sse import EventLog as Reference
from solutions.sse import RetryPolicy, format_event

EXPECTED = {"sse-missing-event-id", "reconnection-state-loss"}
MESSAGE = "with no id: line"


class EventLog(Reference):
    def publish(self, data: str, event: str | None = None) -> str:
        self.last_seq += 1
        text = format_event(data, event=event)  # BUG: no event_id
        self.kept.append((self.last_seq, text))
        return text


_ = RetryPolicy
