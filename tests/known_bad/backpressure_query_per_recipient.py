"""Known bad: a permission query per recipient per broadcast (broadcast-n-queries).

Always current, never cached: every message costs one database round trip per
member of the room.
"""

from typing import Any

from solutions.backpressure import Close
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"broadcast-n-queries"}
MESSAGE = "one per recipient"


class Room(BaseRoom):
    def _fan_out(self, sender: str, kind: str, key: str, body: dict[str, Any]) -> list[Close]:
        frame = self.encode({"kind": kind, "key": key, "body": body})
        closes = []
        for client, box in list(self.outboxes.items()):
            if client == sender or not self.store.can_read(self.user_of[client]):  # N queries
                continue
            if not box.put(kind, key, frame):
                del self.outboxes[client]
                closes.append((client, 4000))
        return closes
