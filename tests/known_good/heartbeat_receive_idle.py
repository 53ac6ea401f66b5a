"""Known good: ping only when nothing has *arrived* for interval, and only then start a
deadline. One ping outstanding at a time; anything that arrives answers it."""

PING, PONG = "ping", "pong"
INTERVAL, TIMEOUT = 15.0, 15.0


class Heartbeat:
    def __init__(self, interval=INTERVAL, timeout=TIMEOUT, *, side="client", now=0.0):
        self.interval, self.timeout, self.side = interval, timeout, side
        self.last_received = now
        self.ping_sent = None  # when the outstanding ping left, if one is outstanding
        self.done = False

    def on_sent(self, now):
        pass

    def on_received(self, message, now):
        self.last_received, self.ping_sent = now, None
        return [("send", PONG)] if message == PING else []

    def poll(self, now):
        if self.done:
            return []
        if self.ping_sent is not None and now - self.ping_sent >= self.timeout:
            self.done = True
            return [("close", f"ping unanswered for {self.timeout:g} s")]
        if self.ping_sent is None and now - self.last_received >= self.interval:
            self.ping_sent = now
            return [("send", PING)]
        return []

    def next_wakeup(self, now):
        if self.done:
            return None
        if self.ping_sent is not None:
            return self.ping_sent + self.timeout
        return self.last_received + self.interval
