"""Known good: the skill's own numbers: base doubling, cap, 0-30 % added jitter."""

import math
import random

from websockets.exceptions import ConnectionClosed


class Backoff:
    def __init__(self, base=0.5, cap=30.0, rng=None):
        self.base, self.cap, self.rng = base, cap, rng or random.Random()
        self.attempt = 0

    def next_delay(self):
        exponent = min(self.attempt, math.ceil(math.log2(self.cap / self.base)))
        delay = min(self.cap, self.base * 2**exponent)
        self.attempt += 1
        return delay + delay * 0.3 * self.rng.random()

    def reset(self):
        self.attempt = 0


async def stay_connected(connect, backoff, sleep):
    while True:
        try:
            conn = await connect()
        except OSError:
            await sleep(backoff.next_delay())
            continue
        backoff.reset()
        try:
            async for _message in conn:
                continue
        except ConnectionClosed as closed:
            _ = closed.rcvd
        await sleep(backoff.next_delay())
