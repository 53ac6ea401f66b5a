"""Known good: Socket.IO's division of labour, as two small classes. The server pings
every interval and wants each pong within timeout; the client never pings, answers,
and closes when no ping has come for interval + timeout. `Heartbeat` is a factory."""

PING, PONG = "ping", "pong"
INTERVAL, TIMEOUT = 25.0, 20.0  # Socket.IO's pingInterval and pingTimeout


class ServerBeat:
    def __init__(self, interval, timeout, now):
        self.interval, self.timeout = interval, timeout
        self.next_ping, self.deadline = now + interval, None

    def on_sent(self, now):
        pass

    def on_received(self, message, now):
        if message == PONG:
            self.deadline = None
        return []

    def poll(self, now):
        if self.deadline is not None and now >= self.deadline:
            self.next_ping = self.deadline = float("inf")
            return [("close", "pong timeout")]
        if now >= self.next_ping:
            self.next_ping = now + self.interval
            if self.deadline is None:
                self.deadline = now + self.timeout
            return [("send", PING)]
        return []

    def next_wakeup(self, now):
        wake = min(self.next_ping, self.deadline or float("inf"))
        return None if wake == float("inf") else wake


class ClientBeat:
    def __init__(self, interval, timeout, now):
        self.limit = interval + timeout
        self.last_ping, self.closed = now, False

    def on_sent(self, now):
        pass

    def on_received(self, message, now):
        if message == PING:
            self.last_ping = now
            return [("send", PONG)]
        return []

    def poll(self, now):
        if not self.closed and now - self.last_ping >= self.limit:
            self.closed = True
            return [("close", "ping timeout")]
        return []

    def next_wakeup(self, now):
        return None if self.closed else self.last_ping + self.limit


def Heartbeat(interval=INTERVAL, timeout=TIMEOUT, *, side="client", now=0.0):
    beat = (ServerBeat if side == "server" else ClientBeat)(interval, timeout, now)
    beat.interval, beat.timeout = interval, timeout
    return beat
