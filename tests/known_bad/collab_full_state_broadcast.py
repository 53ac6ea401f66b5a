"""Known bad: the room sends the whole document to everyone after every update.

Synchronizing Full State: nothing is lost (the clients merge the full state),
but every keystroke costs the size of the document, times the number of
members.
"""

from pycrdt import create_update_message

from rtlab.wire.yjs import parse
from solutions.collab import (
    Client,  # noqa: F401
    Outgoing,
)
from solutions.collab import Room as Reference

EXPECTED = {"synchronizing-full-state"}
MESSAGE = "The room relayed"


class Room(Reference):
    def receive(self, client, message: bytes) -> Outgoing:
        kind = parse(message).kind
        out = super().receive(client, message)
        if kind not in ("step2", "update"):
            return out
        whole = create_update_message(self.doc.get_update())  # BUG: the whole document
        return [(c, whole) for c in self.members if c != client]
