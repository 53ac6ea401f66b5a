"""Known bad: every server delivers to its own clients and tells no one else.

One process behaves perfectly; behind a load balancer, the members of a room on the
other servers never see these messages (Socket.IO without an adapter).
"""

from rtlab.topics.scaling_out.interface import Command, Deliver
from solutions.scaling import Relay as Reference
from solutions.scaling import decode, encode

EXPECTED = {"socket-io-no-adapter"}
MESSAGE = "never reached Redis"


class Relay(Reference):
    def send(self, client: str, room: str, text: str, now: float) -> list[Command]:
        members = self.cursors.get(room, {})
        if client not in members:
            return []
        message = decode(encode(client, text))
        assert message is not None
        # BUG: local delivery only, nothing goes to the backplane
        return [Deliver(member, room, "local", message[1]) for member in members]
