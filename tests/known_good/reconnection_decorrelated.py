"""Known good: AWS "decorrelated jitter", module-level random, a broad except."""

import random


class Backoff:
    def __init__(self, base=0.5, cap=30.0, rng=None):
        self.base = base
        self.cap = cap
        self.sleep = base

    def next_delay(self):
        self.sleep = min(self.cap, random.uniform(self.base, self.sleep * 3))
        return self.sleep

    def reset(self):
        self.sleep = self.base


async def stay_connected(connect, backoff, sleep):
    while True:
        try:
            connection = await connect()
        except Exception:
            await sleep(backoff.next_delay())
            continue
        backoff.reset()
        try:
            async for _ in connection:
                pass
        except Exception:
            pass
        await sleep(backoff.next_delay())
