"""Known bad: ids from before a restart get ValueError (HTTP 400): the browser stops for good."""

from solutions.sse import EventLog as Reference
from solutions.sse import RetryPolicy, format_event  # noqa: F401

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "answered 400"


class EventLog(Reference):
    def _parse(self, last_event_id: str) -> int | None:
        seq = super()._parse(last_event_id)
        if seq is None:
            raise ValueError("unknown epoch")  # BUG: that is a resync, not a bad request
        return seq
