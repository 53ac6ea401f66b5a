"""Known bad: online() leaves out users in their grace period.

The events are right, but a newcomer who starts from online() while someone
is tombstoned never sees that user again, even when they come back inside the
grace period (no join is announced for them): rosters diverge.
"""

from solutions.presence import PresenceTracker as Reference

EXPECTED = {"presence-immediate-removal"}
MESSAGE = "online()"


class PresenceTracker(Reference):
    def online(self) -> set[str]:
        return {user for user, member in self.members.items() if member.connections}
