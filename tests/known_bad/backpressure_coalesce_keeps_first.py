"""Known bad: coalescing that keeps the queued cursor instead of the newest.

A slow client's outbox holds one position per cursor, as it should, but the first
one queued wins: the newer positions are thrown away and the cursor freezes at an
old place.
"""

from solutions.backpressure import Outbox as Reference
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"cursor-high-frequency"}
MESSAGE = "coalescing must keep the newest"


class Outbox(Reference):
    def put(self, kind: str, key: str, frame: bytes) -> bool:
        if kind == "cursor" and key in self.cursors:
            return True  # already one queued for this cursor: keep it, drop the new one
        return super().put(kind, key, frame)


class Room(BaseRoom):
    def join(self, client: str, user: str, now: float) -> None:
        super().join(client, user, now)
        self.outboxes[client] = Outbox(self.max_bytes)
