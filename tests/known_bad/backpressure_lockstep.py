"""Known bad: the room moves at the pace of its slowest reader.

Like ``for ws in clients: await ws.send(frame)``: no client is handed its next
frame before every other member has taken as many. Memory stays bounded, but one
2G phone sets the latency of the whole room. (A room that stalls also stalls its
events, cursors and a newly allowed reader: the other checks notice that too.)
"""

from solutions.backpressure import Room as BaseRoom

EXPECTED = {"backpressure-oom", "unbounded-message-queue", "cursor-high-frequency",
            "broadcast-n-queries"}
MESSAGE = "A slow reader is holding up the others"


class Room(BaseRoom):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.taken: dict[str, int] = {}

    def join(self, client: str, user: str, now: float) -> None:
        super().join(client, user, now)
        self.taken[client] = min(self.taken.values(), default=0)

    def leave(self, client: str, now: float) -> None:
        super().leave(client, now)
        self.taken.pop(client, None)

    def take(self, client: str) -> bytes | None:
        others = [n for c, n in self.taken.items() if c != client and c in self.outboxes
                  and self.outboxes[c].size > 0]
        if others and self.taken.get(client, 0) > min(others):
            return None  # wait for the slowest
        frame = super().take(client)
        if frame is not None:
            self.taken[client] = self.taken.get(client, 0) + 1
        return frame
