"""Known bad: exponential backoff without jitter (module 04's sharp edge).

Every tab a server drops waits exactly 0.5 s, then 1 s, then 2 s: they all come back in
the same instant, again and again.
"""

import random

from solutions import capstone
from solutions.capstone import AppServer, make_presence  # noqa: F401

EXPECTED = {"websocket-thundering-herd"}
MESSAGE = "a thundering herd"


class Backoff:
    def __init__(self, base: float = 0.5, cap: float = 4.0,
                 rng: random.Random | None = None) -> None:
        self.base, self.cap, self.failures = base, cap, 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * 2**self.failures)  # BUG: no jitter
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class AppClient(capstone.AppClient):
    def __init__(self, user: str, room: str, rng: random.Random, now: float) -> None:
        super().__init__(user, room, rng, now)
        self.backoff = Backoff(0.5, 4.0)
