"""Known good: a room that broadcasts to every member, the sender included, like y-websocket's.

Updates and awareness go back to their sender too (its CRDT ignores what it
already has), the update relayed is the one received, and leave() removes
every awareness id the connection announced, with no bookkeeping of newer
connections. Written from scratch: no pycrdt Awareness, no doc observer.
"""

from __future__ import annotations

from collections.abc import Hashable

from pycrdt import Doc, create_awareness_message, create_sync_message

from rtlab.wire.yjs import (
    AwarenessEntry,
    decode_awareness,
    encode_awareness,
    parse,
    sync_step2,
    sync_update,
)
from solutions.collab import Client  # noqa: F401


class Room:
    def __init__(self, saved: bytes | None = None) -> None:
        self.doc = Doc()
        if saved:
            self.doc.apply_update(saved)
        self.conns: dict[Hashable, dict[int, AwarenessEntry]] = {}  # conn -> its awareness

    def everyone(self, message: bytes) -> list[tuple[Hashable, bytes]]:
        return [(conn, message) for conn in self.conns]

    def join(self, client: Hashable) -> list[tuple[Hashable, bytes]]:
        self.conns.setdefault(client, {})
        out = [(client, create_sync_message(self.doc))]
        known = [e for entries in self.conns.values() for e in entries.values()]
        if known:
            out.append((client, create_awareness_message(encode_awareness(known))))
        return out

    def receive(self, client: Hashable, message: bytes) -> list[tuple[Hashable, bytes]]:
        parsed = parse(message)
        mine = self.conns.setdefault(client, {})
        if parsed.kind == "step1":
            return [(client, sync_step2(self.doc.get_update(parsed.payload)))]
        if parsed.kind == "awareness":
            for entry in decode_awareness(parsed.payload):
                if entry.state is None:
                    mine.pop(entry.client_id, None)
                else:
                    mine[entry.client_id] = entry
            return self.everyone(message)
        self.doc.apply_update(parsed.payload)
        return self.everyone(sync_update(parsed.payload))

    def leave(self, client: Hashable) -> list[tuple[Hashable, bytes]]:
        mine = self.conns.pop(client, {})
        if not mine:
            return []
        gone = [AwarenessEntry(e.client_id, e.clock, None) for e in mine.values()]
        return self.everyone(create_awareness_message(encode_awareness(gone)))

    def save(self) -> bytes:
        return self.doc.get_update()
