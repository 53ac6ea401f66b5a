"""A reconnect storm in virtual time: N clients, one server restart, everyone back?

The lean path for lessons and benchmarks: learner code gets the server's own
``connect`` (no per-attempt bookkeeping; the server's attempt log says it
all), so 10,000 clients through a restart simulate in a couple of seconds.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rtlab.sim.loop import SimLoop
from rtlab.sim.network import Attempt, Latency, SimServer

StayConnected = Callable[
    [Callable[[], Awaitable[Any]], Any, Callable[[float], Awaitable[None]]], Awaitable[None]
]

__all__ = ["Storm", "storm"]


@dataclass
class Storm:
    """What happened in one storm, as the server saw it."""

    clients: int
    seed: int
    restart_at: float
    back_up_at: float
    until: float
    attempts: list[Attempt]
    crashes: list[float]
    events: int
    errors: list[BaseException] = field(default_factory=list)
    # Wall-clock cost of the simulation itself (for benchmarks, never for lessons'
    # printed output): connecting everyone first, then restart -> settled.
    setup_seconds: float = 0.0
    storm_seconds: float = 0.0

    def times(self, outcome: str, since: float | None = None) -> list[float]:
        """Times of attempts with ``outcome`` ("accepted", "refused", "overload")."""
        start = self.restart_at if since is None else since
        return [a.time for a in self.attempts if a.outcome == outcome and a.time >= start]

    def back_times(self) -> dict[str, float]:
        """For each client that reconnected after the restart: when it did."""
        back: dict[str, float] = {}
        for a in self.attempts:
            if a.outcome == "accepted" and a.time >= self.restart_at and a.client not in back:
                back[a.client] = a.time
        return back

    @property
    def all_back_after(self) -> float | None:
        """Seconds from the server being up until the last client was back (None: not all)."""
        back = self.back_times()
        if len(back) < self.clients:
            return None
        return max(back.values()) - self.back_up_at

    @property
    def attempts_after_restart(self) -> int:
        return sum(1 for a in self.attempts if a.time >= self.restart_at)


def storm(
    stay_connected: StayConnected,
    make_backoff: Callable[[random.Random], Any],
    *,
    clients: int = 10_000,
    seed: int = 0,
    downtime: float = 5.0,
    capacity: tuple[int, float] | None = None,
    crash_downtime: float = 5.0,
    latency: Latency | None = None,
    settle: float = 60.0,
) -> Storm:
    """Connect ``clients`` (spread over 5 s), restart the server at t=10 s for
    ``downtime`` s, and run ``settle`` s more. Deterministic for a given seed."""
    loop = SimLoop(seed)
    server = SimServer(loop, latency=latency or Latency(0.02, 0.03), capacity=capacity,
                       crash_downtime=crash_downtime)
    restart_at = 10.0
    until = restart_at + downtime + settle
    state = random.getstate()
    random.seed(seed)  # code that uses the random module directly stays reproducible
    collecting = gc.isenabled()
    gc.disable()  # the loop has no cycles left at close(): nothing for the GC to do
    started = time.perf_counter()
    try:
        for i in range(clients):
            backoff = make_backoff(random.Random(seed * 100_003 + i))
            coro = stay_connected(server.connector(f"client-{i}"), backoff, loop.sleep)
            loop.spawn(coro, f"client-{i}", at=loop.rng.uniform(0, 5.0))  # type: ignore[arg-type]
        loop.call_at(restart_at, server.restart, downtime)
        loop.run(restart_at - 1e-9)
        connected = time.perf_counter()
        loop.run(until)
        errors = [t.error for t in loop.tasks if t.error is not None]
        result = Storm(clients, seed, restart_at, restart_at + downtime, until,
                       server.attempts, server.crashes, loop.events_run, errors,
                       setup_seconds=connected - started,
                       storm_seconds=time.perf_counter() - connected)
    finally:
        loop.close()
        random.setstate(state)
        if collecting:
            gc.enable()
    return result
