"""Known bad: a move sent at once leaves an older held-back move pending.

When a new interval starts before tick() has flushed the held-back move, the new move
goes out at once, and then tick() sends the older one: the viewer's cursor ends one
step behind the mouse. (Found in a first draft of a known-good variant.)
"""

import math
from typing import Any

from solutions.backpressure import Close
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"cursor-high-frequency"}
MESSAGE = "coalescing must keep the newest"


class Room(BaseRoom):
    def publish(self, client: str, kind: str, key: str, body: dict[str, Any],
                now: float) -> list[Close]:
        if kind == "cursor":
            if now - self.last_cursor.get(key, -math.inf) < self.cursor_interval:
                self.pending[key] = (client, body)
                return []
            self.last_cursor[key] = now  # the pending move is not dropped here
        return self._fan_out(client, kind, key, body)
