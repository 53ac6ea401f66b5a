"""Exercise: a heartbeat that catches half-open ghosts and keeps idle proxies quiet.

A WebSocket can die without either end being told: a NAT forgets its mapping,
a laptop sleeps, Wi-Fi hands over. No FIN, no RST: both ends still say OPEN,
sends "succeed" into a buffer, and the server keeps a ghost in its rooms for
as long as TCP takes to give up (many minutes, or never for a side that only
listens). Meanwhile corporate proxies cut connections that look idle, every
30 s or so. The cure for both is the same: traffic that must be answered.

You write ``Heartbeat``: the liveness logic of *one side* of *one* connection.
It never touches a socket or a clock (sans-I/O): whoever runs it tells it
what happened and when, and does what it says. The same object runs in the
grader's simulation (virtual time, hundreds of seeded faults) and on real
sockets in the notebook. Both ends of a connection run one each, made with
``side="client"`` or ``side="server"`` (use it or ignore it).

The driver around your object does this, for each side of a connection:

- creates ``Heartbeat(side=..., now=...)`` when the connection opens (with
  your ``INTERVAL`` and ``TIMEOUT``, or with values of its own);
- calls ``on_received(message, now)`` for every message that arrives (your
  heartbeat messages and the application's alike) and carries out the
  actions it returns, then calls ``poll(now)``;
- calls ``on_sent(now)`` after every message this side sends (the
  application's, and your own pings and pongs);
- calls ``poll(now)`` at the time ``next_wakeup(now)`` returns, and carries
  out the actions ``poll`` returns.

An action is a tuple: ``("send", PING)``, ``("send", PONG)``, or
``("close", reason)`` to declare the connection dead (the driver closes it,
and the client reconnects).

What your heartbeat must do (the grader checks each under seeded faults):

1. Traffic when idle: a message goes out at least every ``interval`` seconds
   while the application is silent (pings; pongs count too).
2. Confirmation: every ``PING`` that arrives is answered with a ``PONG``
   right away.
3. Detection: if nothing arrives any more (a stalled link, or a peer whose
   program hangs), return ``("close", ...)`` no later than ``interval +
   timeout`` seconds after the last message arrived, on *both* sides.
4. No false alarms: a healthy link whose round trips stay below ``timeout``
   (slow, with latency spikes) is never declared dead.
5. Settings: pick ``INTERVAL`` and ``TIMEOUT`` for a proxy that cuts after
   30 s of silence and a mobile link whose round trip reaches 5 s during
   latency spikes (of 2-15 s). The grader runs your settings on that link: a
   timeout of a second or two raises false alarms there. Keep the overhead
   small: a few messages per minute.

Check your work:  python -m rtlab check heartbeat
Stuck?            python -m rtlab hint heartbeat
Lesson:           notebooks/05-connection-health.ipynb
"""

from __future__ import annotations

PING, PONG = "ping", "pong"

# TODO: choose both, in seconds (see point 5 above). websockets uses 20 s and
# 20 s by default, Socket.IO 25 s and 20 s.
INTERVAL = 20.0
TIMEOUT = 20.0

Action = tuple[str, str]


class Heartbeat:
    """Liveness of one connection, seen from one side (``"client"`` or ``"server"``)."""

    def __init__(
        self, interval: float = INTERVAL, timeout: float = TIMEOUT, *,
        side: str = "client", now: float = 0.0,
    ) -> None:
        self.interval = interval  # keep these two attributes: the grader reads them
        self.timeout = timeout
        self.side = side
        # TODO: remember what you need: when this side last sent something, when
        # something last arrived, whether a pong is owed, whether it is dead...

    def on_sent(self, now: float) -> None:
        """This side just sent a message (any message, pings and pongs included)."""
        # TODO
        raise NotImplementedError("Heartbeat.on_sent")

    def on_received(self, message: str | bytes, now: float) -> list[Action]:
        """A message arrived at ``now``. Return the actions to take at once (or [])."""
        # TODO: anything that arrives proves the link works; a PING wants a PONG.
        raise NotImplementedError("Heartbeat.on_received")

    def poll(self, now: float) -> list[Action]:
        """Time has passed. Return what to do now: a ping to send, a close, or []."""
        # TODO
        raise NotImplementedError("Heartbeat.poll")

    def next_wakeup(self, now: float) -> float | None:
        """The time (absolute, like ``now``) at which ``poll`` must be called next.

        ``None`` means "only when something happens". Return a time after
        ``now``: the earliest moment at which ``poll`` would have work to do.
        """
        # TODO
        raise NotImplementedError("Heartbeat.next_wakeup")
