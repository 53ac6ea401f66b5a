"""Known bad: the throttle drops the moves that come inside the interval.

At most one position per interval, leading edge and all, but nothing is kept for
later: when the mouse stops, the others' cursor stops short of it.
"""

from typing import Any

from solutions.backpressure import Close
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"cursor-high-frequency"}
MESSAGE = "stops short"


class Room(BaseRoom):
    def publish(self, client: str, kind: str, key: str, body: dict[str, Any],
                now: float) -> list[Close]:
        if kind == "cursor" and now - self.last_cursor.get(key, -1e9) < self.cursor_interval:
            return []  # dropped, not kept as pending
        return super().publish(client, kind, key, body, now)
