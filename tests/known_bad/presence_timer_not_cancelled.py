"""Known bad: a reconnect inside the grace period does not cancel the pending leave.

The user is back, but the leave timer started by the blip still fires: everyone
sees them leave although they are connected, and join again at their next
heartbeat.
"""

EXPECTED = {"presence-flickering"}
MESSAGE = "inside the"

Event = tuple[str, str]


class PresenceTracker:
    def __init__(self, grace: float = 5.0, ttl: float = 15.0) -> None:
        self.grace, self.ttl = grace, ttl
        self.conns: dict[str, dict[str, float]] = {}  # user -> conn -> last heard
        self.leave_at: dict[str, float] = {}  # user -> when the pending leave fires

    def connect(self, user: str, conn: str, now: float) -> list[Event]:
        events: list[Event] = [] if user in self.conns else [("join", user)]
        self.conns.setdefault(user, {})[conn] = now
        # BUG: forgot `self.leave_at.pop(user, None)`: the timer is not cancelled
        return events

    def disconnect(self, user: str, conn: str, now: float) -> list[Event]:
        conns = self.conns.get(user)
        if conns is None or conn not in conns:
            return []
        del conns[conn]
        if not conns:
            self.leave_at[user] = now + self.grace
        return []

    def heartbeat(self, user: str, conn: str, now: float) -> list[Event]:
        if conn not in self.conns.get(user, {}):
            return self.connect(user, conn, now)
        self.conns[user][conn] = now
        return []

    def tick(self, now: float) -> list[Event]:
        for user, conns in list(self.conns.items()):
            for conn, heard in list(conns.items()):
                if now - heard >= self.ttl:
                    self.disconnect(user, conn, now)
        events: list[Event] = []
        for user, due in list(self.leave_at.items()):
            if now >= due:
                del self.leave_at[user]
                del self.conns[user]  # whatever connections it has now
                events.append(("leave", user))
        return events

    def online(self) -> set[str]:
        return set(self.conns)
