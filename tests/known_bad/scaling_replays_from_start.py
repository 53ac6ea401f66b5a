"""Known bad: a returning client gets the whole stream again.

Nothing is lost, but everything it already had arrives a second time.
"""

from rtlab.topics.scaling_out.interface import Command
from solutions.scaling import Relay as Reference

EXPECTED = {"sticky-session-bypass"}
MESSAGE = "got it again"


class Relay(Reference):
    def join(self, client: str, room: str, last_seen: str | None, now: float) -> list[Command]:
        # BUG: from the start of the stream, not from last_seen
        return super().join(client, room, "0-0" if last_seen is not None else None, now)
