"""Many real clients in the kernel, each running a learner's reconnect loop.

``Fleet.start(...)`` launches ``count`` tasks that each run
``stay_connected(connect, backoff, asyncio.sleep)`` against a live server:
the very function the grader runs in virtual time, now on real sockets.
Every attempt and its outcome is recorded for plots; errors the clients raise
are collected and raised by ``check()`` or ``stop()``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake

from rtlab.live.registry import forget, raise_collected, register
from rtlab.topics.reconnection.interface import Backoff, MakeBackoff, StayConnected

__all__ = ["Attempt", "Fleet", "live_connector"]

BLOCKED_LOOP_S = 2.0  # generous: a loaded CI machine must not trip it

@dataclass(frozen=True)
class Attempt:
    time: float  # seconds since the fleet started, when the attempt began
    client: int
    outcome: str  # "open", "refused"


def live_connector(
    url: str, *, open_timeout: float = 5.0
) -> Callable[[], Awaitable[ClientConnection]]:
    """A zero-argument ``connect`` for learner code, backed by the real websockets client.

    Failures surface as ``OSError`` (refused, reset, timed out, or an HTTP
    error such as 503) so learner code catches one family, as it does in the
    simulation. ``proxy=None``: loopback traffic must never go to a proxy.
    """

    async def connect_once() -> ClientConnection:
        try:
            conn = await connect(
                url, open_timeout=open_timeout, proxy=None, ping_interval=None, close_timeout=1
            )
        except InvalidHandshake as error:
            raise ConnectionRefusedError(f"handshake failed: {error}") from error
        return conn

    return connect_once


class Fleet:
    """``count`` reconnecting clients against ``url``, started over ``ramp`` seconds."""

    def __init__(self, name: str, count: int) -> None:
        self.name = name
        self.count = count
        self.t0 = time.monotonic()
        self.attempts: list[Attempt] = []
        self.errors: list[BaseException] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.connections: dict[int, ClientConnection] = {}
        self.worst_lag = 0.0  # longest the event loop was blocked while the fleet ran (s)

    @classmethod
    async def start(
        cls,
        url: str,
        stay_connected: StayConnected,
        make_backoff: MakeBackoff,
        *,
        count: int = 100,
        ramp: float = 1.0,
        seed: int = 0,
        name: str = "fleet",
    ) -> Fleet:
        """Launch the clients; re-running replaces the fleet of the same ``name``."""
        fleet = cls(name, count)
        await register(name, fleet)
        start_rng = random.Random(seed)
        for i in range(count):
            backoff = make_backoff(random.Random(seed * 100_003 + i))
            task = asyncio.get_running_loop().create_task(
                fleet._client(i, url, stay_connected, backoff, start_rng.uniform(0, ramp))
            )
            task.add_done_callback(fleet._done)
            fleet.tasks.append(task)
        watchdog = asyncio.get_running_loop().create_task(fleet._watch_loop())
        fleet.tasks.append(watchdog)
        return fleet

    async def _watch_loop(self, every: float = 0.05) -> None:
        """Notice learner code that blocks the loop (time.sleep, busy loops)."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(every)
            lag = time.monotonic() - before - every
            self.worst_lag = max(self.worst_lag, lag)
            if lag > BLOCKED_LOOP_S:
                self.errors.append(RuntimeError(
                    f"the event loop was blocked for {lag:.1f} s while the fleet ran: every "
                    "server and client in this kernel froze. Look for time.sleep() or a loop "
                    "that never awaits in your code; use `await sleep(...)`."
                ))

    async def _client(
        self, i: int, url: str, stay_connected: StayConnected, backoff: Backoff, delay: float
    ) -> None:
        await asyncio.sleep(delay)
        inner = live_connector(url)

        async def connect_and_track() -> ClientConnection:
            # An attempt is dated when the client knocks, not when the handshake ends:
            # under load a handshake can take a few hundred ms, which would smear a
            # herd that arrived together across the arrival histogram.
            started = self.elapsed()
            try:
                conn = await inner()
            except OSError:
                self.attempts.append(Attempt(started, i, "refused"))
                raise
            self.attempts.append(Attempt(started, i, "open"))
            self.connections[i] = conn
            return conn

        await stay_connected(connect_and_track, backoff, asyncio.sleep)

    def _done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]

    # -- observing ----------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    @property
    def connected(self) -> int:
        """Clients whose latest connection is open right now."""
        return sum(1 for conn in self.connections.values() if conn.state.name == "OPEN")

    def times(self, outcome: str, since: float = 0.0) -> list[float]:
        """Times (s since start) of attempts with ``outcome``, from ``since`` on."""
        return [a.time for a in self.attempts if a.outcome == outcome and a.time >= since]

    async def wait_connected(self, at_least: int | None = None, timeout: float = 10.0) -> bool:
        """Wait (without blocking the loop) until ``at_least`` clients are connected."""
        target = self.count if at_least is None else at_least
        deadline = time.monotonic() + timeout
        while self.connected < target and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.connected >= target

    def check(self) -> None:
        """Raise the first error a client's code raised (learner code must not raise)."""
        errors, self.errors = self.errors, []
        raise_collected(errors, f"fleet {self.name!r}")

    async def stop(self) -> None:
        """Cancel every client and close its connection; then raise collected errors."""
        forget(self.name, self)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(
            *(conn.close() for conn in self.connections.values()), return_exceptions=True
        )
        self.check()

    def __repr__(self) -> str:
        return f"<Fleet {self.name!r}: {self.count} clients, {self.connected} connected>"
