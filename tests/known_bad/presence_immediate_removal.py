"""Known bad: announces a leave the moment the last connection closes (no grace period).

The anti-pattern Presence Without Grace Period: every blip becomes a leave and a
join for everyone in the room, and a real leave is announced too early. It does
expire silent connections, so crashed tabs do not stay forever.
"""

from solutions.presence import Event
from solutions.presence import PresenceTracker as Reference

EXPECTED = {"presence-immediate-removal", "presence-flickering"}
MESSAGE = "a flicker"


class PresenceTracker(Reference):
    def disconnect(self, user: str, conn: str, now: float) -> list[Event]:
        member = self.members.get(user)
        if member is None or conn not in member.connections:
            return []
        del member.connections[conn]
        if not member.connections:
            del self.members[user]  # gone at once: no tombstone
            return [("leave", user)]
        return []

    def tick(self, now: float) -> list[Event]:
        events: list[Event] = []
        for user, member in list(self.members.items()):
            for conn, heard in list(member.connections.items()):
                if now - heard >= self.ttl:
                    events += self.disconnect(user, conn, now)
        return events
