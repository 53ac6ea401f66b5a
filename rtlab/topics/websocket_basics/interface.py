"""What the learner implements in ``exercises/frames.py``, as types.

The live server (``live.py``), the simulation (``sim.py``) and the grader all
take these types; the solution's ``Receiver``, the learner's, and any object with
the same method fit them. The learner's module is loaded at run time, so its type
cannot be known to mypy: :func:`learner_module` gives it the type of what the
exercise asks for. Nothing is checked when it does: a missing name raises
``AttributeError`` where it is used, inside the sandbox that turns it into the usual
learner-facing message.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol, cast

__all__ = ["Action", "Frame", "LearnerModule", "Receiver", "ReceiverClass", "learner_module"]

Frame = str | bytes  # str: a text frame; bytes: a binary frame
Action = tuple[Any, ...]  # ("deliver", meta, payload) or ("close", code, reason)


class Receiver(Protocol):
    """The upload protocol on the server side, for one connection (sans-I/O)."""

    def receive(self, frame: Frame) -> list[Action]:
        """One frame arrived on this connection: what should the server do?"""
        ...


class ReceiverClass(Protocol):
    def __call__(self, max_size: int = ...) -> Receiver: ...


class LearnerModule(Protocol):
    """The learner's module: ``encode_upload`` and ``Receiver``."""

    @property
    def Receiver(self) -> ReceiverClass: ...

    def encode_upload(self, meta: dict[str, Any], payload: bytes) -> list[Frame]:
        """The frames that carry one upload: the JSON announcement, then the payload."""
        ...


def learner_module(module: ModuleType) -> LearnerModule:
    """``module`` as the exercise's interface (no check: see this module's docstring)."""
    return cast(LearnerModule, module)
