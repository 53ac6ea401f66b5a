"""Known good: websockets' keepalive shape. A ping every interval on a fixed schedule,
whatever else is sent; each ping must be answered within timeout (pongs come back in
order, as TCP keeps it); only pongs count as answers."""

from collections import deque

PING, PONG = "ping", "pong"
INTERVAL, TIMEOUT = 20.0, 20.0  # the websockets defaults


class Heartbeat:
    def __init__(self, interval=INTERVAL, timeout=TIMEOUT, *, side="client", now=0.0):
        self.interval, self.timeout, self.side = interval, timeout, side
        self.next_ping = now + interval
        self.unanswered = deque()  # send times, oldest first
        self.closed = False

    def on_sent(self, now):
        pass  # the schedule does not care what else was sent

    def on_received(self, message, now):
        if message == PONG and self.unanswered:
            self.unanswered.popleft()
        elif message == PING:
            return [("send", PONG)]
        return []

    def poll(self, now):
        if self.closed:
            return []
        if self.unanswered and now - self.unanswered[0] >= self.timeout:
            self.closed = True
            return [("close", f"keepalive ping timeout ({self.timeout:g} s)")]
        actions = []
        if now >= self.next_ping:
            while self.next_ping <= now:
                self.next_ping += self.interval
            self.unanswered.append(now)
            actions.append(("send", PING))
        return actions

    def next_wakeup(self, now):
        if self.closed:
            return None
        if self.unanswered:
            return min(self.next_ping, self.unanswered[0] + self.timeout)
        return self.next_ping
