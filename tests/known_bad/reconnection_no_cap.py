"""Known bad: jittered exponential backoff without a cap: hours-long waits."""

from solutions.reconnection import Backoff as Reference
from solutions.reconnection import stay_connected  # noqa: F401

EXPECTED = {"missing-reconnection-logic"}


class Backoff(Reference):
    def next_delay(self) -> float:
        delay = self.base * 2**self.failures
        self.failures += 1
        return delay * self.rng.uniform(1.0, 1.3)
