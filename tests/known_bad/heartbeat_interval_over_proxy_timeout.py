"""Known bad: a 45 s interval behind proxies that cut after 30 s of silence."""

from solutions.heartbeat import Heartbeat as Reference

EXPECTED = {"websocket-proxy-timeout"}
MESSAGE = "The proxy cut the connection"
INTERVAL, TIMEOUT = 45.0, 10.0


class Heartbeat(Reference):
    def __init__(self, interval=INTERVAL, timeout=TIMEOUT, *, side="client", now=0.0):
        super().__init__(interval, timeout, side=side, now=now)
