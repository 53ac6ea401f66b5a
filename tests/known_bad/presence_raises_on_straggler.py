"""Known bad: a disconnect for a connection it no longer tracks raises KeyError.

A crashed tab's connection is expired by the TTL; when its close finally shows
up, much later, the tracker crashes.
"""

from solutions.presence import Event
from solutions.presence import PresenceTracker as Reference

EXPECTED = {"presence-immediate-removal", "presence-flickering"}
MESSAGE = "KeyError"


class PresenceTracker(Reference):
    def disconnect(self, user: str, conn: str, now: float) -> list[Event]:
        member = self.members[user]
        del member.connections[conn]
        if not member.connections:
            member.gone_since = now
        return []
