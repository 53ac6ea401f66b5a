"""Exercise: the room of a collaborative-editing server, and a client that survives offline.

Several people edit one document. Each has a full copy (a pycrdt ``Doc``, a
CRDT: concurrent edits merge, in any order, duplicates are harmless); what
you write is how those copies talk through a server, with the protocol the
JavaScript Yjs client speaks (y-websocket), so your room serves browsers too.

Every message is a y-protocols message (``parse`` reads one for you):

- **sync step 1** carries a *state vector* ("here is what I have");
- **sync step 2** answers it with an update holding exactly what the asker
  lacks: ``doc.get_update(state_vector)``;
- **update** carries one live change;
- **awareness** carries who is there (name, cursor): one JSON state per
  awareness client id, ``null`` when that client is gone. It is not part of
  the document.

You write two sans-I/O classes. They never touch a socket: they take what
arrived and return what to send. The same objects run in the lesson's live
server (real WebSockets, a real Node.js Yjs client) and in the grader's
simulation (hundreds of seeded schedules of concurrent edits, cut links,
offline edits, duplicated and reordered messages, server restarts).

``Room``: one document on the server. Client ids are opaque (one per connection).

- ``join(client)``: a connection opened. Send it your step 1 (so it sends you
  what you lack, e.g. edits it made offline), and the awareness states you know.
- ``receive(client, message)``: answer a step 1 with a step 2 of *only* what it
  lacks; apply a step 2 or an update to your doc and relay the change to the
  *other* members (the sender has it already; the one exception, which the
  grader does not test, is a change holding more than the sender sent, such
  as a deletion someone sent before its item and the doc held until now);
  record which awareness ids a connection announces and
  relay its awareness to the others. Invalid input raises ``ValueError`` (the
  server then closes that connection) and changes nothing.
- ``leave(client)``: the connection closed or dropped. Tell the others that the
  awareness ids it announced are gone, at once (a dropped client never says
  goodbye: without this everyone sees a ghost for 30 s).
- ``save()`` / ``Room(saved)``: the server persists the document and restarts.

``Client``: one editor's link, around its ``Doc``. The caller edits the doc and
hands you each edit's update with ``local_update``; online, send it; offline,
nothing can be sent, yet nothing may be lost. On ``connect`` start the
handshake; ``receive`` answers a step 1 and applies step 2s and updates.
Awareness messages are handled by the caller, not by ``Client``.

Sharp edges the grader looks for:

- **message-ordering-race**: edits relayed or merged wrongly get lost (a room
  that keeps "the latest document" from a client instead of merging updates);
- **reconnection-state-loss**: offline edits dropped, updates arriving while a
  client is still syncing dropped, a restart that forgets the room;
- **synchronizing-full-state**: sending the whole document where a delta does
  (bytes on the wire grow with the document instead of with the edit);
- **awareness-ghost**: someone who left still shown.

Check your work:  python -m rtlab check collab    (one level: add --level 1 or --level 2)
Stuck?            python -m rtlab hint collab
Lessons:          notebooks/09-collaboration.ipynb (level 1: merge and relay deltas)
                  notebooks/09-sync-protocol.ipynb (level 2: offline edits, restarts, awareness)
"""

from __future__ import annotations

from collections.abc import Hashable

from pycrdt import (  # noqa: F401  (what you will need)
    Awareness,
    Doc,
    TransactionEvent,
    create_awareness_message,
    create_sync_message,
)

from rtlab.wire.yjs import (  # noqa: F401  (given: reading and building messages)
    decode_awareness,
    parse,
    sync_step2,
    sync_update,
)

# parse(message) -> Message with .kind ("step1", "step2", "update" or "awareness") and
#     .payload (a state vector, an update, or an awareness update); it raises ValueError
#     (ProtocolError) for anything malformed, before you have touched anything.
# create_sync_message(doc) -> sync step 1 with doc's state vector ("here is what I have").
# sync_step2(update), sync_update(update) -> the other two sync messages.
# create_awareness_message(payload) -> an awareness message.
# decode_awareness(payload) -> [AwarenessEntry(client_id, clock, state)], state None: gone.

Outgoing = list[tuple[Hashable, bytes]]  # (client, message) pairs to send


class Room:
    """The sans-I/O logic of one document room of a Yjs sync server."""

    def __init__(self, saved: bytes | None = None) -> None:
        # TODO: a pycrdt Doc holding the document (restored from `saved` if given),
        # the members, and for each member the awareness ids it announced.
        # Tips: doc.apply_update(u) merges an update; doc.observe(callback) calls
        # callback(event) after each change, and event.update is what changed.
        # pycrdt's Awareness(doc) can keep the awareness states for you
        # (apply_awareness_update, encode_awareness_update, remove_awareness_states);
        # call .set_local_state(None) on it: the room itself is nobody.
        pass

    def join(self, client: Hashable) -> Outgoing:
        """A connection opened: return sync step 1 and the known awareness states, to it."""
        # TODO
        raise NotImplementedError("Room.join")

    def receive(self, client: Hashable, message: bytes) -> Outgoing:
        """A message arrived from ``client``: return what to send, and to whom.

        Step 1 -> a step 2 of what that client lacks. Step 2 or update -> merge it,
        relay the change to the others. Awareness -> remember its ids, relay it.
        Raise ``ValueError`` on invalid input, before changing anything.
        """
        # TODO
        raise NotImplementedError("Room.receive")

    def leave(self, client: Hashable) -> Outgoing:
        """The connection closed or dropped: its awareness states are gone, for everyone."""
        # TODO
        raise NotImplementedError("Room.leave")

    def save(self) -> bytes:
        """The whole document, to persist (``Room(saved)`` restores it after a restart)."""
        # TODO
        raise NotImplementedError("Room.save")


class Client:
    """The sync logic of a client whose edits survive going offline."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        # TODO: whatever you need to remember (online or not, ...)

    def connect(self) -> list[bytes]:
        """The link is up (first time, or again): return the opening messages."""
        # TODO
        raise NotImplementedError("Client.connect")

    def disconnect(self) -> None:
        """The link is down: nothing can be sent until the next connect()."""
        # TODO
        raise NotImplementedError("Client.disconnect")

    def receive(self, message: bytes) -> list[bytes]:
        """A sync message from the server: answer a step 1, apply a step 2 or an update."""
        # TODO
        raise NotImplementedError("Client.receive")

    def local_update(self, update: bytes) -> list[bytes]:
        """The user edited the doc; ``update`` is that edit. Online: return it as an
        update message. Offline: return nothing, and do not lose it."""
        # TODO
        raise NotImplementedError("Client.local_update")
