"""Known bad: when the id is older than the log, replay what is left and say nothing."""

from solutions.sse import RETRY_MS, RetryPolicy, format_event  # noqa: F401
from solutions.sse import EventLog as Reference

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "a silent gap"


class EventLog(Reference):
    def open(self, last_event_id: str | None) -> str:
        if not last_event_id:
            return f"retry: {RETRY_MS}\n\n"
        seen = self._parse(last_event_id)
        if seen is None:  # another epoch
            seen = 0
        # BUG: no resync when events after `seen` were dropped from the log
        return f"retry: {RETRY_MS}\n\n" + "".join(t for s, t in self.kept if s > seen)
