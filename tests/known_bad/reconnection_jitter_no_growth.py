"""Known bad: random delays that never grow, so a down server is hammered."""

from solutions.reconnection import Backoff as Reference
from solutions.reconnection import stay_connected  # noqa: F401

EXPECTED = {"websocket-thundering-herd"}


class Backoff(Reference):
    def next_delay(self) -> float:
        return self.rng.uniform(0, 2 * self.base)
