"""Known bad: the join loads the history first and subscribes the member after.

Whatever is published while the history read is in flight is in neither the
history nor the live stream: a joiner in a busy room misses it.
"""

from solutions.ordering import Client as Client
from solutions.ordering import Message
from solutions.ordering import Room as Reference

EXPECTED = {"room-join-race-condition"}
MESSAGE = "while the join was in progress"


class Room(Reference):
    async def join(self, member: str, since: int | None) -> list[Message]:
        if since is not None and (type(since) is not int or not 0 <= since <= self.seq):
            raise ValueError(f"bad since {since!r}")
        after = max(0, self.seq - self.backfill) if since is None else since
        kept = await self.history.read(after)  # BUG: history first...
        self.members.add(member)  # ...then subscribe: the gap between is lost
        if kept and kept[0]["seq"] > after + 1:
            return [{"type": "resync", "room": self.name, "after": kept[0]["seq"] - 1}, *kept]
        return [{"type": "joined", "room": self.name, "after": after}, *kept]
