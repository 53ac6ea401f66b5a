"""Known bad: a resume the log no longer covers is answered as if it did.

The client asks for everything after N; the log starts later; the room answers
``joined after=N`` with what it has, and the client never learns it lost the rest.
"""

from solutions.ordering import Client as Client
from solutions.ordering import Message
from solutions.ordering import Room as Reference

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "no resync said it was gone"


class Room(Reference):
    async def join(self, member: str, since: int | None) -> list[Message]:
        reply = await super().join(member, since)
        if reply[0]["type"] == "resync" and since is not None:
            reply[0] = {"type": "joined", "room": self.name, "after": since}  # BUG: silent loss
        return reply
