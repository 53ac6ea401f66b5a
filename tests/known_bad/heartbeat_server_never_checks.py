"""Known bad: only the client checks; the server answers pings and trusts the socket."""

from solutions.heartbeat import Heartbeat as Reference

EXPECTED = {"half-open-connection-ghost"}
MESSAGE = "The server declared it dead never"


class Heartbeat(Reference):
    def poll(self, now):
        if self.side == "server":
            self.last_received = now  # "the socket is open, so the client is there"
        return super().poll(now)
