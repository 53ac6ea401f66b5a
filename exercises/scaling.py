"""Exercise: the relay that lets several servers serve one room, through Redis.

Behind a load balancer, the members of one chat room land on different server
processes. A server that delivers a message only to its own clients leaves the others
in the dark, and a client that reconnects usually lands on *another* server, which
knows nothing of it. You will write the relay each server runs: the piece that decides
what goes to the backplane (Redis), what is delivered to which local client, and how a
client (or the whole server) catches up on what it missed.

The relay is sans-I/O: it never touches Redis or a socket. Each method gets the current
time ``now`` and returns a list of commands for the transport to carry out, in order
(see ``rtlab/topics/scaling_out/interface.py``):

- ``Deliver(client, room, id, text)``: send to a client connected to *this* server;
- ``Publish(room, data)``: XADD ``data`` to the room's Redis Stream and announce the new
  entry on pub/sub to every server, this one included (you get it in ``published``);
- ``Read(room, after, client=None)``: the room's stream entries after id ``after``
  (``"$"``: none, just where the stream ends); the answer comes back to ``read``;
- ``Present(room, client, ttl)`` / ``Absent(room, client)``: the client's presence key.
  "Who is online" in a room is the set of live keys, the same whichever server asks.

What the grader runs against your relay (one per server, 2-4 servers, 200 seeded
schedules) and what it expects:

- **One room across servers.** Every member gets every message of its room exactly
  once, whichever server either of them is on. Your own clients' messages too: they
  come back to you from Redis, so do not deliver them twice.
- **Pub/sub is at-most-once.** While Redis restarts or your subscription drops,
  announcements are lost; ``reconnected`` is called when it is back. The stream kept
  everything: read it from where your clients are (their last ids), not from ``"$"``.
- **Reconnects land elsewhere.** A client that comes back calls ``join`` with
  ``last_seen``, the id of the last message it got (``None`` for a first visit). It
  must get everything after that id, exactly once, from the shared stream: this
  server's memory may never have seen the room.
- **Servers die.** Without a word: their clients' presence keys must expire (a TTL,
  refreshed on ``tick``). A connected client is on the list within 1 s of joining; one
  gone for good is off it within 10 s.
- **Garbage.** Something else may write entries into a stream that are not yours (not
  JSON, wrong shape). Skip them; never raise: a relay that raises takes its server down.

Stream ids look like ``"1733190000123-0"``; compare them with ``stream_id_order``, never
as strings (``"9-0" > "10-0"`` as strings).

The design is fixed: every server serves every room, and Redis is the one place a room's
messages meet. (Routing each room to an owner server by consistent hashing is another
design, with its own failure when the owner dies; the lesson's table compares them. It
cannot be written with these commands, and the grader does not expect it.)

Check your work:  python -m rtlab check scaling
Stuck?            python -m rtlab hint scaling
Lesson:           notebooks/10-scaling-out.ipynb
"""

from __future__ import annotations

import json

from rtlab.topics.scaling_out.interface import (  # noqa: F401  (the commands you return)
    Absent,
    Command,
    Deliver,
    Present,
    Publish,
    Read,
    ReadResult,
    stream_id_order,
)

PRESENCE_TTL = 5.0  # seconds a presence key lives unless refreshed


def encode(client: str, text: str) -> str:
    """What to Publish for a client's message (given)."""
    return json.dumps({"from": client, "text": text})


def decode(data: str) -> tuple[str, str] | None:
    """(client, text) of a stream entry written by ``encode``; None for anything else (given)."""
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if isinstance(body, dict) and isinstance(body.get("from"), str) \
            and isinstance(body.get("text"), str):
        return body["from"], body["text"]
    return None


class Relay:
    """One server's share of every room: what to publish, deliver and catch up."""

    def __init__(self, server: str) -> None:
        self.server = server  # this server's name ("s1", ...)
        # TODO: remember the local members of each room and, for each, the id of the
        # last entry it was given (its cursor); which rooms have a Read in flight.

    def join(self, client: str, room: str, last_seen: str | None, now: float) -> list[Command]:
        """``client`` connected to this server, into ``room``.

        ``last_seen`` is the id of the last message it got, on whichever server (None:
        a first visit, start from now). Announce its presence; make sure it gets what it
        missed since ``last_seen``.
        """
        # TODO
        raise NotImplementedError("Relay.join")

    def leave(self, client: str, room: str, now: float) -> list[Command]:
        """``client`` left this server (it may come back, here or elsewhere)."""
        # TODO
        raise NotImplementedError("Relay.leave")

    def send(self, client: str, room: str, text: str, now: float) -> list[Command]:
        """Local ``client`` sent ``text`` to ``room``."""
        # TODO
        raise NotImplementedError("Relay.send")

    def published(self, room: str, id: str, data: str, now: float) -> list[Command]:
        """Pub/sub announced entry ``id`` of ``room`` (from any server, this one too)."""
        # TODO
        raise NotImplementedError("Relay.published")

    def read(self, result: ReadResult, now: float) -> list[Command]:
        """The answer to one of your Reads: ``result.entries`` after ``result.after``."""
        # TODO
        raise NotImplementedError("Relay.read")

    def reconnected(self, now: float) -> list[Command]:
        """The pub/sub connection is back: what was announced meanwhile is lost."""
        # TODO
        raise NotImplementedError("Relay.reconnected")

    def tick(self, now: float) -> list[Command]:
        """Called a few times a second: refresh what must not expire."""
        # TODO
        raise NotImplementedError("Relay.tick")
