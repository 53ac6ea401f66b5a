"""Known bad: the outbox is bounded in messages, not in bytes.

``max_bytes // 100`` frames, as if every frame were about 100 bytes: the live
feed's frames are up to 1.4 KB, so a slow client's outbox holds many times its
byte budget before the bound bites.
"""

from collections import deque

from solutions.backpressure import Outbox as Reference
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"backpressure-oom", "unbounded-message-queue"}
MESSAGE = "a limit on the number of messages is no limit on memory"


class Outbox(Reference):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self.max_messages = max_bytes // 100

    def count(self) -> int:
        return len(self.events) + len(self.live) + len(self.cursors)

    def put(self, kind: str, key: str, frame: bytes) -> bool:
        self.seq += 1
        if kind == "cursor":
            old = self.cursors.pop(key, None)
            if old is not None:
                self.size -= len(old[1])
            self.cursors[key] = (self.seq, frame)
        else:
            (self.events if kind == "event" else self.live).append((self.seq, frame))
        self.size += len(frame)
        while self.count() > self.max_messages and self.live:
            self.size -= len(self.live.popleft()[1])
        return self.count() <= self.max_messages

    live: deque[tuple[int, bytes]]


class Room(BaseRoom):
    def join(self, client: str, user: str, now: float) -> None:
        super().join(client, user, now)
        self.outboxes[client] = Outbox(self.max_bytes)
