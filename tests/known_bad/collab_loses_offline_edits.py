"""Known bad: the client only ever sends live edits.

Offline, local_update has nowhere to send the edit and drops it; on
reconnect, the client answers the room's step 1 with an empty step 2 ("I sent
you everything already"). Edits made offline stay on that one machine.
"""

from pycrdt import create_update_message

from rtlab.wire.yjs import parse, sync_step2
from solutions.collab import Client as Reference
from solutions.collab import (
    Room,  # noqa: F401
)

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "made offline"


class Client(Reference):
    def receive(self, message: bytes) -> list[bytes]:
        if parse(message).kind == "step1":
            return [sync_step2(b"\x00\x00")]  # BUG: claims to have nothing new
        return super().receive(message)

    def local_update(self, update: bytes) -> list[bytes]:
        return [create_update_message(update)] if self.online else []  # BUG: dropped
