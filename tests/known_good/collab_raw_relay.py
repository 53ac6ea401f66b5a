"""Known good: a room that relays what it received, as received, and keeps awareness itself.

No observer on the document and no pycrdt ``Awareness``: an update is merged
and forwarded byte for byte (a duplicate is forwarded too: the clients'
CRDTs ignore it), and awareness is a dict of id -> (clock, JSON state) with
the connection that announced each id last. The client is the reference one.
"""

from __future__ import annotations

from collections.abc import Hashable

from pycrdt import (
    Decoder,
    Doc,
    Encoder,
    create_awareness_message,
    create_sync_message,
    create_update_message,
)

from rtlab.wire.yjs import parse, sync_step2
from solutions.collab import (
    Client,  # noqa: F401
)

EMPTY = b"\x00\x00"


class Room:
    def __init__(self, saved: bytes | None = None) -> None:
        self.doc = Doc()
        if saved is not None:
            self.doc.apply_update(saved)
        self.members: list[Hashable] = []  # in the order they joined
        self.states: dict[int, tuple[int, str]] = {}  # awareness id -> (clock, JSON)
        self.announced_by: dict[int, Hashable] = {}  # awareness id -> its connection

    def join(self, client: Hashable) -> list[tuple[Hashable, bytes]]:
        if client not in self.members:
            self.members.append(client)
        out = [(client, create_sync_message(self.doc))]
        here = {i: s for i, s in self.states.items() if s[1] != "null"}
        if here:
            out.append((client, create_awareness_message(encode(here))))
        return out

    def receive(self, client: Hashable, message: bytes) -> list[tuple[Hashable, bytes]]:
        parsed = parse(message)
        kind, payload = parsed.kind, parsed.payload
        if client not in self.members:
            self.members.append(client)
        others = [c for c in self.members if c != client]
        if kind == "step1":
            return [(client, sync_step2(self.doc.get_update(payload)))]
        if kind == "awareness":
            for id, (clock, state) in decode(payload).items():
                known = self.states.get(id)
                if known is None or clock > known[0] or (clock == known[0] and state == "null"):
                    self.states[id] = (clock, state)
                if state == "null":
                    self.announced_by.pop(id, None)
                else:
                    self.announced_by[id] = client
            return [(c, message) for c in others]
        self.doc.apply_update(payload)
        if payload == EMPTY:
            return []
        relayed = create_update_message(payload)
        return [(c, relayed) for c in others]

    def leave(self, client: Hashable) -> list[tuple[Hashable, bytes]]:
        if client in self.members:
            self.members.remove(client)
        gone = {i: (self.states[i][0], "null") for i, c in self.announced_by.items()
                if c == client}
        for id in gone:
            del self.announced_by[id]
            self.states[id] = gone[id]
        if not gone:
            return []
        message = create_awareness_message(encode(gone))
        return [(c, message) for c in self.members]

    def save(self) -> bytes:
        return self.doc.get_update()


def decode(payload: bytes) -> dict[int, tuple[int, str]]:
    decoder = Decoder(payload)
    out = {}
    for _ in range(decoder.read_var_uint()):
        id = decoder.read_var_uint()
        clock = decoder.read_var_uint()
        out[id] = (clock, decoder.read_var_string())
    return out


def encode(states: dict[int, tuple[int, str]]) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(len(states))
    for id, (clock, state) in states.items():
        encoder.write_var_uint(id)
        encoder.write_var_uint(clock)
        encoder.write_var_string(state)
    return encoder.to_bytes()
