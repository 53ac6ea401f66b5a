"""Known bad: a full outbox disconnects its client, whatever is in it.

Bounded and loud, but a 2G phone that keeps up with the chat is thrown out
whenever the live feed fills its outbox: dropping old prices would have done.
"""

from solutions.backpressure import Outbox as Reference
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"unbounded-message-queue"}
MESSAGE = "dropping its live data and old cursors would have made room"


class Outbox(Reference):
    def put(self, kind: str, key: str, frame: bytes) -> bool:
        if self.size + len(frame) > self.max_bytes:
            return False  # no policy: out it goes
        return super().put(kind, key, frame)


class Room(BaseRoom):
    def join(self, client: str, user: str, now: float) -> None:
        super().join(client, user, now)
        self.outboxes[client] = Outbox(self.max_bytes)
