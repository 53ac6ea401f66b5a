"""Known bad: the replay after ``since`` starts at ``since`` itself.

``since=N`` means "I have everything up to N", so the replay must start at N + 1.
This room reads ``seq >= since``: every resume sends one message the client
already has (a client without de-duplication shows it twice).
"""

from solutions.ordering import Client as Client
from solutions.ordering import Message
from solutions.ordering import Room as Reference

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "already had"


class Room(Reference):
    async def join(self, member: str, since: int | None) -> list[Message]:
        if since is None:
            return await super().join(member, since)
        if type(since) is not int or not 0 <= since <= self.seq:
            raise ValueError(f"bad since {since!r}")
        self.members.add(member)
        kept = await self.history.read(since - 1)  # BUG: seq >= since, not seq > since
        if kept and kept[0]["seq"] > since:
            return [{"type": "resync", "room": self.name, "after": kept[0]["seq"] - 1}, *kept]
        return [{"type": "joined", "room": self.name, "after": since}, *kept]
