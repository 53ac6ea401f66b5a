"""Known bad: de-duplication by id that forgets the ids after a resync.

This client remembers the ids it showed, and shows a message it has never seen
even if its seq is below the next one expected ("it came late, but it is new").
On a resync it clears the ids, since the old ones "cannot come back". They do: a
late copy relayed by another server arrives after the resync and is shown again.
"""

from solutions.ordering import Client as Reference
from solutions.ordering import Message
from solutions.ordering import Room as Room

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "after a resync"


class Client(Reference):
    def __init__(self, room: str, *, max_pending: int = 32) -> None:
        super().__init__(room, max_pending=max_pending)
        self.seen: set[str] = set()

    def receive(self, message: Message, now: float) -> list[Message]:
        if message.get("type") == "resync":
            self.seen.clear()  # BUG: the ids from before the resync are forgotten
        if message.get("type") == "msg":
            if message["id"] in self.seen:
                return []
            if self.next is not None and message["seq"] < self.next:
                self.seen.add(message["id"])
                return [message]  # "late but new": only true while the ids are remembered
        shown = super().receive(message, now)
        self.seen.update(m["id"] for m in shown)
        return shown
