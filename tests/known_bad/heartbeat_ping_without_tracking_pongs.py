"""Known bad: pings go out and are answered, but nobody checks that pongs come back."""

from solutions.heartbeat import INTERVAL, PING, PONG, TIMEOUT

EXPECTED = {"missing-heartbeat", "half-open-connection-ghost"}
MESSAGE = "The client noticed never"


class Heartbeat:
    def __init__(self, interval=INTERVAL, timeout=TIMEOUT, *, side="client", now=0.0):
        self.interval, self.timeout, self.side = interval, timeout, side
        self.last_sent = now

    def on_sent(self, now):
        self.last_sent = now

    def on_received(self, message, now):
        return [("send", PONG)] if message == PING else []

    def poll(self, now):
        if now - self.last_sent >= self.interval:
            self.last_sent = now
            return [("send", PING)]
        return []

    def next_wakeup(self, now):
        return self.last_sent + self.interval
