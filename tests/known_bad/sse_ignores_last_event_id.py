"""Known bad: Last-Event-ID is ignored; every stream starts from now."""

from solutions.sse import RETRY_MS, RetryPolicy, format_event  # noqa: F401
from solutions.sse import EventLog as Reference

EXPECTED = {"reconnection-state-loss"}


class EventLog(Reference):
    def open(self, last_event_id: str | None) -> str:
        return f"retry: {RETRY_MS}\n\n"  # BUG: what was missed is never sent
