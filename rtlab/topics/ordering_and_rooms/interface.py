"""What the learner implements in ``exercises/ordering.py``, as typed Protocols.

Two sans-I/O objects speak a small JSON protocol (plain dicts) about one chat room:

client -> server
    ``{"type": "join", "room": R, "since": N | None}``: join (``None``: a fresh
    join, send recent history) or resume after sequence number ``N``. A client that
    is already a member sends the same message to ask for what it is missing.
server -> client
    ``{"type": "joined", "room": R, "after": S}``: the answer to a join; the
    messages that follow it start at ``S + 1``.
    ``{"type": "resync", "room": R, "after": S}``: "too far behind": the log no
    longer reaches ``since``; messages up to ``S`` are gone, those after follow.
    ``{"type": "msg", "room": R, "seq": n, "id": ..., "sender": ..., "body": ...}``
    ``{"type": "error", "room": R, "reason": ...}``: a request that cannot be served.

The room writes to, and reads from, a :class:`History`: a bounded log that is slow
to read (a database, a Redis stream). Reading it takes time, and live messages keep
flowing meanwhile: that is where joins race bursts.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = [
    "BACKFILL",
    "MAX_PENDING",
    "ClientLike",
    "Delivery",
    "History",
    "Message",
    "RoomLike",
]

Message = dict[str, Any]  # one JSON object of the protocol above
Delivery = tuple[str, Message]  # (member, message): send this message to this member

BACKFILL = 20  # a fresh join gets (at least) the last BACKFILL messages
MAX_PENDING = 32  # a client holds back at most this many out-of-order messages


class History(Protocol):
    """The room's log: keeps the newest ``capacity`` messages; reading it is slow."""

    capacity: int

    def append(self, message: Message) -> None:
        """Keep ``message`` (dropping the oldest beyond ``capacity``)."""

    async def read(self, after: int) -> list[Message]:
        """The kept messages with ``seq > after``, oldest first. Takes a while."""
        ...


class RoomLike(Protocol):
    """The server side of one room: numbers messages, fans them out, answers joins."""

    def __init__(self, name: str, history: History, *, backfill: int = BACKFILL) -> None: ...

    def publish(self, sender: str, msg_id: str, body: str) -> list[Delivery]:
        """A message from ``sender``; return what to send to whom (a retried id: ``[]``)."""
        ...

    async def join(self, member: str, since: int | None) -> list[Message]:
        """A join (or a resume after ``since``): return what to send the member first.

        Raises ``ValueError`` for a ``since`` that cannot be one of this room's
        (not an int, negative, or beyond the latest sequence number).
        """
        ...

    def leave(self, member: str) -> None:
        """``member``'s connection closed: send it nothing more."""


class ClientLike(Protocol):
    """One member's view of a room: de-duplicates, reorders, resumes."""

    def __init__(self, room: str, *, max_pending: int = MAX_PENDING) -> None: ...

    def connected(self, now: float) -> list[Message]:
        """A (new) connection is open: return the join request to send."""
        ...

    def receive(self, message: Message, now: float) -> list[Message]:
        """A message from the server: return the ``msg`` messages to show now, in order."""
        ...

    def requests(self, now: float) -> list[Message]:
        """What to send the server now (asking for missing messages); called often."""
        ...

    def pending(self) -> int:
        """How many messages are held back, waiting for a gap to fill."""
        ...
