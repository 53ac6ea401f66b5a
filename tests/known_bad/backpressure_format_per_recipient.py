"""Known bad: one serialisation per recipient (the sharp edge broadcast-amplification).

The message is the same for everyone, yet encode() runs inside the loop: a room
of 10,000 formats it 10,000 times.
"""

from typing import Any

from solutions.backpressure import Close
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"broadcast-amplification"}
MESSAGE = "once per recipient"


class Room(BaseRoom):
    def _fan_out(self, sender: str, kind: str, key: str, body: dict[str, Any]) -> list[Close]:
        closes = []
        for client, box in list(self.outboxes.items()):
            if client == sender or not self.allowed.get(self.user_of[client], False):
                continue
            frame = self.encode({"kind": kind, "key": key, "body": body})  # per recipient
            if not box.put(kind, key, frame):
                del self.outboxes[client]
                closes.append((client, 4000))
        return closes
