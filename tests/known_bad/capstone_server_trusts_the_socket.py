"""Known bad: the server believes a connection lives until the socket says otherwise, and
presence keeps a member until told (module 05's ghost). A tab that vanishes without a
goodbye stays online for everyone."""

from typing import Any

from solutions import capstone
from solutions.capstone import AppClient, presence_part  # noqa: F401

EXPECTED = {"half-open-connection-ghost"}
MESSAGE = "a ghost"


def make_presence() -> Any:
    return presence_part.PresenceTracker(grace=3.0, ttl=3600.0)  # BUG: no TTL worth the name


class AppServer(capstone.AppServer):
    def tick(self, now: float) -> list[tuple[Any, ...]]:
        out = super().tick(now)
        # BUG: pings go out, but a connection that stopped answering is never closed
        return [a for a in out if a[0] != "close" or a[2] != 1011]
