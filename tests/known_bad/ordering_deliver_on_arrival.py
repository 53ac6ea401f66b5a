"""Known bad: "it's TCP, so it's ordered": messages are shown the moment they arrive.

Duplicates are dropped (a set of seqs seen), but nothing is held back: a message
that overtook an earlier one is shown first.
"""

from solutions.ordering import Client as Reference
from solutions.ordering import Message
from solutions.ordering import Room as Room

EXPECTED = {"missing-message-ordering", "message-ordering-race"}
MESSAGE = "out of order"


class Client(Reference):
    def __init__(self, room: str, *, max_pending: int = 32) -> None:
        super().__init__(room, max_pending=max_pending)
        self.seen: set[int] = set()

    def connected(self, now: float) -> list[Message]:
        since = max(self.seen) if self.seen else None
        return [{"type": "join", "room": self.room, "since": since}]

    def receive(self, message: Message, now: float) -> list[Message]:
        if message.get("type") != "msg" or message["seq"] in self.seen:
            return []
        self.seen.add(message["seq"])
        return [message]  # BUG: shown on arrival, whatever its seq

    def requests(self, now: float) -> list[Message]:
        return []

    def pending(self) -> int:
        return 0
