"""Known bad: the room numbers a sender's retry as a new message.

A sender that did not see its acknowledgement sends the same message id again;
this room gives it a second seq, so every member shows it twice.
"""

from solutions.ordering import Client as Client
from solutions.ordering import Delivery
from solutions.ordering import Room as Reference

EXPECTED = {"message-ordering-race"}
MESSAGE = "twice"


class Room(Reference):
    def publish(self, sender: str, msg_id: str, body: str) -> list[Delivery]:
        self.recent.pop(msg_id, None)  # BUG: ids are not remembered
        return super().publish(sender, msg_id, body)
