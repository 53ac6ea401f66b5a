"""Known bad: the room answers every step 1 with the whole document.

The state vector says what the client already has; ignoring it re-sends the
whole document on every reconnect (and to a client that has almost all of it).
"""

from solutions.collab import (
    Client,  # noqa: F401
    Outgoing,
    create_step2_message,
    parse,
)
from solutions.collab import Room as Reference

EXPECTED = {"synchronizing-full-state"}
MESSAGE = "step 2 of"


class Room(Reference):
    def receive(self, client, message: bytes) -> Outgoing:
        kind, _ = parse(message)
        if kind == "step1":
            return [(client, create_step2_message(self.doc.get_update()))]  # BUG: ignores it
        return super().receive(client, message)
