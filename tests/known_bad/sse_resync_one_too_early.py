"""Known bad: resync when exactly `capacity` events were missed, though the log holds them all."""

from solutions.sse import RETRY_MS, RetryPolicy, format_event  # noqa: F401
from solutions.sse import EventLog as Reference

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "needless"


class EventLog(Reference):
    def open(self, last_event_id: str | None) -> str:
        if last_event_id and self.kept:
            seen = self._parse(last_event_id)
            if seen is not None and seen == self.kept[0][0] - 1:  # BUG: this one is fine
                why = "log overflow"
                return f"retry: {RETRY_MS}\n\n" + format_event(
                    why, event_id=self._id(self.last_seq), event="resync")
        return super().open(last_event_id)
