"""Known bad: `retry:` on a first visit only; resumed and resynced streams lack it."""

from solutions.sse import EventLog as Reference
from solutions.sse import RetryPolicy, format_event  # noqa: F401

EXPECTED = {"sse-missing-retry"}


class EventLog(Reference):
    def open(self, last_event_id: str | None) -> str:
        text = super().open(last_event_id)
        if last_event_id:
            text = text.removeprefix("retry: 10000\n\n")  # BUG: only new visitors hear it
        return text
