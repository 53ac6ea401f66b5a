"""Known bad: a heartbeat every 5 s behind a proxy that cuts after 3 s of silence
(module 05's sharp edge): in a quiet spell the proxy cuts every link."""

from typing import Any

from solutions import capstone
from solutions.capstone import make_presence  # noqa: F401

EXPECTED = {"websocket-proxy-timeout", "missing-heartbeat"}
MESSAGE = "cut"


class AppServer(capstone.AppServer):
    def opened(self, conn: str, user: str, now: float) -> list[tuple[Any, ...]]:
        out = super().opened(conn, user, now)
        self.beats[conn] = capstone.heartbeat_part.Heartbeat(5.0, 1.0, side="server", now=now)
        return out


class AppClient(capstone.AppClient):
    def connected(self, now: float) -> list[tuple[Any, ...]]:
        out = super().connected(now)
        self.beat = capstone.heartbeat_part.Heartbeat(5.0, 1.0, side="client", now=now)  # BUG
        return out
