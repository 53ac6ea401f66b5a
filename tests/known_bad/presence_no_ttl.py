"""Known bad: grace period and tombstones, but no heartbeat TTL.

A tab that crashes never closes its connection, so its user is never
tombstoned: a ghost, online forever.
"""

from solutions.presence import Event
from solutions.presence import PresenceTracker as Reference

EXPECTED = {"presence-immediate-removal"}
MESSAGE = "ghost"


class PresenceTracker(Reference):
    def tick(self, now: float) -> list[Event]:
        events: list[Event] = []
        for user, member in list(self.members.items()):
            # BUG: silent connections are never expired
            if member.gone_since is not None and now - member.gone_since >= self.grace:
                del self.members[user]
                events.append(("leave", user))
        return events
