"""Known bad: the room forgets a connection's awareness when it goes, telling nobody.

A client that closes cleanly says goodbye itself (a null state), but one whose
link drops never does: everyone keeps showing it (Yjs clients drop it only
after 30 s without renewal).
"""

from solutions.collab import (
    Client,  # noqa: F401
    Outgoing,
)
from solutions.collab import Room as Reference

EXPECTED = {"awareness-ghost"}
MESSAGE = "a ghost"


class Room(Reference):
    def leave(self, client) -> Outgoing:
        self.members.discard(client)
        self.owned.pop(client, None)  # BUG: the others are never told
        return []
