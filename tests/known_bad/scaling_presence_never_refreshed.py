"""Known bad: presence keys with a TTL that nobody refreshes.

The key set on join expires PRESENCE_TTL seconds later, and a client still connected
vanishes from every server's presence list.
"""

from rtlab.topics.scaling_out.interface import Command
from solutions.scaling import Relay as Reference

EXPECTED = {"socket-io-no-adapter"}
MESSAGE = "other servers do not see"


class Relay(Reference):
    def tick(self, now: float) -> list[Command]:
        return []  # BUG: no refresh
