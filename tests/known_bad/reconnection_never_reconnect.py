"""Known bad: connects (retrying refusals) but gives up once a connection closes."""

from websockets.exceptions import ConnectionClosed

from solutions.reconnection import Backoff  # noqa: F401

EXPECTED = {"missing-reconnection-logic"}


async def stay_connected(connect, backoff, sleep):
    while True:
        try:
            conn = await connect()
        except OSError:
            await sleep(backoff.next_delay())
            continue
        try:
            async for _ in conn:
                pass
        except ConnectionClosed:
            pass
        return
