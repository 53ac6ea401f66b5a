"""Known bad: reconnect immediately (the anti-pattern Reconnect Immediately)."""

from solutions.reconnection import Backoff as Reference
from solutions.reconnection import stay_connected  # noqa: F401

EXPECTED = {"websocket-thundering-herd", "reconnect-without-jitter"}


class Backoff(Reference):
    def next_delay(self) -> float:
        return 0.0
