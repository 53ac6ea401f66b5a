"""Known bad: pings (and the pong deadline) only when this side has nothing else to send.

A server streaming updates into a dead link is never idle, so it never pings
and never checks: the ghost keeps receiving updates that go nowhere. A chatty
client behind a hung server does not notice either.
"""

from solutions.heartbeat import INTERVAL, PING, PONG, TIMEOUT

EXPECTED = {"missing-heartbeat", "half-open-connection-ghost"}
MESSAGE = "The client noticed never"


class Heartbeat:
    def __init__(self, interval=INTERVAL, timeout=TIMEOUT, *, side="client", now=0.0):
        self.interval, self.timeout, self.side = interval, timeout, side
        self.last_sent = now
        self.waiting_since = None  # when our unanswered ping went out

    def on_sent(self, now):
        self.last_sent = now

    def on_received(self, message, now):
        self.waiting_since = None  # anything that arrives answers the ping
        return [("send", PONG)] if message == PING else []

    def poll(self, now):
        if self.waiting_since is not None and now - self.waiting_since >= self.timeout:
            return [("close", "ping unanswered")]
        if self.waiting_since is None and now - self.last_sent >= self.interval:
            self.last_sent = self.waiting_since = now
            return [("send", PING)]
        return []

    def next_wakeup(self, now):
        if self.waiting_since is not None:
            return self.waiting_since + self.timeout
        return self.last_sent + self.interval
