"""Known bad: posts made while the link is down, or in flight when it dies, are dropped
(module 07/09's sharp edge, reconnection state loss): offline edits never reach anyone."""

from typing import Any

from solutions import capstone
from solutions.capstone import AppServer, make_presence  # noqa: F401

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "never reached the log"


class AppClient(capstone.AppClient):
    def disconnected(self, now: float) -> float:
        self.unsent.clear()  # BUG: whatever was not confirmed is forgotten
        return super().disconnected(now)

    def post(self, kind: str, id: str, body: str, now: float) -> list[tuple[Any, ...]]:
        out = super().post(kind, id, body, now)
        if self.beat is None:
            self.unsent.pop(id, None)  # BUG: offline posts are dropped
        return out
