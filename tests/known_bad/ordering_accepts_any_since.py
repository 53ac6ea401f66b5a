"""Known bad: the room trusts whatever ``since`` a client sends.

A ``since`` in the future (a client of another room, or of the room before a
restart) is answered "joined, nothing new": the client then waits for seqs that
will never come, or skips the ones that do. Correct otherwise.
"""

from solutions.ordering import Client as Client
from solutions.ordering import Message
from solutions.ordering import Room as Reference

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "instead of raising ValueError"


class Room(Reference):
    async def join(self, member: str, since: int | None) -> list[Message]:
        self.members.add(member)  # BUG: no check of since at all
        after = max(0, self.seq - self.backfill) if since is None else since
        kept = await self.history.read(after)
        if kept and kept[0]["seq"] > after + 1:
            return [{"type": "resync", "room": self.name, "after": kept[0]["seq"] - 1}, *kept]
        return [{"type": "joined", "room": self.name, "after": after}, *kept]
