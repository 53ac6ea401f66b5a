"""Known bad: sleeps with asyncio.sleep instead of the sleep it was given."""

import asyncio

from solutions.reconnection import Backoff  # noqa: F401
from solutions.reconnection import stay_connected as reference

EXPECTED = {"missing-reconnection-logic", "reconnect-without-jitter", "websocket-thundering-herd"}
MESSAGE = "Await only the `sleep` and `connect` functions you were given"


async def stay_connected(connect, backoff, sleep):
    await reference(connect, backoff, asyncio.sleep)
