"""What the learner implements in ``exercises/sse.py``, as types.

The live server (``live.py``), the simulation (``sim.py``) and the grader all
take these types; the solution's classes, the learner's, and any object with
the same methods fit them. The learner's module is loaded at run time, so its
type cannot be known to mypy: :func:`learner_module` gives it the type of what
the exercise asks for. Nothing is checked when it does: a missing name raises
``AttributeError`` where it is used, inside the sandbox that turns it into the
usual learner-facing message.
"""

from __future__ import annotations

import random
from types import ModuleType
from typing import Protocol, cast

__all__ = ["EventLog", "EventLogClass", "LearnerModule", "RetryPolicy", "RetryPolicyClass",
           "learner_module"]


class EventLog(Protocol):
    """A resumable stream's log: decides *what* is sent; the server only moves text."""

    def publish(self, data: str, event: str | None = None) -> str:
        """Keep the event; return its text, for every open stream."""
        ...

    def open(self, last_event_id: str | None) -> str:
        """The first text of a (re)opened stream: ``retry:``, then a replay or a resync.

        Raises ``ValueError`` for an id this log could never have issued (HTTP 400).
        """
        ...


class EventLogClass(Protocol):
    def __call__(self, capacity: int = ..., *, epoch: str | None = ...) -> EventLog: ...


class RetryPolicy(Protocol):
    """How long a client waits before its next attempt, after a failure."""

    def opened(self) -> None:
        """A stream opened: the next failure starts the backoff afresh."""
        ...

    def failed(self, status: int | None) -> float | None:
        """Seconds to wait after ``status`` (None: a network error); None: stop for good."""
        ...


class RetryPolicyClass(Protocol):
    def __call__(self, rng: random.Random, base: float = ..., cap: float = ...) -> RetryPolicy:
        ...


class LearnerModule(Protocol):
    """The learner's module: ``format_event``, ``EventLog`` and ``RetryPolicy``."""

    @property
    def EventLog(self) -> EventLogClass: ...

    @property
    def RetryPolicy(self) -> RetryPolicyClass: ...

    def format_event(self, data: str, *, event_id: str | None = None,
                     event: str | None = None) -> str: ...


def learner_module(module: ModuleType) -> LearnerModule:
    """``module`` as the exercise's interface (no check: see this module's docstring)."""
    return cast(LearnerModule, module)
