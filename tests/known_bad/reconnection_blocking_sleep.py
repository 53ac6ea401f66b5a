"""Known bad: blocks the event loop with time.sleep."""

import time

from solutions.reconnection import Backoff  # noqa: F401
from solutions.reconnection import stay_connected as reference

EXPECTED = {"missing-reconnection-logic", "reconnect-without-jitter", "websocket-thundering-herd"}
MESSAGE = "time.sleep"


async def stay_connected(connect, backoff, sleep):
    async def blocking_sleep(seconds):
        time.sleep(seconds)

    await reference(connect, backoff, blocking_sleep)
