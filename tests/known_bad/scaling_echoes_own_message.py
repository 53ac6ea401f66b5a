"""Known bad: delivers a local message at once, then again when it comes back from Redis.

The announcement of your own Publish reaches your own server too; delivering on send
*and* on the way back gives every local member each local message twice.
"""

from rtlab.topics.scaling_out.interface import Command, Deliver
from solutions.scaling import Relay as Reference

EXPECTED = {"socket-io-no-adapter"}
MESSAGE = "2 times"


class Relay(Reference):
    def send(self, client: str, room: str, text: str, now: float) -> list[Command]:
        published = super().send(client, room, text, now)
        if not published:
            return []
        # BUG: a shortcut for local members, on top of the stream's delivery
        local = [Deliver(member, room, "pending", text) for member in self.cursors[room]]
        return local + published
