"""Reference solution: the room of a Yjs sync server, and an offline-tolerant client.

One correct answer among many: the grader checks behaviour, so a room that
relays the raw update it received, or a client that queues its offline
updates and sends them on reconnect, pass as well, as long as nothing is lost,
nothing full-state is sent when a delta would do, and a member who goes
disappears from everyone's awareness at once.

Theory of operation. The room holds one pycrdt ``Doc``: the union of every
update any member sent. When a member connects, the room sends its state
vector (sync step 1); the member answers with exactly what the room lacks
(sync step 2), and asks with its own step 1 for what it lacks, which the room
answers the same way. From then on each update is applied to the room's doc
and relayed to the other members. The room relays what the update *changed*
in its doc (captured by observing the doc), not the bytes it received: a
duplicate, or an update the room already had through a step 2, changes
nothing and costs nothing; an update that waits for a missing dependency is
relayed together with it once that arrives. The client never needs a queue:
its ``Doc`` keeps every edit, and the room's step 1 on each reconnect asks for
exactly the ones it missed.

Awareness (who is there, cursors) is not part of the document. The room
keeps the latest state of every awareness client id, remembers which
connection announced which ids, sends them all to a newcomer, and when a
connection goes, tells everyone that its ids are gone.
"""

from __future__ import annotations

from collections.abc import Hashable

from pycrdt import (
    Awareness,
    Doc,
    TransactionEvent,
    create_awareness_message,
    create_sync_message,
)

from rtlab.wire.yjs import decode_awareness, parse, sync_step2, sync_update

Outgoing = list[tuple[Hashable, bytes]]  # (client, message) pairs to send


class Room:
    """The sans-I/O logic of one document room of a Yjs sync server."""

    def __init__(self, saved: bytes | None = None) -> None:
        self.doc = Doc()
        if saved:
            self.doc.apply_update(saved)
        self._changed: list[bytes] = []  # what the last apply_update changed in self.doc
        self.doc.observe(self._on_change)
        self.members: set[Hashable] = set()
        self.owned: dict[Hashable, set[int]] = {}  # connection -> awareness ids it announced
        self.awareness = Awareness(self.doc)
        self.awareness.set_local_state(None)  # the room itself is nobody

    def _on_change(self, event: TransactionEvent) -> None:
        self._changed.append(event.update)

    def join(self, client: Hashable) -> Outgoing:
        self.members.add(client)
        self.owned.setdefault(client, set())
        out: Outgoing = [(client, create_sync_message(self.doc))]
        known = list(self.awareness.states)
        if known:  # a newcomer sees who is already there
            update = self.awareness.encode_awareness_update(known)
            out.append((client, create_awareness_message(update)))
        return out

    def receive(self, client: Hashable, message: bytes) -> Outgoing:
        parsed = parse(message)  # a ValueError (ProtocolError) before anything changes
        self.members.add(client)
        others = [c for c in self.members if c != client]
        if parsed.kind == "step1":  # the client asks for what it lacks: only that
            return [(client, sync_step2(self.doc.get_update(parsed.payload)))]
        if parsed.kind == "awareness":
            mine = self.owned.setdefault(client, set())
            for entry in decode_awareness(parsed.payload):
                if entry.state is None:  # a goodbye
                    mine.discard(entry.client_id)
                else:
                    mine.add(entry.client_id)
                    if entry.client_id not in self.awareness.states:
                        # Back after we removed it: y-websocket re-announces with its old
                        # clock, which the removal's clock + 1 would otherwise outrank.
                        self.awareness.meta.pop(entry.client_id, None)
            self.awareness.apply_awareness_update(parsed.payload, client)
            return [(c, message) for c in others]
        # step 2 or update: merge it, then relay what it changed (nothing for a duplicate)
        self._changed.clear()
        self.doc.apply_update(parsed.payload)
        out: Outgoing = []
        for change in self._changed:
            if change == parsed.payload:  # the usual case: relay the message as it came
                out += [(c, message) for c in others]
            else:  # it holds more, e.g. a deletion sent before its item and held until
                # now, which the client lacks too
                relayed = sync_update(change)
                out += [(c, relayed) for c in [*others, client]]
        return out

    def leave(self, client: Hashable) -> Outgoing:
        self.members.discard(client)
        mine = self.owned.pop(client, set())
        still_here = set().union(*self.owned.values())  # announced again on a newer connection
        # Only ids the awareness took in: like Yjs, it ignores a first state at clock 0.
        gone = sorted(i for i in mine - still_here if i in self.awareness.meta)
        if not gone:
            return []
        self.awareness.remove_awareness_states(gone, client)
        message = create_awareness_message(self.awareness.encode_awareness_update(gone))
        return [(c, message) for c in self.members]

    def save(self) -> bytes:
        return self.doc.get_update()


class Client:
    """The sync logic of a client whose edits survive going offline."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.online = False

    def connect(self) -> list[bytes]:
        self.online = True
        return [create_sync_message(self.doc)]  # "here is what I have: send what I lack"

    def disconnect(self) -> None:
        self.online = False

    def receive(self, message: bytes) -> list[bytes]:
        parsed = parse(message)
        if parsed.kind == "step1":  # the room asks for what it lacks, offline edits included
            return [sync_step2(self.doc.get_update(parsed.payload))]
        if parsed.kind in ("step2", "update"):
            self.doc.apply_update(parsed.payload)
        return []  # awareness is the caller's business

    def local_update(self, update: bytes) -> list[bytes]:
        if not self.online:
            return []  # kept in self.doc: the room's next step 1 asks for it
        return [sync_update(update)]
