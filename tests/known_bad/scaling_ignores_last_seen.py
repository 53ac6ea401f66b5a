"""Known bad: a returning client is treated as a newcomer.

It reconnected on another server after a deploy or a crash, said where it was
(last_seen), and is served from "now": everything sent while it was away is lost.
"""

from rtlab.topics.scaling_out.interface import Command
from solutions.scaling import Relay as Reference

EXPECTED = {"sticky-session-bypass"}
MESSAGE = "never got it"


class Relay(Reference):
    def join(self, client: str, room: str, last_seen: str | None, now: float) -> list[Command]:
        return super().join(client, room, None, now)  # BUG: last_seen dropped
