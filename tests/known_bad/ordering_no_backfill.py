"""Known bad: a fresh join subscribes and sends no history: the room looks empty.

Resumes (``since=N``) are replayed correctly; only newcomers are left without the
conversation so far.
"""

from solutions.ordering import Client as Client
from solutions.ordering import Message
from solutions.ordering import Room as Reference

EXPECTED = {"join-without-backfill"}
MESSAGE = "never showed"


class Room(Reference):
    async def join(self, member: str, since: int | None) -> list[Message]:
        if since is None:
            self.members.add(member)
            return [{"type": "joined", "room": self.name, "after": self.seq}]  # BUG: no history
        return await super().join(member, since)
