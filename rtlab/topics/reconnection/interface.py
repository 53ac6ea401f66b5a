"""What the learner writes in ``exercises/reconnection.py``, as types.

The same two parts run in the simulation (``sim.py``, virtual time), on real
sockets (``live.py``) and under the grader: a ``Backoff`` class and an
``async def stay_connected(connect, backoff, sleep)``. They only use what they
are given, so each world hands them its own ``connect`` and ``sleep``.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from types import ModuleType
from typing import Any, Protocol, cast

__all__ = ["Backoff", "BackoffClass", "Connect", "Connection", "MakeBackoff",
           "ReconnectionCode", "Sleep", "StayConnected", "learner_code"]


class Connection(Protocol):
    """What ``await connect()`` gives: read with ``async for message in conn``."""

    def __aiter__(self) -> AsyncIterator[str | bytes]: ...


Connect = Callable[[], Awaitable[Connection]]  # raises OSError when refused
Sleep = Callable[[float], Awaitable[None]]


class Backoff(Protocol):
    """Delays between reconnect attempts: exponential, capped, jittered."""

    def next_delay(self) -> float: ...

    def reset(self) -> None: ...


class BackoffClass(Protocol):
    """The learner's ``Backoff`` class: how the simulation and lessons build one."""

    def __call__(
        self, base: float = ..., cap: float = ..., rng: random.Random | None = ...
    ) -> Backoff: ...


MakeBackoff = Callable[[random.Random], Backoff]  # one seeded Backoff per client


class StayConnected(Protocol):
    """The learner's ``async def stay_connected(connect, backoff, sleep)``: never returns."""

    def __call__(
        self, connect: Connect, backoff: Backoff, sleep: Sleep, /
    ) -> Coroutine[Any, Any, None]: ...


class ReconnectionCode(Protocol):
    """The learner's module, as far as this course module uses it."""

    Backoff: BackoffClass
    stay_connected: StayConnected


def learner_code(module: ModuleType) -> ReconnectionCode:
    """The learner's module, typed. Nothing is checked here: a missing part raises
    ``AttributeError`` where it is first used, inside a scenario, which reports it
    the way it reports any other error of the learner's code."""
    return cast(ReconnectionCode, module)
