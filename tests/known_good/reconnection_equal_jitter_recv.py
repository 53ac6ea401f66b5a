"""Known good: equal jitter, a recv() loop, state kept as a list of past delays."""

import random

from websockets.exceptions import ConnectionClosed


class Backoff:
    def __init__(self, base=0.5, cap=30.0, rng=None):
        self.base, self.cap = base, cap
        self.rng = rng or random.Random()
        self.history = []

    def next_delay(self):
        ceiling = min(self.cap, self.base * (2 ** len(self.history)))
        delay = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        self.history.append(delay)
        return delay

    def reset(self):
        self.history.clear()


async def stay_connected(connect, backoff, sleep):
    while True:
        conn = None
        try:
            conn = await connect()
            backoff.reset()
            while True:
                await conn.recv()
        except (OSError, ConnectionClosed):
            pass
        await sleep(backoff.next_delay())
