"""Known bad: each server fans out only what its own tabs post (module 10's sharp edge,
Socket.IO without an adapter). The log is shared, but nobody listens to the other
servers: their tabs' messages arrive late, when a gap happens to be noticed, or never."""

from typing import Any

from solutions import capstone
from solutions.capstone import AppClient, make_presence  # noqa: F401

EXPECTED = {"socket-io-no-adapter", "reconnection-state-loss"}
MESSAGE = "had not shown it"


class AppServer(capstone.AppServer):
    def _catch_up(self, now: float) -> list[tuple[Any, ...]]:
        return []  # BUG: deaf to what the other servers append

    def received(self, conn: str, frame: Any, now: float) -> list[tuple[Any, ...]]:
        before = self.backplane.latest()
        out = super().received(conn, frame, now)
        for entry in self.backplane.read(before):  # what this post added, if anything
            out += self._closes(self.room.publish("@backplane", "event", "",
                                                  {"type": "msg", **entry}, now))
        return out
