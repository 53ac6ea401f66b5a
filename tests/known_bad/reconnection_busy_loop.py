"""Known bad: an infinite loop that never awaits (the grader must stop it)."""

from solutions.reconnection import Backoff as Reference
from solutions.reconnection import stay_connected  # noqa: F401

EXPECTED = {"missing-reconnection-logic", "reconnect-without-jitter", "websocket-thundering-herd"}
MESSAGE = "did not finish within"


class Backoff(Reference):
    def next_delay(self) -> float:
        while self.failures >= 0:  # forgot to break out
            pass
        return 1.0
