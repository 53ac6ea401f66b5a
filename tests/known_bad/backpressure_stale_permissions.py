"""Known bad: permissions cached at join and never refreshed.

O(1) queries, as it should be, but a revoked user keeps reading the room and a
newly allowed one sees nothing until they reconnect.
"""

from solutions.backpressure import Room as BaseRoom

EXPECTED = {"broadcast-n-queries"}
MESSAGE = "still used a permission"


class Room(BaseRoom):
    def permission_changed(self, user: str, now: float) -> None:
        pass  # the cache stays as it was at join
