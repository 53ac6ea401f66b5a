"""Live servers and clients for the Jupyter kernel, on real loopback sockets."""

from rtlab.live.fleet import Attempt, Fleet, live_connector
from rtlab.live.proxy import FaultProxy
from rtlab.live.registry import running, stop_all
from rtlab.live.server import LiveServer, hold_open

__all__ = [
    "Attempt",
    "FaultProxy",
    "Fleet",
    "LiveServer",
    "hold_open",
    "live_connector",
    "running",
    "stop_all",
]
