"""What the learner writes in ``exercises/heartbeat.py``, as types.

``Heartbeat`` is the sans-I/O liveness logic of one side of one connection: it is
told what arrived, what was sent and what time it is, and answers with actions
(``("send", PING)``, ``("send", PONG)``, ``("close", reason)``). The simulation
(``sim.py``) and the lesson's live wrapper drive it the same way. Drivers still
check at run time what learner code returns: these types say what it should.
"""

from __future__ import annotations

from types import ModuleType
from typing import Protocol, cast

__all__ = ["Action", "Heartbeat", "HeartbeatClass", "HeartbeatCode", "learner_code"]

Action = tuple[str, str]  # ("send", message) or ("close", reason)


class Heartbeat(Protocol):
    """Liveness of one connection, seen from one side (``"client"`` or ``"server"``)."""

    interval: float  # seconds of silence before this side pings
    timeout: float  # seconds to wait beyond that before declaring the link dead

    def on_sent(self, now: float) -> None: ...

    def on_received(self, message: str | bytes, now: float) -> list[Action]: ...

    def poll(self, now: float) -> list[Action]: ...

    def next_wakeup(self, now: float) -> float | None: ...


class HeartbeatClass(Protocol):
    """The learner's ``Heartbeat`` class: ``Heartbeat()`` uses their INTERVAL and TIMEOUT."""

    def __call__(
        self, interval: float = ..., timeout: float = ..., *, side: str = ..., now: float = ...
    ) -> Heartbeat: ...


class HeartbeatCode(Protocol):
    """The learner's module, as far as this course module uses it."""

    Heartbeat: HeartbeatClass


def learner_code(module: ModuleType) -> HeartbeatCode | None:
    """The learner's module, typed; None if it has no ``Heartbeat`` class to run."""
    if not callable(getattr(module, "Heartbeat", None)):
        return None
    return cast(HeartbeatCode, module)
