"""The reconnection module's figures, measured on this machine with the reference solution.

- ``bench_storm``: the simulation time of a 10,000-client reconnect storm
  (``sim.storm``, a server restart with 5 s down). Budget: 2 s on one core,
  so that a lesson can afford it and a grader can afford hundreds of small runs.
- ``bench_live``: 300 real clients (``live.Fleet``) on loopback through a
  0.5 s restart of a live server: how long until all are connected, and back.

``make bench`` runs both (``python -m rtlab.bench --only storm`` or ``--only live``:
course.toml lists them).
"""

from __future__ import annotations

import asyncio
import time

from rtlab import course
from rtlab.learner import load_module
from rtlab.live import LiveServer
from rtlab.topics.reconnection.interface import ReconnectionCode, learner_code
from rtlab.topics.reconnection.live import Fleet
from rtlab.topics.reconnection.sim import Storm, storm

STORM_BUDGET_S, STORM_CLIENTS = 2.0, 10_000
LIVE_CLIENTS = 300


def _reference(name: str) -> ReconnectionCode:
    return learner_code(load_module(course.root() / "solutions" / "reconnection.py", name))


def bench_storm() -> None:
    """Print the wall time of a 10,000-client storm in virtual time (best of 3)."""
    solution = _reference("bench_solution")
    best: Storm | None = None
    for _ in range(3):
        result = storm(solution.stay_connected, lambda rng: solution.Backoff(rng=rng),
                       clients=STORM_CLIENTS, seed=1, downtime=5.0)
        if best is None or result.storm_seconds < best.storm_seconds:
            best = result
    assert best is not None
    within = "within budget" if best.storm_seconds < STORM_BUDGET_S else "OVER BUDGET"
    print(f"Simulated reconnect storm (reference policy, best of 3): {STORM_CLIENTS:,} clients, "
          f"{best.events:,} events, {len(best.attempts):,} connection attempts")
    print(f"  connecting everyone first: {best.setup_seconds:.2f} s; the storm (restart, 5 s "
          f"down, until settled): {best.storm_seconds:.2f} s   [budget < {STORM_BUDGET_S:g} s: "
          f"{within}]")
    print(f"  everyone back {best.all_back_after:.1f} s (virtual) after the server was up")


async def _live_restart(clients: int) -> tuple[float, float, int]:
    solution = _reference("bench_live")
    server = await LiveServer.start("bench")
    started = time.perf_counter()
    fleet = await Fleet.start(
        server.url, solution.stay_connected,
        lambda rng: solution.Backoff(base=0.05, cap=1.0, rng=rng),
        count=clients, ramp=0.5, name="bench",
    )
    try:
        await fleet.wait_connected(timeout=30)
        connected = time.perf_counter() - started
        restart = time.perf_counter()
        await server.restart(downtime=0.5)
        await fleet.wait_connected(timeout=30)
        return connected, time.perf_counter() - restart, fleet.connected
    finally:
        await fleet.stop()
        await server.stop()


def bench_live(clients: int = LIVE_CLIENTS) -> None:
    """Print how fast real clients connect, and come back after a 0.5 s restart."""
    connected, back, count = asyncio.run(_live_restart(clients))
    print(f"Live, real loopback sockets: {clients} clients connected in {connected:.2f} s; "
          f"after a 0.5 s restart {count} were back within {back:.2f} s")
