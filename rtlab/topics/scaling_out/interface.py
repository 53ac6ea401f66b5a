"""What the learner writes in ``exercises/scaling.py``, and the commands it returns.

A :class:`Relay` is the part of one server process that knows about rooms on *other*
server processes. It is sans-I/O: it never touches Redis or a socket, never reads a
clock. The transport calls it when something happens and carries out the commands it
returns, in order:

- :class:`Deliver` sends a message to a client connected to *this* server;
- :class:`Publish` hands a message to the backplane: it is appended to the room's
  Redis Stream (capped, ids like ``"1733190000123-0"``) and the new entry is
  announced on the room's pub/sub channel to every server, this one included.
  Pub/sub is at-most-once: a server whose Redis connection is down misses the
  announcement; the stream keeps the entry;
- :class:`Read` asks for the room's stream entries after an id (``"$"``: none, only
  where the stream stands now); the answer comes back as a :class:`ReadResult`;
- :class:`Present` / :class:`Absent` set or remove the client's presence key
  (``presence:<room>:<client>``, valued with this server's name, optionally with a
  TTL). "Who is online" in a room is the set of live keys: one answer, whichever
  server asks.

The live transport (:mod:`.live`) runs these on real Redis; the simulation
(:mod:`.sim`) runs them against a seeded model of Redis that restarts, drops pub/sub
connections and loses servers. Both check what the relay returns rather than trust it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from types import ModuleType
from typing import Protocol, cast

__all__ = [
    "Absent",
    "Command",
    "Deliver",
    "Present",
    "Publish",
    "Read",
    "ReadResult",
    "Relay",
    "RelayFactory",
    "ScalingModule",
    "learner_module",
    "stream_id_order",
]


@dataclass(frozen=True)
class Deliver:
    """Send ``text`` (stream entry ``id``) to ``client``, connected to this server."""

    client: str
    room: str
    id: str
    text: str


@dataclass(frozen=True)
class Publish:
    """XADD ``data`` to the room's stream and announce the entry on pub/sub."""

    room: str
    data: str


@dataclass(frozen=True)
class Read:
    """XRANGE the room's stream after ``after`` (exclusive); ``client`` is yours to tag it."""

    room: str
    after: str
    client: str | None = None


@dataclass(frozen=True)
class Present:
    """SET ``presence:<room>:<client>`` to this server's name, expiring after ``ttl`` s."""

    room: str
    client: str
    ttl: float | None


@dataclass(frozen=True)
class Absent:
    """Delete ``presence:<room>:<client>`` if this server set it (another may own it now)."""

    room: str
    client: str


Command = Deliver | Publish | Read | Present | Absent


@dataclass(frozen=True)
class ReadResult:
    """The answer to a :class:`Read`: entries after ``after`` and where the stream ends."""

    room: str
    after: str
    client: str | None
    entries: list[tuple[str, str]] = field(default_factory=list)  # (id, data), oldest first
    tail: str = "0-0"  # the id of the stream's last entry ("0-0" for an empty stream)


@lru_cache(maxsize=8192)  # called for every entry a relay looks at
def stream_id_order(entry_id: str) -> tuple[int, int]:
    """``"1733190000123-4"`` as ``(1733190000123, 4)``, so ids compare as Redis does.

    Raises ``ValueError`` for anything that is not a stream id.
    """
    ms, sep, seq = entry_id.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit():
        raise ValueError(f"not a stream id: {entry_id!r}")
    return int(ms), int(seq)


class Relay(Protocol):
    """One server's relay: the exercise's ``Relay`` (or any object with its methods)."""

    def join(self, client: str, room: str, last_seen: str | None, now: float) -> list[Command]: ...
    def leave(self, client: str, room: str, now: float) -> list[Command]: ...
    def send(self, client: str, room: str, text: str, now: float) -> list[Command]: ...
    def published(self, room: str, id: str, data: str, now: float) -> list[Command]: ...
    def read(self, result: ReadResult, now: float) -> list[Command]: ...
    def reconnected(self, now: float) -> list[Command]: ...
    def tick(self, now: float) -> list[Command]: ...


class RelayFactory(Protocol):
    """``Relay(server)``: the class itself."""

    def __call__(self, server: str) -> Relay: ...


class ScalingModule(Protocol):
    """The learner's module: one class."""

    Relay: RelayFactory


def learner_module(module: ModuleType) -> ScalingModule:
    """``module`` seen through its interface; a missing class raises where it is used."""
    return cast(ScalingModule, module)
