"""Known good: the reference glue with parts of one's own, written differently: a
presence tracker that sweeps deadlines, and decorrelated jitter for the backoff."""

from __future__ import annotations

import random
from typing import Any

from solutions import capstone
from solutions.capstone import AppServer  # noqa: F401


class SweepPresence:
    """Per user: live connections with their deadline; a user leaves once the last one
    has been gone for the grace period."""

    def __init__(self, grace: float = 2.5, ttl: float = 3.5) -> None:
        self.grace, self.ttl = grace, ttl
        self.deadlines: dict[str, dict[str, float]] = {}  # user -> conn -> expires at
        self.empty_since: dict[str, float] = {}

    def connect(self, user: str, conn: str, now: float) -> list[tuple[str, str]]:
        new = user not in self.deadlines
        self.deadlines.setdefault(user, {})[conn] = now + self.ttl
        self.empty_since.pop(user, None)
        return [("join", user)] if new else []

    def disconnect(self, user: str, conn: str, now: float) -> list[tuple[str, str]]:
        conns = self.deadlines.get(user)
        if conns is not None and conns.pop(conn, None) is not None and not conns:
            self.empty_since[user] = now
        return []

    def heartbeat(self, user: str, conn: str, now: float) -> list[tuple[str, str]]:
        return self.connect(user, conn, now)

    def tick(self, now: float) -> list[tuple[str, str]]:
        gone = []
        for user, conns in list(self.deadlines.items()):
            for conn in [c for c, due in conns.items() if due <= now]:
                self.disconnect(user, conn, now)
            since = self.empty_since.get(user)
            if since is not None and now - since >= self.grace:
                del self.deadlines[user], self.empty_since[user]
                gone.append(("leave", user))
        return gone

    def online(self) -> set[str]:
        return set(self.deadlines)


class Decorrelated:
    def __init__(self, base: float, cap: float, rng: random.Random) -> None:
        self.base, self.cap, self.rng, self.last = base, cap, rng, base

    def next_delay(self) -> float:
        self.last = min(self.cap, self.rng.uniform(self.base, self.last * 3))
        return self.last

    def reset(self) -> None:
        self.last = self.base


def make_presence() -> Any:
    return SweepPresence()


class AppClient(capstone.AppClient):
    def __init__(self, user: str, room: str, rng: random.Random, now: float) -> None:
        super().__init__(user, room, rng, now)
        self.backoff = Decorrelated(0.3, 3.0, rng)
