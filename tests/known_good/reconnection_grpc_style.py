"""Known good: gRPC's connection backoff (x1.6, +/-20 % jitter), a helper that opens."""

import random
from contextlib import suppress

from websockets.exceptions import ConnectionClosed

MULTIPLIER, JITTER = 1.6, 0.2


class Backoff:
    def __init__(self, base=0.5, cap=30.0, rng=None):
        self.base, self.cap, self.rng = base, cap, rng or random.Random()
        self.current = base

    def next_delay(self):
        delay = self.current * (1 + self.rng.uniform(-JITTER, JITTER))
        self.current = min(self.cap, self.current * MULTIPLIER)
        return delay

    def reset(self):
        self.current = self.base


async def _open(connect, backoff, sleep):
    while True:
        try:
            return await connect()
        except OSError:
            await sleep(backoff.next_delay())


async def stay_connected(connect, backoff, sleep):
    while True:
        conn = await _open(connect, backoff, sleep)
        backoff.reset()
        with suppress(ConnectionClosed):
            await conn.wait_closed()  # messages are not needed here: just wait for the end
        await sleep(backoff.next_delay())
