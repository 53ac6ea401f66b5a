"""Known bad: a client that fell behind is closed with 1011 (internal error).

The client cannot tell "resync" from a server crash, so it reconnects and
expects its missed events to follow. Application codes 4000-4999 say what to do.
"""

from solutions.backpressure import Close
from solutions.backpressure import Room as BaseRoom

EXPECTED = {"unbounded-message-queue"}
MESSAGE = "with code 1011"


class Room(BaseRoom):
    def publish(self, client, kind, key, body, now) -> list[Close]:  # type: ignore[no-untyped-def]
        return [(c, 1011) for c, _ in super().publish(client, kind, key, body, now)]
