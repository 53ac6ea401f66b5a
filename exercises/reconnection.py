"""Exercise: reconnection with exponential backoff and jitter.

Connections drop: deploys restart servers, phones change networks, proxies cut
idle links. A client that comes back is table stakes; a *thousand* clients
that come back at the same instant knock the freshly restarted server over
again (the thundering herd). You will write both halves of the fix:

1. ``Backoff``: how long to wait before the next attempt. The wait grows with
   every failure, never exceeds ``cap``, is *random* so clients spread out,
   and starts small again after a success (``reset``).
2. ``stay_connected``: a client loop that never gives up. It connects, reads
   until the connection ends, waits ``backoff.next_delay()`` and tries again.

Both run unchanged in the notebook's live demo (real sockets) and in the
grader's simulation (virtual time, thousands of clients, seeded faults),
because they only use what they are given: ``connect``, ``sleep`` and
``self.rng``.

Check your work:  python -m rtlab check reconnection
Stuck?            python -m rtlab hint reconnection
Lesson:           notebooks/04-reconnection.ipynb
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any


class Backoff:
    """Delays between reconnect attempts: exponential, capped, jittered."""

    def __init__(
        self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
    ) -> None:
        self.base = base  # seconds: roughly the first delay
        self.cap = cap  # seconds: no single delay may be (much) longer than this
        self.rng = rng or random.Random()  # use this for randomness: it is seeded
        # TODO: keep track of how many attempts have failed in a row.

    def next_delay(self) -> float:
        """Return how many seconds to wait before the next attempt.

        Called once per failed attempt (a refused connect or a dropped
        connection). Each call may return a longer delay than the last, up to
        about ``cap``, with randomness so that clients do not move in lockstep.
        """
        # TODO
        raise NotImplementedError("Backoff.next_delay")

    def reset(self) -> None:
        """Forget past failures: called once a connection has succeeded."""
        # TODO
        raise NotImplementedError("Backoff.reset")


async def stay_connected(
    connect: Callable[[], Awaitable[Any]],
    backoff: Backoff,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    """Keep a connection to the server open, forever.

    - ``await connect()`` returns a connection, or raises ``OSError`` (for
      example ``ConnectionRefusedError`` while the server restarts).
    - A connection can be read with ``async for message in conn: ...``; the
      loop ends, or raises ``websockets.exceptions.ConnectionClosed``, when the
      connection goes away. Here you may ignore the messages themselves.
    - ``await sleep(seconds)`` waits. Use it, not ``asyncio.sleep``: the
      grader runs your code in virtual time.

    This function never returns: it is cancelled when the client shuts down.
    """
    # TODO
    raise NotImplementedError("stay_connected")
