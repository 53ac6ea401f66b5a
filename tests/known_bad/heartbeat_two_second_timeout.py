"""Known bad: sound logic, but a 2 s timeout: a mobile link's 5 s round trip raises false alarms."""

from solutions.heartbeat import Heartbeat as Reference

EXPECTED = {"missing-heartbeat"}
MESSAGE = "On a slow but healthy link"
INTERVAL, TIMEOUT = 20.0, 2.0


class Heartbeat(Reference):
    def __init__(self, interval=INTERVAL, timeout=TIMEOUT, *, side="client", now=0.0):
        super().__init__(interval, timeout, side=side, now=now)
