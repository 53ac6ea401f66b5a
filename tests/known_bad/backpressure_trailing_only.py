"""Known bad: a throttle that only sends at the end of each interval.

Every move waits for the next interval boundary, the first one too: after a
pause the cursor lags a full interval behind the mouse.
"""

from typing import Any

from solutions.backpressure import Close
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"cursor-high-frequency"}
MESSAGE = "leading edge"


class Room(BaseRoom):
    def publish(self, client: str, kind: str, key: str, body: dict[str, Any],
                now: float) -> list[Close]:
        if kind == "cursor":
            if key not in self.pending and now - self.last_cursor.get(key, -1e9) >= \
                    self.cursor_interval:
                self.last_cursor[key] = now  # the interval starts now; the move waits for it
            self.pending[key] = (client, body)
            return []
        return super().publish(client, kind, key, body, now)
