"""Known bad: the room keeps the latest update it received as "the document".

Last write wins: each incoming step 2 or update replaces what the room holds
instead of being merged into it. Connected editors still converge (they merge
the relayed updates themselves), but whoever opens the document, or comes back
after a cut, gets only the last thing somebody sent: every other edit is lost.
And what it serves as a step 2 is whatever came last, often someone's whole
document, however little the asker lacks.
"""

from rtlab.wire.yjs import parse, sync_step2
from solutions.collab import (
    Client,  # noqa: F401
    Outgoing,
)
from solutions.collab import Room as Reference

EXPECTED = {"message-ordering-race", "reconnection-state-loss", "synchronizing-full-state"}
MESSAGE = "ended without"


class Room(Reference):
    def __init__(self, saved: bytes | None = None) -> None:
        super().__init__(saved)
        self.latest = saved or b"\x00\x00"

    def receive(self, client, message: bytes) -> Outgoing:
        parsed = parse(message)
        kind, payload = parsed.kind, parsed.payload
        if kind == "step1":
            return [(client, sync_step2(self.latest))]
        if kind in ("step2", "update"):
            self.members.add(client)
            self.latest = payload  # BUG: replaces instead of merging
            return [(c, message) for c in self.members if c != client]
        return super().receive(client, message)

    def save(self) -> bytes:
        return self.latest


