"""Known bad: counters that restart at 1 (as in sse_no_epoch) behind `retry: 60000`, so no
client reconnects while events are still being published; the loss shows only in the final
account, once every client has come back."""

from tests.known_bad.sse_no_epoch import EventLog as NoEpoch
from tests.known_bad.sse_no_epoch import RetryPolicy, format_event  # noqa: F401

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "At the end"


class EventLog(NoEpoch):
    def open(self, last_event_id: str | None) -> str:
        return super().open(last_event_id).replace("retry: 10000\n", "retry: 60000\n", 1)
