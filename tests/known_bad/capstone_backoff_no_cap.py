"""Known bad: backoff without a cap (module 04's sharp edge). After the outage, the tabs
that failed a few times wait longer and longer: some are away for many seconds."""

import random

from solutions import capstone
from solutions.capstone import AppServer, make_presence  # noqa: F401

EXPECTED = {"missing-reconnection-logic", "missing-heartbeat"}


class AppClient(capstone.AppClient):
    def __init__(self, user: str, room: str, rng: random.Random, now: float) -> None:
        super().__init__(user, room, rng, now)
        # BUG: no cap worth the name, and a steep base
        self.backoff = capstone.backoff_part.Backoff(base=2.0, cap=3600.0, rng=rng)
