"""Known bad: a full outbox drops its oldest frame, whatever it is.

Memory stays bounded, but chat messages vanish from a slow client's stream with
no disconnect to tell it: its history silently has holes.
"""

from solutions.backpressure import Outbox as Reference
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"unbounded-message-queue"}
MESSAGE = "dropped it silently"


class Outbox(Reference):
    def put(self, kind: str, key: str, frame: bytes) -> bool:
        super().put(kind, key, frame)
        while self.size > self.max_bytes and self.events:  # an event, like any frame
            self.size -= len(self.events.popleft()[1])
        return True


class Room(BaseRoom):
    def join(self, client: str, user: str, now: float) -> None:
        super().join(client, user, now)
        self.outboxes[client] = Outbox(self.max_bytes)
