"""Known bad: no heartbeat on either end (module 05's sharp edge). Pings are never sent
and silence is never suspicious: a half-open link looks fine forever, and the idle proxy
cuts every quiet connection."""

from typing import Any

from solutions import capstone
from solutions.capstone import make_presence  # noqa: F401

EXPECTED = {"missing-heartbeat", "presence-immediate-removal", "websocket-proxy-timeout"}


class Silent:
    """Looks like a Heartbeat, does nothing."""

    def on_sent(self, now: float) -> None:
        pass

    def on_received(self, message: Any, now: float) -> list[tuple[str, str]]:
        return []

    def poll(self, now: float) -> list[tuple[str, str]]:
        return []  # BUG: never pings, never declares the link dead


class AppServer(capstone.AppServer):
    def opened(self, conn: str, user: str, now: float) -> list[tuple[Any, ...]]:
        out = super().opened(conn, user, now)
        self.beats[conn] = Silent()
        return out


class AppClient(capstone.AppClient):
    def connected(self, now: float) -> list[tuple[Any, ...]]:
        out = super().connected(now)
        self.beat = Silent()
        return out
