"""Known good: flat dictionaries and one sweep per tick.

No member objects: a set of connection ids per user, a last-heard time per
connection, and a leave deadline per tombstoned user. A connection that went
silent counts as closed at the moment its TTL ran out (not when the tick
noticed), so its grace period starts a little earlier than the reference's.
"""

Event = tuple[str, str]


class PresenceTracker:
    def __init__(self, grace: float = 5.0, ttl: float = 15.0) -> None:
        self.grace, self.ttl = grace, ttl
        self.conns: dict[str, set[str]] = {}
        self.heard: dict[tuple[str, str], float] = {}
        self.deadline: dict[str, float] = {}  # tombstones: user -> leave due at
        self.announced: set[str] = set()

    def connect(self, user: str, conn: str, now: float) -> list[Event]:
        self.conns.setdefault(user, set()).add(conn)
        self.heard[user, conn] = now
        self.deadline.pop(user, None)
        if user in self.announced:
            return []
        self.announced.add(user)
        return [("join", user)]

    def _drop(self, user: str, conn: str, when: float) -> None:
        if self.heard.pop((user, conn), None) is None:
            return
        self.conns[user].discard(conn)
        if not self.conns[user]:
            self.deadline[user] = when + self.grace

    def disconnect(self, user: str, conn: str, now: float) -> list[Event]:
        self._drop(user, conn, now)
        return []

    def heartbeat(self, user: str, conn: str, now: float) -> list[Event]:
        if (user, conn) in self.heard:
            self.heard[user, conn] = now
            return []
        return self.connect(user, conn, now)

    def tick(self, now: float) -> list[Event]:
        for (user, conn), heard in list(self.heard.items()):
            if heard + self.ttl <= now:
                self._drop(user, conn, heard + self.ttl)
        due = sorted(u for u, t in self.deadline.items() if t <= now)
        for user in due:
            del self.deadline[user]
            self.announced.discard(user)
        return [("leave", user) for user in due]

    def online(self) -> set[str]:
        return set(self.announced)
