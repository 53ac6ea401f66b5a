"""Known bad: a 100 ms timeout on links whose round trip is longer than that (flapping)."""

from solutions.heartbeat import Heartbeat as Reference

EXPECTED = {"missing-heartbeat"}
MESSAGE = "declared the connection dead"
INTERVAL, TIMEOUT = 20.0, 0.1


class Heartbeat(Reference):
    def __init__(self, interval=INTERVAL, timeout=TIMEOUT, *, side="client", now=0.0):
        super().__init__(interval, timeout, side=side, now=now)
