"""A real WebSocket server that lives in the kernel's event loop.

In a notebook, ``server = await LiveServer.start("demo")`` keeps serving while
later cells run. Starting another server with the same name (re-running the
cell) stops the old one first, so no port, task or "address in use" leaks.

Background-task errors are invisible to nbval (their output is attributed to
an earlier cell), so handler exceptions are *collected*: ``server.check()``
raises them, and so does ``await server.stop()``.

Faults on command: ``restart(downtime)`` (clean close 1001, refuse, listen
again on the same port), ``refuse_for(seconds)``, and a ``capacity`` of
handshakes per window beyond which the server falls over (connections cut
without a close frame, refused for ``crash_downtime``), so a herd can be seen
knocking it down. It binds loopback only.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from rtlab.live.registry import forget, raise_collected, register

__all__ = ["LiveServer", "hold_open"]

Handler = Callable[[ServerConnection], Awaitable[None]]
LOOPBACK = "127.0.0.1"


async def hold_open(conn: ServerConnection) -> None:
    """Default handler: greet, then read (and drop) messages until the client leaves."""
    await conn.send("welcome")
    async for _ in conn:
        pass


class LiveServer:
    """A named ``websockets`` server on 127.0.0.1 with faults on command."""

    def __init__(
        self,
        name: str,
        handler: Handler,
        *,
        capacity: tuple[int, float] | None,
        crash_downtime: float,
        max_connections: int | None,
        **serve_options: Any,
    ) -> None:
        self.name = name
        self.handler = handler
        self.capacity = capacity
        self.crash_downtime = crash_downtime
        self.max_connections = max_connections
        # A caller's own handshake check (origin, token...), asked after ours: a
        # Response it returns is sent instead of upgrading. Synchronous only.
        self.process_request: Callable[[ServerConnection, Request], Response | None] | None = (
            serve_options.pop("process_request", None))
        self.serve_options = serve_options
        self.port = 0
        self.t0 = time.monotonic()
        self.arrivals: list[float] = []  # seconds since start, per accepted handshake
        self.rejected: list[float] = []  # handshakes turned away (max_connections, process_request)
        self.crashes: list[float] = []
        self.errors: list[BaseException] = []
        self.connections: set[ServerConnection] = set()
        self._server: Server | None = None
        self._recent: deque[float] = deque()
        self._pending: set[asyncio.Task[None]] = set()
        self._stopped = False

    # -- life cycle ---------------------------------------------------------
    @classmethod
    async def start(
        cls,
        name: str = "server",
        handler: Handler = hold_open,
        *,
        capacity: tuple[int, float] | None = None,
        crash_downtime: float = 1.0,
        max_connections: int | None = None,
        **serve_options: Any,
    ) -> LiveServer:
        """Start serving on ``127.0.0.1`` (a free port), replacing any server of that name.

        ``serve_options`` go to ``websockets.asyncio.server.serve`` (e.g.
        ``ping_interval``, ``max_size``, ``origins``); ``host`` is always loopback.
        A ``process_request(conn, request)`` function runs after the server's own
        admission checks; the response it returns (e.g. 401) refuses the handshake.
        """
        serve_options.pop("host", None)
        server = cls(
            name, handler, capacity=capacity, crash_downtime=crash_downtime,
            max_connections=max_connections, **serve_options,
        )
        await register(name, server)
        await server._listen()
        return server

    async def _listen(self) -> None:
        # asyncio's default backlog (100) makes a few hundred clients connecting at
        # once wait for 1 s TCP SYN retries; a demo herd should meet the server itself.
        options = {"backlog": 1024, **self.serve_options}
        self._server = await serve(
            self._handle, LOOPBACK, self.port, process_request=self._admit, **options
        )
        if self.port == 0:
            self.port = self._server.sockets[0].getsockname()[1]

    async def _unlisten(self, close_connections: bool) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        if close_connections:
            server.close(close_connections=True)  # 1001 going away, like a deploy
        else:
            server.close(close_connections=False)
            for conn in list(self.connections):
                conn.transport.abort()  # no close frame: the process "died"
        await server.wait_closed()

    async def stop(self) -> None:
        """Stop serving; raise any error a handler hit while running."""
        self._stopped = True
        forget(self.name, self)
        for task in list(self._pending):
            task.cancel()
        await self._unlisten(close_connections=True)
        self.check()

    # -- faults -------------------------------------------------------------
    async def restart(self, downtime: float = 1.0) -> None:
        """Close every connection (1001), refuse connects for ``downtime`` s, listen again."""
        await self._unlisten(close_connections=True)
        self._later(downtime)

    async def refuse_for(self, seconds: float) -> None:
        """Stop listening (connects are refused) without touching open connections.

        It returns once every open connection's handler has ended (websockets'
        ``wait_closed``): to imitate a crash, abort the connections first.
        """
        server, self._server = self._server, None
        if server is not None:
            server.close(close_connections=False)
            await server.wait_closed()
        self._later(seconds)

    def _later(self, seconds: float) -> None:
        async def come_back() -> None:
            await asyncio.sleep(seconds)
            if not self._stopped and self._server is None:
                await self._listen()

        task = asyncio.get_running_loop().create_task(come_back())
        self._pending.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]

    def _crash(self) -> None:
        self.crashes.append(self.elapsed())
        server, self._server = self._server, None
        if server is not None:
            server.close(close_connections=False)
        for conn in list(self.connections):
            conn.transport.abort()
        self._later(self.crash_downtime)

    # -- per connection -----------------------------------------------------
    def _admit(self, conn: ServerConnection, request: Request) -> Response | None:
        now = self.elapsed()
        if self._server is None:  # mid-crash: handshakes already in flight die too
            conn.transport.abort()
            return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "down\n")
        if self.max_connections is not None and len(self.connections) >= self.max_connections:
            self.rejected.append(now)
            return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "too many connections\n")
        if self.capacity is not None:
            limit, window = self.capacity
            self._recent.append(now)
            while self._recent and self._recent[0] <= now - window:
                self._recent.popleft()
            if len(self._recent) > limit:
                self._crash()
                conn.transport.abort()
                return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "overloaded\n")
        if self.process_request is not None:
            response = self.process_request(conn, request)
            if response is not None:
                self.rejected.append(now)
                return response
        self.arrivals.append(now)
        return None

    async def _handle(self, conn: ServerConnection) -> None:
        self.connections.add(conn)
        try:
            await self.handler(conn)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # ConnectionClosed in a handler is ordinary life for a server; other
            # errors are bugs to report at the next check() or stop().
            if not isinstance(error, ConnectionClosed):
                self.errors.append(error)
        finally:
            self.connections.discard(conn)

    # -- observing ----------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds since the server was started."""
        return time.monotonic() - self.t0

    @property
    def url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}"

    @property
    def listening(self) -> bool:
        return self._server is not None

    def check(self) -> None:
        """Raise the errors handlers hit so far (and forget them)."""
        errors, self.errors = self.errors, []
        raise_collected(errors, f"server {self.name!r}")

    def __repr__(self) -> str:
        state = "listening" if self.listening else "not listening"
        count = len(self.connections)
        return f"<LiveServer {self.name!r} on {self.url}, {state}, {count} connections>"
