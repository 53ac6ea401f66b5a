"""Known bad: a newcomer is not told who is already there.

The room relays awareness as it changes, but sends nothing on join: a client
that opens the document sees nobody until each of the others happens to move
(pycrdt-websocket 0.16 has this fault too).
"""

from pycrdt import create_sync_message

from solutions.collab import (
    Client,  # noqa: F401
    Outgoing,
)
from solutions.collab import Room as Reference

EXPECTED = {"awareness-ghost"}
MESSAGE = "lacks"


class Room(Reference):
    def join(self, client) -> Outgoing:
        self.members.add(client)
        self.owned.setdefault(client, set())
        return [(client, create_sync_message(self.doc))]  # BUG: no awareness states
