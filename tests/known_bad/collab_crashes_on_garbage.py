"""Known bad: the room trusts its input.

It reads the message type with pycrdt's Decoder and hands the payload to
apply_update without checking: a truncated message raises IndexError or
RuntimeError instead of ValueError, and the server cannot tell a bad client
from a bug of its own.
"""

from pycrdt import Decoder

from solutions.collab import (
    Client,  # noqa: F401
    Outgoing,
)
from solutions.collab import Room as Reference

EXPECTED = {"message-ordering-race"}
MESSAGE = "Room.receive raised"


class Room(Reference):
    def receive(self, client, message: bytes) -> Outgoing:
        decoder = Decoder(message)
        if decoder.read_var_uint() not in (0, 1):  # RuntimeError on an empty message
            raise ValueError("unknown message type")
        if message[0] == 0 and message[1] > 2:  # IndexError on a lone sync byte
            raise ValueError("unknown sync step")
        return super().receive(client, message)
