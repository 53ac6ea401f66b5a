"""Known bad: after the backplane reconnects, reads from "$" instead of the last id.

"$" means "only what comes from now on": what was announced while pub/sub was down
(a Redis restart, a dropped subscription) is never read, so connected clients lose it.
"""

from rtlab.topics.scaling_out.interface import Command, Read
from solutions.scaling import Relay as Reference

EXPECTED = {"socket-io-no-adapter"}
MESSAGE = "all along"


class Relay(Reference):
    def reconnected(self, now: float) -> list[Command]:
        # BUG: resume from "$", not from the clients' cursors
        return [Read(room, "$") for room in self.cursors]
