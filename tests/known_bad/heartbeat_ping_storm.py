"""Known bad: a ping every half second, whatever the interval says: 240 frames a minute."""

from solutions.heartbeat import Heartbeat as Reference

EXPECTED = {"missing-heartbeat"}
MESSAGE = "frames per minute"


class Heartbeat(Reference):
    def poll(self, now):
        if now - self.last_sent >= 0.5:
            self.last_sent = now - self.interval  # so the reference pings right now
        return super().poll(now)

    def next_wakeup(self, now):
        return min(super().next_wakeup(now), self.last_sent + 0.5)
