"""What the learner writes in ``exercises/presence.py``, as types.

A :class:`Tracker` is sans-I/O: every method gets the current time and returns the
events to publish. The simulation (:mod:`rtlab.topics.presence.sim`), the live
server (:mod:`rtlab.topics.presence.live`) and the grader all take these types;
learner code may still return something else at run time, which the simulation
checks and explains rather than trusting.
"""

from __future__ import annotations

from types import ModuleType
from typing import Protocol, cast

__all__ = ["Event", "PresenceModule", "Tracker", "TrackerFactory", "learner_module"]

Event = tuple[str, str]  # ("join", user) or ("leave", user)


class Tracker(Protocol):
    """Who is online: the exercise's ``PresenceTracker`` (or any object with its methods)."""

    def connect(self, user: str, conn: str, now: float) -> list[Event]: ...
    def disconnect(self, user: str, conn: str, now: float) -> list[Event]: ...
    def heartbeat(self, user: str, conn: str, now: float) -> list[Event]: ...
    def tick(self, now: float) -> list[Event]: ...
    def online(self) -> set[str]: ...


class TrackerFactory(Protocol):
    """``PresenceTracker(grace=..., ttl=...)``: the class itself."""

    def __call__(self, grace: float = ..., ttl: float = ...) -> Tracker: ...


class PresenceModule(Protocol):
    """The learner's module: one class."""

    PresenceTracker: TrackerFactory


def learner_module(module: ModuleType) -> PresenceModule:
    """``module`` seen through its interface. Nothing is checked here: a missing class
    raises ``AttributeError`` where it is used, and the simulation reports it there."""
    return cast(PresenceModule, module)
