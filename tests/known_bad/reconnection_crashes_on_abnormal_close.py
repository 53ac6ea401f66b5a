"""Known bad: handles a clean close, but an abrupt drop (1006) escapes and kills it."""

from solutions.reconnection import Backoff  # noqa: F401

EXPECTED = {"missing-reconnection-logic"}


async def stay_connected(connect, backoff, sleep):
    while True:
        try:
            conn = await connect()
        except OSError:
            await sleep(backoff.next_delay())
            continue
        backoff.reset()
        async for _ in conn:  # raises ConnectionClosedError on 1006: not caught
            pass
        await sleep(backoff.next_delay())
