"""Known bad: the resync event has no id, so a client that reloads still holds its stale id."""

from solutions.sse import RETRY_MS, RetryPolicy, format_event  # noqa: F401
from solutions.sse import EventLog as Reference

EXPECTED = {"sse-missing-event-id"}


class EventLog(Reference):
    def open(self, last_event_id: str | None) -> str:
        text = super().open(last_event_id)
        if "event: resync" in text:
            # BUG: the resync loses its id line
            return f"retry: {RETRY_MS}\n\n" + format_event("reload", event="resync")
        return text
