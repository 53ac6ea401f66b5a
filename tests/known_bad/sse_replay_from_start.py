"""Known bad: a resumed stream replays the whole log, so clients see events twice."""

from solutions.sse import RETRY_MS, RetryPolicy, format_event  # noqa: F401
from solutions.sse import EventLog as Reference

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "again"


class EventLog(Reference):
    def open(self, last_event_id: str | None) -> str:
        text = super().open(last_event_id)
        if not last_event_id or "event: resync" in text:
            return text
        # BUG: everything kept, not just what came after last_event_id
        return f"retry: {RETRY_MS}\n\n" + "".join(text for _, text in self.kept)
