"""Known bad: exponential and capped, with a token +/-2 % of jitter: clients stay bunched."""

from solutions.reconnection import Backoff as Reference
from solutions.reconnection import stay_connected  # noqa: F401

EXPECTED = {"reconnect-without-jitter", "websocket-thundering-herd"}
MESSAGE = "draw each delay from a wider range"


class Backoff(Reference):
    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.failures)
        self.failures = min(self.failures + 1, 64)
        return ceiling * self.rng.uniform(0.98, 1.02)
