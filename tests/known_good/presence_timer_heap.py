"""Known good: timers in a heap, cancelled lazily with generation numbers.

Every disconnect schedules a "leave" timer and every connect or heartbeat a
"ttl" timer, tagged with a generation; a timer whose generation is no longer
current is stale and ignored when it pops. A per-user connection counter
stands in for the set of connections.
"""

import heapq
import itertools

Event = tuple[str, str]


class PresenceTracker:
    def __init__(self, grace: float = 5.0, ttl: float = 15.0) -> None:
        self.grace, self.ttl = grace, ttl
        self.count: dict[str, int] = {}  # user -> open connections
        self.live: dict[str, tuple[str, int]] = {}  # conn -> (user, generation)
        self.away: dict[str, int] = {}  # user -> generation of their pending leave
        self.timers: list[tuple[float, int, str, str, int]] = []
        self.gen = itertools.count()

    def _arm(self, when: float, kind: str, key: str) -> int:
        gen = next(self.gen)
        heapq.heappush(self.timers, (when, gen, kind, key, gen))
        return gen

    def connect(self, user: str, conn: str, now: float) -> list[Event]:
        fresh = user not in self.count
        self.count[user] = self.count.get(user, 0) + 1
        self.away.pop(user, None)  # cancels the pending leave (lazily)
        self.live[conn] = (user, self._arm(now + self.ttl, "ttl", conn))
        return [("join", user)] if fresh else []

    def disconnect(self, user: str, conn: str, now: float) -> list[Event]:
        if self.live.pop(conn, None) is None:
            return []
        self.count[user] -= 1
        if self.count[user] == 0:
            self.away[user] = self._arm(now + self.grace, "leave", user)
        return []

    def heartbeat(self, user: str, conn: str, now: float) -> list[Event]:
        if conn not in self.live:
            return self.connect(user, conn, now)
        self.live[conn] = (user, self._arm(now + self.ttl, "ttl", conn))
        return []

    def tick(self, now: float) -> list[Event]:
        events: list[Event] = []
        while self.timers and self.timers[0][0] <= now:
            when, _, kind, key, gen = heapq.heappop(self.timers)
            if kind == "ttl" and key in self.live and self.live[key][1] == gen:
                self.disconnect(self.live[key][0], key, when)
            elif kind == "leave" and self.away.get(key) == gen:
                del self.away[key], self.count[key]
                events.append(("leave", key))
        return events

    def online(self) -> set[str]:
        return set(self.count)
