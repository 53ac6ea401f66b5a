"""Known good: a client that queues its offline edits and sends them on reconnect.

Offline updates are kept in a list; connect() sends them, merged into one
update, right after its step 1. (The room's step 1 would have asked for them
anyway; sending them at once costs a duplicate, not a loss.) The room is the
reference one.
"""

from __future__ import annotations

from pycrdt import Doc, create_sync_message, create_update_message, merge_updates

from rtlab.wire.yjs import parse, sync_step2
from solutions.collab import (
    Room,  # noqa: F401
)


class Client:
    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.connected = False
        self.outbox: list[bytes] = []  # edits made while offline

    def connect(self) -> list[bytes]:
        self.connected = True
        messages = [create_sync_message(self.doc)]
        if self.outbox:
            messages.append(create_update_message(merge_updates(*self.outbox)))
            self.outbox.clear()
        return messages

    def disconnect(self) -> None:
        self.connected = False

    def receive(self, message: bytes) -> list[bytes]:
        parsed = parse(message)
        kind, payload = parsed.kind, parsed.payload
        if kind == "step1":
            return [sync_step2(self.doc.get_update(payload))]
        if kind != "awareness":
            self.doc.apply_update(payload)
        return []

    def local_update(self, update: bytes) -> list[bytes]:
        if self.connected:
            return [create_update_message(update)]
        self.outbox.append(update)
        return []
