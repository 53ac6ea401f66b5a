"""What the learner writes in ``exercises/collab.py``, as types: a ``Room`` and a ``Client``.

Both are sans-I/O: they take what arrived and return what to send, as y-protocols
messages (:mod:`rtlab.wire.yjs`). The same objects run in the live server
(:class:`~rtlab.topics.collaboration.server.SyncServer`) and client
(:class:`~rtlab.topics.collaboration.client.SyncClient`), in the trace replays
(:mod:`~rtlab.topics.collaboration.traces`) and in the grader's simulation
(:mod:`~rtlab.topics.collaboration.sim`), which checks at run time what learner code
returns rather than trusting these annotations.
"""

from __future__ import annotations

from collections.abc import Hashable
from types import ModuleType
from typing import Any, Protocol, cast

from pycrdt import Doc

__all__ = ["ClientFactory", "ClientLogic", "CollabModule", "Outgoing", "RoomFactory",
           "RoomLogic", "learner_module"]

Outgoing = list[tuple[Hashable, bytes]]  # (client, message) pairs to send


class RoomLogic(Protocol):
    """One document room on the server (the exercise's ``Room``); clients are opaque ids."""

    def join(self, client: Hashable) -> Outgoing: ...
    def receive(self, client: Hashable, message: bytes) -> Outgoing: ...  # ValueError if invalid
    def leave(self, client: Hashable) -> Outgoing: ...
    def save(self) -> bytes: ...


class RoomFactory(Protocol):
    """``Room(saved)``: ``saved`` is what ``save()`` returned before a restart."""

    def __call__(self, saved: bytes | None = ...) -> RoomLogic: ...


class ClientLogic(Protocol):
    """One editor's sync logic around its doc (the exercise's ``Client``)."""

    def connect(self) -> list[bytes]: ...
    def disconnect(self) -> None: ...
    def receive(self, message: bytes) -> list[bytes]: ...
    def local_update(self, update: bytes) -> list[bytes]: ...


class ClientFactory(Protocol):
    """``Client(doc)``."""

    def __call__(self, doc: Doc[Any], /) -> ClientLogic: ...


class CollabModule(Protocol):
    """The learner's module: two classes."""

    Room: RoomFactory
    Client: ClientFactory


def learner_module(module: ModuleType) -> CollabModule:
    """``module`` seen through its interface. Nothing is checked here: a missing class
    raises ``AttributeError`` where it is used, and the simulation reports it there."""
    return cast(CollabModule, module)
