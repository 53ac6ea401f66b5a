"""Exercise: a chat room that numbers its messages, and a client that puts them in order.

TCP keeps order inside one connection, and nothing more. A client that reconnects,
a message relayed by two servers, a sender that retries: each of these reorders or
doubles messages, and a member who joins while the room is busy can miss the ones
sent during the join. You will write both ends of one room:

**Room** (the server side of one room)

- ``publish(sender, msg_id, body)``: give the message the next sequence number
  (``seq`` 1, 2, 3...), append it to ``self.history`` and return one
  ``(member, message)`` pair per member. Message ids are unique per message: an id
  you have seen before is a sender's retry, so return ``[]`` (remember a bounded
  number of recent ids, say the last 1,000).
- ``async join(member, since)``: answer a join. ``since=None`` is a fresh join: send
  the last ``backfill`` messages. ``since=N`` is a resume ("I have everything up to
  N"): send every kept message after N. The answer is a list: first
  ``{"type": "joined", "room": name, "after": S}`` (the messages that follow start
  at ``S + 1``), then the messages. If the log no longer holds ``N + 1``, those
  messages are gone: answer ``{"type": "resync", "room": name, "after": S}`` instead,
  where ``S + 1`` is the oldest kept seq, then the kept messages. A ``since`` that is
  not an int, is negative or is beyond the latest seq: raise ``ValueError``.
  Reading the history is slow (``await self.history.read(after)``) and messages keep
  arriving meanwhile: make sure the member gets every one of them, either in the
  answer or live from ``publish``. Duplicates between the two are fine: the client
  drops them.
- ``leave(member)``: the member's connection closed; send it nothing more.

**Client** (one member's view of the room)

- ``connected(now)``: a connection opened; return the join request
  ``[{"type": "join", "room": room, "since": N or None}]``, with ``N`` the last seq
  it showed (``None`` the first time).
- ``receive(message, now)``: a ``joined``/``resync``/``msg`` from the server. Return
  the ``msg`` messages to show now, **each exactly once and in seq order**: drop
  duplicates, hold back messages that came early (the *pending* buffer) until the
  gap before them fills, and after a ``resync`` carry on from ``after + 1``.
- ``requests(now)``: called often. While a gap stays open, ask for what is missing
  with the same join message (``since`` = the last seq shown), but not on every call:
  a few times a second at most.
- ``pending()``: how many messages you hold back. Never more than ``max_pending``:
  when the buffer is full, forget the highest ones; the resend brings them back.
  (Remember the highest seq you ever received: while it is beyond the last one you
  showed, a gap is open, even if the buffer is empty because you let them go.)

The objects never read a clock or touch a socket: the lesson runs them on real
WebSockets, the grader in virtual time under hundreds of seeded schedules of
reordering, duplicates, drops, cuts and joins racing bursts.

Check your work:  python -m rtlab check ordering
Stuck?            python -m rtlab hint ordering
Lesson:           notebooks/07-ordering-and-rooms.ipynb
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]  # one JSON object of the protocol
Delivery = tuple[str, Message]  # (member, message)

BACKFILL = 20  # a fresh join gets the last BACKFILL messages
MAX_PENDING = 32  # a client holds back at most this many messages


class Room:
    """One room: numbers messages, fans them out, answers joins with backfill."""

    def __init__(self, name: str, history: Any, *, backfill: int = BACKFILL) -> None:
        self.name = name
        self.history = history  # .append(message); await .read(after) -> messages with seq > after
        self.backfill = backfill
        # TODO: the latest seq, the members, the recent message ids

    def publish(self, sender: str, msg_id: str, body: str) -> list[Delivery]:
        """Number the message, keep it in the history, return (member, message) pairs.

        The message is ``{"type": "msg", "room": name, "seq": n, "id": msg_id,
        "sender": sender, "body": body}``.
        """
        # TODO
        raise NotImplementedError("Room.publish")

    async def join(self, member: str, since: int | None) -> list[Message]:
        """Answer a join (``since=None``) or a resume after ``since``."""
        # TODO: which comes first, adding the member or reading the history?
        raise NotImplementedError("Room.join")

    def leave(self, member: str) -> None:
        """The member's connection closed."""
        # TODO
        raise NotImplementedError("Room.leave")


class Client:
    """One member: drops duplicates, holds gaps, shows messages in order, resumes."""

    def __init__(self, room: str, *, max_pending: int = MAX_PENDING) -> None:
        self.room = room
        self.max_pending = max_pending
        # TODO: the next seq to show, the pending buffer, when you last asked

    def connected(self, now: float) -> list[Message]:
        """A connection opened: return the join request to send."""
        # TODO
        raise NotImplementedError("Client.connected")

    def receive(self, message: Message, now: float) -> list[Message]:
        """A message from the server: return the msg messages to show, in order."""
        # TODO
        raise NotImplementedError("Client.receive")

    def requests(self, now: float) -> list[Message]:
        """What to send now: a join with since=... while a gap stays open (rate-limited)."""
        # TODO
        raise NotImplementedError("Client.requests")

    def pending(self) -> int:
        """How many messages are held back."""
        # TODO
        raise NotImplementedError("Client.pending")
