"""Known bad: each side pings and watches its own deadline, but never answers a ping."""

from solutions.heartbeat import Heartbeat as Reference

EXPECTED = {"missing-heartbeat"}
MESSAGE = "sent no pong"


class Heartbeat(Reference):
    def on_received(self, message, now):
        self.last_received = now
        return []  # "a ping is traffic too, so why answer it?"
