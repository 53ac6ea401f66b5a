"""What the capstone's learner file provides, and what the course hands it.

The capstone is an assembly. Its file (``exercises/capstone.py``) picks the parts of
earlier exercises with :func:`use` (the learner's own file, or the course's working
one for a part they skipped) and writes the glue the capstone adds: ``AppServer``,
one per server process, and ``AppClient``, one per browser tab. Both are sans-I/O:
they take events and the time, and return what to do. The same objects run in the
grader's virtual-time chaos schedules (:mod:`.sim`) and in the lesson's live run
behind a real HAProxy with a real redis-server (:mod:`.live`).

Actions a glue object returns, in order:

- server: ``("send", conn, frame)`` (straight to the socket, ahead of the outbox) and
  ``("close", conn, code)``; then the transport calls ``closed(conn, now)`` itself;
- client: ``("send", frame)``, ``("show", message)`` (a chat message on screen, in
  order) and ``("close", reason)`` (give up on this connection: the transport then
  calls ``disconnected``).

Frames are ``str`` or ``bytes``; ``"ping"`` and ``"pong"`` are the heartbeat's.
"""

from __future__ import annotations

import random
from types import ModuleType
from typing import Any, Protocol, cast

from rtlab.learner import load_exercise, load_working

__all__ = ["PARTS", "AppClient", "AppServer", "Backplane", "CapstoneModule", "Presence",
           "learner_module", "use"]

Frame = str | bytes
Message = dict[str, Any]
ServerAction = tuple[Any, ...]  # ("send", conn, frame) | ("close", conn, code)
ClientAction = tuple[Any, ...]  # ("send", frame) | ("show", message) | ("close", reason)

# The earlier exercises whose objects the capstone plugs in, and what each gives.
PARTS = {
    "reconnection": "Backoff: the delay before each new attempt (module 04)",
    "heartbeat": "Heartbeat: is this link alive? (module 05)",
    "presence": "PresenceTracker: who is online, with a grace period (module 06)",
    "ordering": "Client: in order, once, resume with since= (module 07)",
    "backpressure": "Room: bounded outboxes, cursor throttle (module 08)",
}


def use(part: str, which: str = "mine") -> ModuleType:
    """The module of an earlier exercise: ``"mine"`` is your ``exercises/<file>``,
    ``"reference"`` the course's working one (for a part you skipped)."""
    if part not in PARTS:
        raise KeyError(f"no part {part!r}: choose one of {sorted(PARTS)}")
    if which == "mine":
        return load_exercise(part)
    if which == "reference":
        return load_working(part)
    raise ValueError(f"use({part!r}, {which!r}): write \"mine\" or \"reference\"")


class Presence(Protocol):
    """The presence tracker of module 06 (one, shared by every server, as in Redis)."""

    def connect(self, user: str, conn: str, now: float) -> list[tuple[str, str]]: ...
    def disconnect(self, user: str, conn: str, now: float) -> list[tuple[str, str]]: ...
    def heartbeat(self, user: str, conn: str, now: float) -> list[tuple[str, str]]: ...
    def tick(self, now: float) -> list[tuple[str, str]]: ...
    def online(self) -> set[str]: ...


class Backplane(Protocol):
    """What every server shares (Redis in the live run). Calls return at once.

    - ``append(message)``: add a chat message or an edit (a dict with a unique ``"id"``)
      to the room's log, give it the next ``"seq"`` (1, 2, ...) and announce it to every
      server's ``published``. Idempotent: a message whose id is already in the log is
      not added again. It returns nothing: in the live run Redis answers later.
    - ``read(after)``: the log's messages with seq > ``after``, oldest first.
    - ``latest()``: the last seq given out (0 for an empty log).
    - ``document()``: the ids of every edit in the log (the document's state).
    - ``publish(message)``: announce something transient (a presence change, a cursor)
      to every server; nothing is kept.
    - ``presence``: the one presence tracker; the transport ticks it and publishes
      what ``tick`` returns as ``{"type": "presence", "event": ..., "user": ...}``.

    Announcements are at-most-once: while Redis restarts they are lost, and every
    server's ``reconnected`` is called when it is back. The log is never lost.
    """

    presence: Presence

    def append(self, message: Message) -> None: ...
    def read(self, after: int) -> list[Message]: ...
    def latest(self) -> int: ...
    def document(self) -> list[str]: ...
    def publish(self, message: Message) -> None: ...


class AppServer(Protocol):
    def __init__(self, name: str, backplane: Backplane, now: float) -> None: ...
    def opened(self, conn: str, user: str, now: float) -> list[ServerAction]: ...
    def received(self, conn: str, frame: Frame, now: float) -> list[ServerAction]: ...
    def closed(self, conn: str, now: float) -> list[ServerAction]: ...
    def published(self, message: Message, now: float) -> list[ServerAction]: ...
    def reconnected(self, now: float) -> list[ServerAction]: ...
    def tick(self, now: float) -> list[ServerAction]: ...
    def take(self, conn: str) -> Frame | None: ...


class AppClient(Protocol):
    def __init__(self, user: str, room: str, rng: random.Random, now: float) -> None: ...
    def connected(self, now: float) -> list[ClientAction]: ...
    def received(self, frame: Frame, now: float) -> list[ClientAction]: ...
    def disconnected(self, now: float) -> float: ...
    def poll(self, now: float) -> list[ClientAction]: ...
    def post(self, kind: str, id: str, body: str, now: float) -> list[ClientAction]: ...
    def cursor(self, x: int, y: int, now: float) -> list[ClientAction]: ...
    def document(self) -> set[str]: ...


class CapstoneModule(Protocol):
    AppServer: type[AppServer]
    AppClient: type[AppClient]

    def make_presence(self) -> Presence: ...


def learner_module(module: ModuleType) -> CapstoneModule:
    """``module`` seen through its interface; a missing name raises where it is used."""
    return cast(CapstoneModule, module)
