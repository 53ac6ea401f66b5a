"""Known bad: ids are plain counters that start again at 1 after a restart, so an id from
before the restart names some other event of the new log (or one not yet published)."""

from solutions.sse import EventLog as Reference
from solutions.sse import RetryPolicy, format_event  # noqa: F401

EXPECTED = {"reconnection-state-loss"}


class EventLog(Reference):
    def _id(self, seq: int) -> str:
        return str(seq)  # BUG: the same ids again after every restart

    def _parse(self, last_event_id: str) -> int | None:
        if not last_event_id.isascii() or not last_event_id.isdigit() or len(last_event_id) > 18:
            raise ValueError(f"malformed Last-Event-ID {last_event_id[:80]!r}")
        return min(int(last_event_id), self.last_seq)  # an unknown id: "nothing missed"
