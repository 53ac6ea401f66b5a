"""Known bad: no heartbeat at all. The socket says OPEN, so all is well (it is not)."""

from solutions.heartbeat import INTERVAL, TIMEOUT

EXPECTED = {"missing-heartbeat", "half-open-connection-ghost", "websocket-proxy-timeout"}
MESSAGE = "nothing at all was sent"


class Heartbeat:
    def __init__(self, interval=INTERVAL, timeout=TIMEOUT, *, side="client", now=0.0):
        self.interval, self.timeout, self.side = interval, timeout, side

    def on_sent(self, now):
        pass

    def on_received(self, message, now):
        return []

    def poll(self, now):
        return []

    def next_wakeup(self, now):
        return None
