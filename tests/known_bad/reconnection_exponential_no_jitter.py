"""Known bad: exponential and capped, but every client waits exactly as long."""

from solutions.reconnection import Backoff as Reference
from solutions.reconnection import stay_connected  # noqa: F401

EXPECTED = {"reconnect-without-jitter", "websocket-thundering-herd"}


class Backoff(Reference):
    def next_delay(self) -> float:
        delay = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        return delay
