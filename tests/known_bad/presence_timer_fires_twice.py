"""Known bad: two timers for one departure, and both fire.

When a crashed tab's TTL runs out, this tracker announces the leave at once
"to be safe", and also leaves a tombstone whose grace period announces it
again: observers are told twice that the user left.
"""

from solutions.presence import Event
from solutions.presence import PresenceTracker as Reference

EXPECTED = {"presence-immediate-removal"}
MESSAGE = "was not online"


class PresenceTracker(Reference):
    def tick(self, now: float) -> list[Event]:
        events: list[Event] = []
        for user, member in list(self.members.items()):
            for conn, heard in list(member.connections.items()):
                if now - heard >= self.ttl:
                    self.disconnect(user, conn, now)
                    if not member.connections:
                        events.append(("leave", user))  # BUG: the tombstone will fire too
        return events + super().tick(now)
