"""Known bad: a ping every interval, dead after three missed pongs: 3 x interval + timeout.

Counting misses is fine; counting them at the full interval breaks the promise
of noticing within interval + timeout (here 70 s instead of 30 s).
"""

from solutions.heartbeat import INTERVAL, PING, PONG, TIMEOUT

EXPECTED = {"missing-heartbeat", "half-open-connection-ghost"}
MESSAGE = "declared it dead never"


class Heartbeat:
    def __init__(self, interval=INTERVAL, timeout=TIMEOUT, *, side="client", now=0.0):
        self.interval, self.timeout, self.side = interval, timeout, side
        self.next_ping = now + interval
        self.outstanding = []  # send times of pings not answered yet
        self.missed = 0

    def on_sent(self, now):
        pass

    def on_received(self, message, now):
        if message == PONG and self.outstanding:
            self.outstanding.pop(0)
            self.missed = 0
        return [("send", PONG)] if message == PING else []

    def poll(self, now):
        while self.outstanding and now - self.outstanding[0] >= self.timeout:
            self.outstanding.pop(0)
            self.missed += 1
        if self.missed >= 3:
            return [("close", "three pongs missed")]
        if now >= self.next_ping:
            self.next_ping = now + self.interval
            self.outstanding.append(now)
            return [("send", PING)]
        return []

    def next_wakeup(self, now):
        if self.outstanding:
            return min(self.next_ping, self.outstanding[0] + self.timeout)
        return self.next_ping
