"""Live servers and clients for the Jupyter kernel, on real loopback sockets.

The engine every module's live code stands on: a WebSocket server that survives
across cells (:class:`LiveServer`), the fault-injecting proxy (:class:`FaultProxy`),
the registry that stops everything (:func:`stop_all`) and a headless browser
(:mod:`rtlab.live.browser`). Module-specific servers and clients live in
``rtlab.topics.<module>.live``.
"""

from rtlab.live.proxy import FaultProxy
from rtlab.live.registry import running, stop_all
from rtlab.live.server import LiveServer, hold_open

__all__ = ["FaultProxy", "LiveServer", "hold_open", "running", "stop_all"]
