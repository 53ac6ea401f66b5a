"""Known bad: the room answers every step 1 with the whole document.

The state vector says what the client already has; ignoring it re-sends the
whole document on every reconnect (and to a client that has almost all of it).
"""

from rtlab.wire.yjs import parse, sync_step2
from solutions.collab import (
    Client,  # noqa: F401
    Outgoing,
)
from solutions.collab import Room as Reference

EXPECTED = {"synchronizing-full-state"}
MESSAGE = "step 2 of"


class Room(Reference):
    def receive(self, client, message: bytes) -> Outgoing:
        kind = parse(message).kind
        if kind == "step1":
            return [(client, sync_step2(self.doc.get_update()))]  # BUG: ignores it
        return super().receive(client, message)
