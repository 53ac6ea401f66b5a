"""Known bad: a fixed one-second delay, no growth, no jitter."""

from solutions.reconnection import Backoff as Reference
from solutions.reconnection import stay_connected  # noqa: F401

EXPECTED = {"reconnect-without-jitter", "websocket-thundering-herd"}


class Backoff(Reference):
    def next_delay(self) -> float:
        return 1.0
