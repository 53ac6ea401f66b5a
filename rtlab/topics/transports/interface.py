"""What the learner implements in ``exercises/transports.py``, as types.

The learner's module is loaded at run time, so its type cannot be known to mypy;
:func:`learner_module` gives it the type of what the exercise asks for. Nothing is
checked when it does: a missing name raises ``AttributeError`` where it is used,
inside the sandbox that turns it into the usual learner-facing message.
"""

from __future__ import annotations

from types import ModuleType
from typing import Protocol, cast

__all__ = ["TRANSPORTS", "FeatureNeeds", "LearnerModule", "NeedsClass", "learner_module"]

TRANSPORTS = ("polling", "long-polling", "sse", "websocket")  # the answers, lightest first


class FeatureNeeds(Protocol):
    """What a feature needs from its transport (the exercise's ``Needs`` dataclass)."""

    @property
    def feature(self) -> str: ...
    @property
    def client_streams(self) -> bool: ...
    @property
    def noticed_within(self) -> float: ...
    @property
    def updates_per_minute(self) -> float: ...
    @property
    def clients(self) -> int: ...
    @property
    def binary(self) -> bool: ...
    @property
    def http_only(self) -> bool: ...


class NeedsClass(Protocol):
    """The ``Needs`` class itself: built from its fields by keyword."""

    def __call__(self, *, feature: str, client_streams: bool, noticed_within: float,
                 updates_per_minute: float, clients: int, binary: bool = ...,
                 http_only: bool = ...) -> FeatureNeeds: ...


class LearnerModule(Protocol):
    """The learner's module: ``Needs`` and ``choose_transport``."""

    @property
    def Needs(self) -> NeedsClass: ...

    def choose_transport(self, needs: FeatureNeeds) -> str:
        """One of :data:`TRANSPORTS`, spelled exactly so."""
        ...


def learner_module(module: ModuleType) -> LearnerModule:
    """``module`` as the exercise's interface (no check: see this module's docstring)."""
    return cast(LearnerModule, module)
