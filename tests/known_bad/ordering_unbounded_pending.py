"""Known bad: the pending buffer has no bound.

Correct otherwise: while a gap stays open (the resend is slow in coming), every
message that arrives is held, however many.
"""

from solutions.ordering import Client as Reference
from solutions.ordering import Message
from solutions.ordering import Room as Room

EXPECTED = {"message-ordering-race"}
MESSAGE = "held back"


class Client(Reference):
    def receive(self, message: Message, now: float) -> list[Message]:
        self.max_pending = 10**9  # BUG: "memory is cheap"
        return super().receive(message, now)
