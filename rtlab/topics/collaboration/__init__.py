"""Collaboration (module 09): Yjs sync over real WebSockets, with pycrdt.

- :mod:`rtlab.wire.yjs`: the y-protocols wire format, built and parsed strictly;
- :mod:`rtlab.topics.collaboration.interface`: the exercise's ``Room`` and ``Client``
  as types;
- :mod:`rtlab.topics.collaboration.sim`: a room and editors in virtual time, the
  graded worlds;
- :class:`SyncServer`: a y-websocket compatible server in the kernel, running any
  room logic (the exercise's ``Room``), with persistence and bounded fan-out;
- :class:`SyncClient`: a Python client (pycrdt ``Doc``) that reconnects, can have its
  link cut for a demo, keeps editing offline and shares awareness;
- :mod:`rtlab.topics.collaboration.traces`: real editing traces, typed through the sync logic;
- :mod:`rtlab.topics.collaboration.node`: the real JavaScript Yjs client (Node.js, ``js/``), driven
  from asyncio;
- :mod:`rtlab.topics.collaboration.bench`: ``bench_collab()``, a trace relayed through this server,
  pycrdt-websocket's and the Node.js reference server, side by side.
"""

from rtlab.topics.collaboration.client import SyncClient
from rtlab.topics.collaboration.server import SyncServer

__all__ = ["SyncClient", "SyncServer"]
