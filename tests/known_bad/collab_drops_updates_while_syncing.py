"""Known bad: the room relays updates only to members that finished syncing.

"A client is not ready until its step 2 arrives", so updates that come in
between its join and its step 2 are not sent to it, and not queued either.
The room's step 2 was computed before them, so that client never gets them.
"""

from rtlab.wire.yjs import parse
from solutions.collab import (
    Client,  # noqa: F401
    Outgoing,
)
from solutions.collab import Room as Reference

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "ended without"


class Room(Reference):
    def __init__(self, saved: bytes | None = None) -> None:
        super().__init__(saved)
        self.synced: set = set()

    def leave(self, client) -> Outgoing:
        self.synced.discard(client)
        return super().leave(client)

    def receive(self, client, message: bytes) -> Outgoing:
        kind = parse(message).kind
        out = super().receive(client, message)
        if kind == "step2":
            self.synced.add(client)
        if kind in ("step2", "update"):  # BUG: drops what a syncing member should get
            out = [(c, m) for c, m in out if c in self.synced]
        return out
