"""Known good: count missed pongs. Pings go out three times per interval; a ping whose
pong has not come within timeout is a miss; three misses in a row close the connection.
The last of three pings after the link died leaves by interval, so the promise
(interval + timeout) holds."""

PING, PONG = "ping", "pong"
INTERVAL, TIMEOUT = 24.0, 6.0
MISSES = 3


class Heartbeat:
    def __init__(self, interval=INTERVAL, timeout=TIMEOUT, *, side="client", now=0.0):
        self.interval, self.timeout, self.side = interval, timeout, side
        self.every = interval / MISSES
        self.next_ping = now + self.every
        self.pending = []  # deadlines of pings not answered yet
        self.misses = 0
        self.owed = 0

    def on_sent(self, now):
        pass

    def on_received(self, message, now):
        if message == PING:
            self.owed += 1  # answered from poll(), which the driver calls right after
        elif message == PONG and self.pending:
            self.pending.pop(0)
            self.misses = 0
        return None  # nothing to do at once (None is as good as [])

    def poll(self, now):
        actions = [("send", PONG)] * self.owed
        self.owed = 0
        while self.pending and self.pending[0] <= now:
            self.pending.pop(0)
            self.misses += 1
        if self.misses >= MISSES:
            self.next_ping = float("inf")
            return [*actions, ("close", f"{MISSES} pongs missed in a row")]
        if now >= self.next_ping:
            self.next_ping = now + self.every
            self.pending.append(now + self.timeout)
            actions.append(("send", PING))
        return actions

    def next_wakeup(self, now):
        times = [self.next_ping, *self.pending[:1]]
        return min(times) if min(times) != float("inf") else None
