"""Known good: recompute who should be online, then announce the difference.

Declarative instead of event-driven: the tracker remembers only facts (which
connections are open and when each was last heard from; when each user was
last connected) and, on every call, derives the set of users who should be
shown online and diffs it against what it announced before.
"""

Event = tuple[str, str]


class PresenceTracker:
    def __init__(self, grace: float = 5.0, ttl: float = 15.0) -> None:
        self.grace, self.ttl = grace, ttl
        self.heard: dict[str, tuple[str, float]] = {}  # conn -> (user, last heard)
        self.last_connected: dict[str, float] = {}  # user -> last moment with a connection
        self.shown: list[str] = []  # announced, in order of joining

    def _sync(self, now: float) -> list[Event]:
        for conn, (_, heard) in list(self.heard.items()):
            if now - heard >= self.ttl:
                del self.heard[conn]
        connected = {user for user, _ in self.heard.values()}
        for user in connected:
            self.last_connected[user] = now
        should = {u for u, t in self.last_connected.items()
                  if u in connected or now - t < self.grace}
        events: list[Event] = [("leave", u) for u in self.shown if u not in should]
        events += [("join", u) for u in sorted(should) if u not in self.shown]
        self.shown = [u for u in self.shown if u in should] + [
            u for u in sorted(should) if u not in self.shown]
        for user in list(self.last_connected):
            if user not in should:
                del self.last_connected[user]
        return events

    def connect(self, user: str, conn: str, now: float) -> list[Event]:
        self.heard[conn] = (user, now)
        return self._sync(now)

    def disconnect(self, user: str, conn: str, now: float) -> list[Event]:
        events = self._sync(now)  # the user was connected until now
        self.heard.pop(conn, None)
        return events + self._sync(now)

    def heartbeat(self, user: str, conn: str, now: float) -> list[Event]:
        self.heard[conn] = (user, now)
        return self._sync(now)

    def tick(self, now: float) -> list[Event]:
        return self._sync(now)

    def online(self) -> set[str]:
        return set(self.shown)
