"""Known bad: presence keys without a TTL.

A clean leave deletes the key, but a server that dies says nothing: its clients stay
on every room's presence list forever, ghosts.
"""

from rtlab.topics.scaling_out.interface import Command, Present
from solutions.scaling import Relay as Reference

EXPECTED = {"socket-io-no-adapter"}
MESSAGE = "ghost"


class Relay(Reference):
    def join(self, client: str, room: str, last_seen: str | None, now: float) -> list[Command]:
        commands = super().join(client, room, last_seen, now)
        # BUG: the key never expires
        return [Present(c.room, c.client, None) if isinstance(c, Present) else c
                for c in commands]

    def tick(self, now: float) -> list[Command]:
        return []
