"""Known bad: an id that is not ours is read as "from the start": the client is told
nothing of what it lost."""

from solutions.sse import RETRY_MS, RetryPolicy, format_event  # noqa: F401
from solutions.sse import EventLog as Reference

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "never issued"


class EventLog(Reference):
    def open(self, last_event_id: str | None) -> str:
        try:
            return super().open(last_event_id)
        except ValueError:
            # BUG: garbage gets the whole log with no resync, as if it were a valid id
            return f"retry: {RETRY_MS}\n\n" + "".join(t for _, t in self.kept)
