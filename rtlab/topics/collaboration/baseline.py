"""pycrdt-websocket's own server in the kernel, to compare with the course's :class:`SyncServer`.

``server = await PycrdtWebsocketServer.start("baseline")`` serves
``ws://127.0.0.1:PORT/<room>`` with pycrdt-websocket's ``WebsocketServer`` and
``YRoom``, unchanged, on a :class:`rtlab.live.LiveServer`. Two things make it
fit the kernel:

- its ``serve()`` wants a channel with ``.path``, ``send``, ``recv`` and async
  iteration, while websockets' ``ServerConnection`` has ``request.path`` and
  raises ``ConnectionClosed`` at the end: the benchmark's
  :class:`rtlab.topics.collaboration.bench.WebsocketsChannel` adapts;
- it is an anyio server whose task group cannot be entered in one notebook cell
  and left in another, so it runs as a task (``start()``), and :meth:`stop` ends
  it. Its logger is silenced (a notebook must not print warnings to stderr);
  its exceptions are counted in :attr:`errors`.

What it does out of the box (pycrdt-websocket 0.16.5, measured on loopback): an
empty room is deleted (``auto_clean_rooms=True``, the default), so a later client
finds an empty document; ``YRoom`` never removes a dropped client's awareness states
(the JavaScript server does), so its peers show a ghost until their 30 s awareness
timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pycrdt.websocket import WebsocketServer
from websockets.asyncio.server import ServerConnection

from rtlab.live.registry import forget, register
from rtlab.live.server import LiveServer
from rtlab.topics.collaboration.bench import WebsocketsChannel

__all__ = ["PycrdtWebsocketServer"]


class PycrdtWebsocketServer:
    """A named pycrdt-websocket server on 127.0.0.1, stoppable from any cell."""

    def __init__(self, name: str, auto_clean_rooms: bool) -> None:
        self.name = name
        self.log = logging.getLogger(f"rtlab.topics.collaboration.baseline.{name}")
        self.log.addHandler(logging.NullHandler())
        self.log.propagate = False  # no stderr output in notebooks
        self.errors: list[BaseException] = []
        self.server = WebsocketServer(
            auto_clean_rooms=auto_clean_rooms, log=self.log,
            exception_handler=self._keep,
        )
        self._task: asyncio.Task[Any] | None = None
        self._live: LiveServer | None = None

    def _keep(self, exception: Exception, log: logging.Logger) -> bool:
        self.errors.append(exception)
        return True  # handled: the server keeps going, as it would in production

    @classmethod
    async def start(
        cls, name: str = "pycrdt-websocket", *, auto_clean_rooms: bool = True
    ) -> PycrdtWebsocketServer:
        """Serve on 127.0.0.1 (a free port); re-running replaces the server of that name."""
        baseline = cls(name, auto_clean_rooms)
        await register(name, baseline)
        baseline._task = asyncio.get_running_loop().create_task(baseline.server.start())
        await baseline.server.started.wait()
        baseline._live = await LiveServer.start(name, baseline._serve)
        return baseline

    async def _serve(self, conn: ServerConnection) -> None:
        await self.server.serve(WebsocketsChannel(conn))

    @property
    def url(self) -> str:
        assert self._live is not None, "server is stopped"
        return self._live.url

    def room_url(self, room: str) -> str:
        return f"{self.url}/{room}"

    async def stop(self) -> None:
        forget(self.name, self)
        live, self._live = self._live, None
        if live is not None:
            await live.stop()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.stop(), 2.0)
            if not self._task.done():
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def __repr__(self) -> str:
        rooms = len(self.server.rooms)
        return f"<PycrdtWebsocketServer {self.name!r}: {rooms} rooms>"
