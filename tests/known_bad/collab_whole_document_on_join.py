"""Known bad: the room sends every client the whole document as soon as it joins.

Handy for a brand-new client, but a client coming back after a blip already
has nearly all of it: its step 1 would have said so, had the room waited.
"""

from rtlab.wire.yjs import sync_step2
from solutions.collab import (
    Client,  # noqa: F401
    Outgoing,
)
from solutions.collab import Room as Reference

EXPECTED = {"synchronizing-full-state"}
MESSAGE = "Room.join sent"


class Room(Reference):
    def join(self, client) -> Outgoing:
        out = super().join(client)
        return [*out, (client, sync_step2(self.doc.get_update()))]  # BUG: unasked, all of it
