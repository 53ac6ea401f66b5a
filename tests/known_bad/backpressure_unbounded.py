"""Known bad: one unbounded queue per client (the sharp edge backpressure-oom).

Every frame is appended and nothing is ever dropped or refused: a client that
stops reading makes the server hold everything the room says, for as long as the
connection stays open.
"""

from solutions.backpressure import Outbox as Reference
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"backpressure-oom", "unbounded-message-queue"}
MESSAGE = "is growing in the server's memory"


class Outbox(Reference):
    def put(self, kind: str, key: str, frame: bytes) -> bool:
        self.seq += 1
        self.events.append((self.seq, frame))  # everything, in order, forever
        self.size += len(frame)
        return True


class Room(BaseRoom):
    def join(self, client: str, user: str, now: float) -> None:
        super().join(client, user, now)
        self.outboxes[client] = Outbox(self.max_bytes)
