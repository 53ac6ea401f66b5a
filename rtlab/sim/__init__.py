"""Deterministic, seeded, virtual-time simulation of a WebSocket network."""

from rtlab.sim.loop import BlockedLoopError, ForeignAwaitError, SimFuture, SimLoop, SimTask
from rtlab.sim.network import Attempt, Latency, SimConnection, SimServer

__all__ = [
    "Attempt",
    "BlockedLoopError",
    "ForeignAwaitError",
    "Latency",
    "SimConnection",
    "SimFuture",
    "SimLoop",
    "SimServer",
    "SimTask",
]
