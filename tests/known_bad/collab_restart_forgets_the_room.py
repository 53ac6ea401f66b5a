"""Known bad: the room saves only the updates received since it started.

It keeps a log of the updates it received and saves their merge, forgetting
the document it was restored from: each restart loses everything older than
the previous one. Editors who reconnect bring most of it back, but a newcomer
right after the restart gets a document with holes, and whatever only the
room had is gone.
"""

from pycrdt import merge_updates

from rtlab.wire.yjs import parse
from solutions.collab import (
    Client,  # noqa: F401
    Outgoing,
)
from solutions.collab import Room as Reference

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "restarted"


class Room(Reference):
    def __init__(self, saved: bytes | None = None) -> None:
        super().__init__(saved)
        self.log: list[bytes] = []  # BUG: `saved` is not in it

    def receive(self, client, message: bytes) -> Outgoing:
        parsed = parse(message)
        kind, payload = parsed.kind, parsed.payload
        if kind in ("step2", "update"):
            self.log.append(payload)
        return super().receive(client, message)

    def save(self) -> bytes:
        return merge_updates(*self.log) if self.log else b"\x00\x00"
