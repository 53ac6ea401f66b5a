"""Known bad: only the first retry is jittered; every later delay is the same for everyone.

The first draw spreads the clients by up to `base`, so the report must not claim their
arrivals were in lockstep: it says what it measured, the identical later delays. After a
long outage every delay is the cap, and the first draw's half second is too little to
keep the herd apart, so the herd check fails too."""

from solutions.reconnection import Backoff as Reference
from solutions.reconnection import stay_connected  # noqa: F401

EXPECTED = {"reconnect-without-jitter", "websocket-thundering-herd"}
MESSAGE = "before attempt 2 after the restart: draw every delay at random, not only the first"


class Backoff(Reference):
    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.failures)
        first = self.failures == 0
        self.failures = min(self.failures + 1, 64)
        return self.rng.uniform(0, ceiling) if first else ceiling
