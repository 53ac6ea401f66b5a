"""Known bad: presence per connection instead of per user.

Each connection is a member of its own, with its own grace period and TTL:
a second tab announces a second join, a reconnect (new connection id) joins
again while the old connection is still in its grace period, and closing one
of two tabs announces a leave.
"""

EXPECTED = {"presence-immediate-removal", "presence-flickering"}
MESSAGE = "already online"

Event = tuple[str, str]


class PresenceTracker:
    def __init__(self, grace: float = 5.0, ttl: float = 15.0) -> None:
        self.grace, self.ttl = grace, ttl
        self.heard: dict[tuple[str, str], float] = {}  # (user, conn) -> last heard
        self.gone: dict[tuple[str, str], float] = {}  # (user, conn) -> closed at

    def connect(self, user: str, conn: str, now: float) -> list[Event]:
        self.heard[user, conn] = now
        return [("join", user)]

    def disconnect(self, user: str, conn: str, now: float) -> list[Event]:
        if self.heard.pop((user, conn), None) is not None:
            self.gone[user, conn] = now
        return []

    def heartbeat(self, user: str, conn: str, now: float) -> list[Event]:
        if (user, conn) not in self.heard:
            return self.connect(user, conn, now)
        self.heard[user, conn] = now
        return []

    def tick(self, now: float) -> list[Event]:
        for key, heard in list(self.heard.items()):
            if now - heard >= self.ttl:
                self.disconnect(*key, now)
        events: list[Event] = []
        for key, since in list(self.gone.items()):
            if now - since >= self.grace:
                del self.gone[key]
                events.append(("leave", key[0]))
        return events

    def online(self) -> set[str]:
        return {user for user, _ in self.heard} | {user for user, _ in self.gone}
