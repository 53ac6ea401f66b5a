"""Known bad: every mouse move is broadcast (cursor-high-frequency).

120 positions a second per cursor, to every viewer: the outboxes coalesce what a
slow client cannot read, but fast clients get all of them.
"""

from typing import Any

from solutions.backpressure import Close
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"cursor-high-frequency"}
MESSAGE = "120 messages per second"


class Room(BaseRoom):
    def publish(self, client: str, kind: str, key: str, body: dict[str, Any],
                now: float) -> list[Close]:
        return self._fan_out(client, kind, key, body)
