"""Known bad: a full outbox refuses new live data (drop newest).

The slow client keeps the prices it had and never sees the new ones: for live
data the newest value is the only one that matters.
"""

from solutions.backpressure import Outbox as Reference
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"unbounded-message-queue"}
MESSAGE = "keep the newest value"


class Outbox(Reference):
    def put(self, kind: str, key: str, frame: bytes) -> bool:
        if kind == "live" and self.size + len(frame) > self.max_bytes:
            return True  # no room: the new value is dropped
        return super().put(kind, key, frame)


class Room(BaseRoom):
    def join(self, client: str, user: str, now: float) -> None:
        super().join(client, user, now)
        self.outboxes[client] = Outbox(self.max_bytes)
