"""Known bad: backs off after a drop, but retries a refused connect at once."""

from websockets.exceptions import ConnectionClosed

from solutions.reconnection import Backoff  # noqa: F401

EXPECTED = {"websocket-thundering-herd", "reconnect-without-jitter"}


async def stay_connected(connect, backoff, sleep):
    while True:
        try:
            conn = await connect()
        except OSError:
            continue
        backoff.reset()
        try:
            async for _ in conn:
                pass
        except ConnectionClosed:
            pass
        await sleep(backoff.next_delay())
