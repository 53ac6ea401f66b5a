"""Known bad: heartbeats do not refresh the connection, so the TTL counts from connect.

Every healthy connection that lives longer than the TTL is declared dead: its
user leaves (after the grace period) and joins again at the next heartbeat; and
a user who then really leaves is announced gone too early, since the grace
period started when the TTL (wrongly) ran out.
"""

from solutions.presence import Event
from solutions.presence import PresenceTracker as Reference

EXPECTED = {"presence-flickering", "presence-immediate-removal"}
MESSAGE = "last heartbeat"


class PresenceTracker(Reference):
    def heartbeat(self, user: str, conn: str, now: float) -> list[Event]:
        member = self.members.get(user)
        if member is None or conn not in member.connections:
            return self.connect(user, conn, now)
        return []  # BUG: forgot member.connections[conn] = now
