"""What the learner implements in module 08, and what the course hands it.

A :class:`Room` is sans-I/O: it never reads a clock, never touches a socket and never
sleeps. The transport (a real WebSocket server in :mod:`.live`, the seeded simulation
in :mod:`.sim`) calls it:

- ``join`` / ``leave`` when a connection opens or goes;
- ``publish`` when a client sends something to the room, ``tick`` a few times per
  cursor interval (for throttled cursors), ``permission_changed`` when an admin
  changes who may read the room;
- ``take(client)`` whenever that client's socket can accept another frame: the room
  hands over the oldest frame it holds for the client, or ``None``.

``publish`` and ``tick`` return the clients to disconnect, with a close code in
4000-4999 (a client that fell too far behind to keep every event: it must resync).
The transport closes them and then calls ``leave`` as for any departure.

The room formats messages with the ``encode`` function it was given and asks the
``store`` who may read: both count, because both are what a broadcast costs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

Kind = Literal["event", "live", "cursor"]
KINDS: tuple[Kind, ...] = ("event", "live", "cursor")
Body = dict[str, Any]
Encode = Callable[[dict[str, Any]], bytes]
Close = tuple[str, int]  # (client, close code 4000-4999)


class Store(Protocol):
    """Who may read the room: each call is one database query."""

    def can_read(self, user: str) -> bool: ...

    def readers(self) -> set[str]: ...


class Room(Protocol):
    """One room's fan-out: per-client outboxes, formatting, permissions, cursor throttle."""

    def __init__(self, store: Store, encode: Encode, *, max_bytes: int,
                 cursor_interval: float) -> None: ...

    def join(self, client: str, user: str, now: float) -> None: ...

    def leave(self, client: str, now: float) -> None: ...

    def publish(self, client: str, kind: str, key: str, body: Body,
                now: float) -> list[Close]: ...

    def tick(self, now: float) -> list[Close]: ...

    def permission_changed(self, user: str, now: float) -> None: ...

    def take(self, client: str) -> bytes | None: ...


def wire_message(kind: str, key: str, body: Body) -> dict[str, Any]:
    """What a room passes to ``encode``: the same dict for every recipient."""
    return {"kind": kind, "key": key, "body": body}
