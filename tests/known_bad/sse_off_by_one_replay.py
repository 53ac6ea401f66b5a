"""Known bad: the replay starts one event too late, losing the first missed event."""

from solutions.sse import RETRY_MS, RetryPolicy, format_event  # noqa: F401
from solutions.sse import EventLog as Reference

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "a silent gap"


class EventLog(Reference):
    def open(self, last_event_id: str | None) -> str:
        text = super().open(last_event_id)
        if not last_event_id or "event: resync" in text:
            return text
        seen = self._parse(last_event_id)
        assert seen is not None
        # BUG: > seen + 1 instead of > seen
        return f"retry: {RETRY_MS}\n\n" + "".join(t for s, t in self.kept if s > seen + 1)
