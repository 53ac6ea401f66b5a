"""Reference solution: an application-level heartbeat, sans-I/O.

One correct answer among many: the grader checks behaviour, so pinging on a
fixed schedule, counting missed pongs, or letting only one side ping (as
Socket.IO does) all pass, as long as traffic flows when the connection is
idle, pings are answered, and a dead link is declared dead in time on both
sides without ever condemning a slow but healthy one.

The rule here is the simplest one that keeps every promise: *anything* that
arrives proves the link alive, a ping goes out whenever this side has been
silent for ``interval``, and the connection is dead once nothing at all has
arrived for ``interval + timeout``.
"""

from __future__ import annotations

PING, PONG = "ping", "pong"

# A proxy that cuts after 30 s of silence needs traffic more often than that;
# 20 s leaves room for latency. A slow mobile link's round trip reaches a few
# seconds, so a pong gets 10 s. A dead link is noticed within 30 s.
INTERVAL = 20.0
TIMEOUT = 10.0

Action = tuple[str, str]


class Heartbeat:
    """Liveness of one connection, seen from one side (``"client"`` or ``"server"``)."""

    def __init__(
        self, interval: float = INTERVAL, timeout: float = TIMEOUT, *,
        side: str = "client", now: float = 0.0,
    ) -> None:
        self.interval = interval
        self.timeout = timeout
        self.side = side
        self.last_sent = now
        self.last_received = now
        self.pongs_owed = 0
        self.dead = False

    def on_sent(self, now: float) -> None:
        self.last_sent = now

    def on_received(self, message: str | bytes, now: float) -> list[Action]:
        self.last_received = now  # any traffic proves the path works
        if message == PING:
            return [("send", PONG)]  # the confirmation the other side waits for
        return []

    def poll(self, now: float) -> list[Action]:
        if self.dead:
            return []
        if now - self.last_received >= self.interval + self.timeout:
            self.dead = True
            silent = now - self.last_received
            return [("close", f"no traffic for {silent:.1f} s: the link is dead")]
        if now - self.last_sent >= self.interval:
            self.last_sent = now  # the driver also calls on_sent(); this keeps poll() idempotent
            return [("send", PING)]
        return []

    def next_wakeup(self, now: float) -> float | None:
        if self.dead:
            return None
        return min(self.last_sent + self.interval,
                   self.last_received + self.interval + self.timeout)
