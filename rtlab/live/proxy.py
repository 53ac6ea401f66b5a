"""A fault-injecting TCP proxy for the kernel: latency, half-open stalls, idle cuts.

The notebook puts it between real clients and a real server, both in the kernel::

    server = await LiveServer.start("app")
    proxy = await FaultProxy.start("net", server.port)
    ws = await connect(proxy.url, proxy=None)      # through the proxy
    tunnel = proxy.tunnels[-1]                      # this connection's path
    tunnel.stall()                                  # half-open: nothing passes, nobody is told
    ...
    await proxy.stop()                              # or: await rtlab.live.stop_all()

It binds 127.0.0.1 only, forwards raw TCP (so WebSocket frames, pings and close
frames pass untouched) and registers itself by name: starting another proxy of
the same name (re-running a cell) stops the old one, and ``stop_all()`` stops it.

Theory of operation
-------------------
Each accepted connection gets a :class:`Tunnel`: the client's socket, a socket
to the server, and two directions, ``"up"`` (client to server) and ``"down"``
(server to client). Bytes read from one side wait in the direction's FIFO until
their due time (``latency`` seconds after they were read; later bytes never
overtake earlier ones, as with TCP) and are then written to the other side. An
EOF (FIN) travels through the same FIFO, so a half-close is forwarded in order.

Faults, per tunnel, on command:

``stall(direction)``
    A half-open link. The proxy stops *reading* from the sender of that
    direction and holds what it had read but not yet delivered. Nothing is
    closed or reset: the receiver's reads stay pending (no data, no EOF, no
    ``ConnectionResetError``), and the sender's writes keep "succeeding" into
    its kernel's send buffer, exactly as on a real path where nothing is
    acknowledged any more. Once the buffers are full, ``drain()`` (and
    websockets' ``send()`` above its write limit) waits; nothing ever fails.
    The proxy's own sockets use small buffers (``buffer_size``), so the
    "network" holds only a few KiB and the backlog piles up in the sender,
    where it piles up in real life. A stalled direction carries nothing at all:
    no data, no FIN and no RST, not even those of a later ``cut()``.
    ``resume(direction)`` delivers what was held and carries on.
``latency``
    Seconds added to each direction; change it at any time (``tunnel.latency``
    or ``proxy.set_latency``) for a latency spike.
``idle_timeout``
    A corporate proxy: a tunnel through which no byte passed for that many
    seconds is cut. ``on_idle="close"`` closes both sockets (each end reads
    EOF, which websockets reports as 1006); ``on_idle="forget"`` behaves like a
    NAT or firewall that silently drops its mapping: the tunnel stalls in both
    directions for good, and the connection becomes a half-open ghost.
``cut(reset=False)``
    Ends the connection now: a FIN to each end, or a RST with ``reset=True``.

What counts as traffic for the idle timer is what the proxy reads, from either
side; a stalled direction is not read, so it does not count.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections import deque
from typing import Any, Literal

from rtlab.live.registry import forget, raise_collected, register

__all__ = ["FaultProxy", "Tunnel", "unsent_bytes"]

LOOPBACK = "127.0.0.1"
Direction = Literal["up", "down", "both"]
DIRECTIONS: dict[str, tuple[str, ...]] = {"up": ("up",), "down": ("down",), "both": ("up", "down")}
SOURCE = {"up": "client", "down": "server"}  # the side each direction reads from
TARGET = {"up": "server", "down": "client"}  # ... and writes to
INTO = {"client": "down", "server": "up"}  # the direction that delivers to a side
FROM = {"client": "up", "server": "down"}  # the direction that reads from a side
HELD_HIGH, HELD_LOW = 256 * 1024, 64 * 1024  # bytes held per direction before reading pauses
_EOF = b""  # queued marker: forward a FIN
_GONE = None  # queued marker: the source vanished (its socket was closed or reset)


def unsent_bytes(transport: asyncio.BaseTransport | None) -> int:
    """Bytes written to ``transport`` that the peer has not acknowledged yet.

    The user-space write buffer plus, on Linux, the kernel's send queue
    (``SIOCOUTQ``): what a server holds in memory for a client that stopped
    reading, or that sits behind a half-open link.
    """
    if transport is None or transport.is_closing():
        return 0
    total = 0
    if isinstance(transport, asyncio.WriteTransport):
        total += transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if sock is not None:
        total += _kernel_send_queue(sock.fileno())
    return total


def _kernel_send_queue(fd: int) -> int:
    """The kernel's unsent bytes of a socket where the OS tells (Linux: SIOCOUTQ), else 0.

    fcntl and termios are POSIX only: imported here, so that importing the course
    on Windows fails nowhere (the course itself supports Linux, macOS and WSL).
    """
    try:
        import fcntl
        import termios
    except ImportError:
        return 0
    if not hasattr(termios, "TIOCOUTQ"):
        return 0
    try:
        raw = fcntl.ioctl(fd, termios.TIOCOUTQ, struct.pack("i", 0))
    except OSError:
        return 0
    unsent: int = struct.unpack("i", raw)[0]
    return unsent


class _Side(asyncio.Protocol):
    """One of a tunnel's two sockets; hands everything to the tunnel."""

    def __init__(self, tunnel: Tunnel | None, side: str, proxy: FaultProxy) -> None:
        self.tunnel = tunnel
        self.side = side
        self.proxy = proxy

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.tunnel is None:  # an accepted client: a new tunnel starts here
            self.tunnel = self.proxy._accepted(transport)  # type: ignore[arg-type]
        else:
            self.tunnel._attach(self.side, transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        assert self.tunnel is not None
        self.proxy._guard(self.tunnel._received, self.side, data)

    def eof_received(self) -> bool:
        assert self.tunnel is not None
        self.proxy._guard(self.tunnel._ended, self.side)
        return True  # keep the socket: the other direction may still carry data

    def connection_lost(self, exc: Exception | None) -> None:
        if self.tunnel is not None:
            self.proxy._guard(self.tunnel._lost, self.side, exc)

    def pause_writing(self) -> None:
        assert self.tunnel is not None
        self.tunnel._pause(SOURCE[INTO[self.side]], "backpressure")

    def resume_writing(self) -> None:
        assert self.tunnel is not None
        self.tunnel._resume(SOURCE[INTO[self.side]], "backpressure")


class Tunnel:
    """One proxied connection: its two sockets, its faults and its traffic."""

    def __init__(self, proxy: FaultProxy, number: int, client: asyncio.Transport) -> None:
        self.proxy = proxy
        self.number = number
        self.peer = client.get_extra_info("peername")
        self.opened_at = proxy.elapsed()
        self.closed_at: float | None = None
        self.close_reason: str | None = None
        self.latency = proxy.latency
        self._idle_timeout = proxy.idle_timeout
        self.on_idle = proxy.on_idle
        self.bytes: dict[str, int] = {"up": 0, "down": 0}  # delivered, per direction
        self.stalled: set[str] = set()
        self.stalled_at: float | None = None
        self._loop = asyncio.get_running_loop()
        self._transports: dict[str, asyncio.Transport | None] = {"client": client, "server": None}
        self._gone: set[str] = set()  # sides whose socket has closed
        self._finished: set[str] = set()  # directions whose FIN was forwarded
        self._paused: dict[str, set[str]] = {"client": set(), "server": set()}
        self._queue: dict[str, deque[tuple[float, bytes | None]]] = {"up": deque(), "down": deque()}
        self._held: dict[str, int] = {"up": 0, "down": 0}
        self._due: dict[str, float] = {"up": 0.0, "down": 0.0}
        self._timer: dict[str, asyncio.TimerHandle | None] = {"up": None, "down": None}
        self._last_activity = self._loop.time()
        self._idle_handle: asyncio.TimerHandle | None = None
        self._abandoned: list[asyncio.Transport] = []
        self._pause("client", "connecting")  # nothing to forward to yet

    # -- state ----------------------------------------------------------------
    @property
    def state(self) -> str:
        """``"connecting"``, ``"open"`` or ``"closed"``."""
        if self.closed_at is not None:
            return "closed"
        return "open" if self._transports["server"] is not None else "connecting"

    @property
    def held(self) -> int:
        """Bytes the proxy has read but not delivered (in flight, or held by a stall)."""
        return self._held["up"] + self._held["down"]

    def idle_for(self) -> float:
        """Seconds since the proxy last read a byte of this tunnel."""
        return self._loop.time() - self._last_activity

    @property
    def idle_timeout(self) -> float | None:
        return self._idle_timeout

    @idle_timeout.setter
    def idle_timeout(self, seconds: float | None) -> None:
        self._idle_timeout = seconds
        self._arm_idle()

    # -- faults ---------------------------------------------------------------
    def stall(self, direction: Direction = "both") -> None:
        """Stop forwarding ``direction`` without closing or resetting anything."""
        for d in DIRECTIONS[direction]:
            if d not in self.stalled:
                self.stalled.add(d)
                self._pause(SOURCE[d], "stall")
                self._cancel(d)
        if self.stalled_at is None:
            self.stalled_at = self.proxy.elapsed()

    def resume(self, direction: Direction = "both") -> None:
        """Forward ``direction`` again, starting with what the stall held."""
        for d in DIRECTIONS[direction]:
            self.stalled.discard(d)
            self._resume(SOURCE[d], "stall")
            self._flush(d)
        if not self.stalled:
            self.stalled_at = None

    def cut(self, reset: bool = False, reason: str = "cut") -> None:
        """End the connection: FIN to each end (RST with ``reset``), except across a stall."""
        if self.closed_at is not None:
            return
        self.closed_at, self.close_reason = self.proxy.elapsed(), reason
        for d in ("up", "down"):
            self._cancel(d)
            self._queue[d].clear()
            self._held[d] = 0
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        for side, transport in self._transports.items():
            if transport is None or side in self._gone:
                continue
            if INTO[side] in self.stalled:
                # Beyond the break: this end never hears of the cut. Keep its socket
                # open and unread until the proxy stops, like a forgotten NAT entry.
                if not transport.is_closing():
                    transport.pause_reading()
                self._abandoned.append(transport)
            elif reset:
                _reset(transport)
            else:
                transport.close()

    # -- plumbing -------------------------------------------------------------
    def _attach(self, side: str, transport: asyncio.Transport) -> None:
        if self.closed_at is not None:  # cut while connecting
            transport.close()
            return
        self._transports[side] = transport
        self._resume("client", "connecting")
        self._arm_idle()
        self.proxy._opened.set()

    def _received(self, side: str, data: bytes) -> None:
        if self.closed_at is not None:
            return
        self._last_activity = self._loop.time()
        d = FROM[side]
        self._held[d] += len(data)
        if self._held[d] > HELD_HIGH:
            self._pause(side, "held")
        self._enqueue(d, data)

    def _ended(self, side: str) -> None:
        if self.closed_at is None:
            self._enqueue(FROM[side], _EOF)

    def _lost(self, side: str, exc: Exception | None) -> None:
        self._gone.add(side)
        if self.closed_at is None:
            self._enqueue(FROM[side], _GONE)
        if self._gone >= {"client", "server"} or (
            self._transports["server"] is None and side == "client"
        ):
            self._close("closed by both ends" if exc is None else f"reset: {exc}")

    def _enqueue(self, d: str, item: bytes | None) -> None:
        due = max(self._loop.time() + self.latency, self._due[d])
        self._due[d] = due
        self._queue[d].append((due, item))
        self._flush(d)

    def _flush(self, d: str) -> None:
        self._timer[d] = None
        if d in self.stalled or self.closed_at is not None:
            return
        target = self._transports[TARGET[d]]
        if target is None:
            return
        queue, now = self._queue[d], self._loop.time()
        while queue and queue[0][0] <= now:
            _, item = queue.popleft()
            if item is _GONE:
                if not target.is_closing():
                    target.close()
            elif item == _EOF:
                if not target.is_closing() and target.can_write_eof():
                    try:
                        target.write_eof()
                    except OSError:  # ENOTCONN: that end already hung up; nothing to tell
                        target.close()
                self._finished.add(d)
                if len(self._finished) == 2:  # both ends said goodbye: close both sockets
                    for transport in self._transports.values():
                        if transport is not None and not transport.is_closing():
                            transport.close()
            elif not target.is_closing():
                target.write(item)
                self.bytes[d] += len(item)
                self._held[d] -= len(item)
            else:
                self._held[d] -= len(item)
        if self._held[d] < HELD_LOW:
            self._resume(SOURCE[d], "held")
        if queue:
            self._timer[d] = self._loop.call_at(queue[0][0], self.proxy._guard, self._flush, d)

    def _cancel(self, d: str) -> None:
        timer, self._timer[d] = self._timer[d], None
        if timer is not None:
            timer.cancel()

    def _pause(self, side: str, why: str) -> None:
        reasons = self._paused[side]
        reasons.add(why)
        transport = self._transports[side]
        if transport is not None and not transport.is_closing():
            transport.pause_reading()

    def _resume(self, side: str, why: str) -> None:
        reasons = self._paused[side]
        reasons.discard(why)
        transport = self._transports[side]
        if not reasons and transport is not None and not transport.is_closing():
            transport.resume_reading()

    def _arm_idle(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        if self._idle_timeout is None or self.closed_at is not None:
            return
        due = self._last_activity + self._idle_timeout
        self._idle_handle = self._loop.call_at(due, self.proxy._guard, self._check_idle)

    def _check_idle(self) -> None:
        self._idle_handle = None
        if self._idle_timeout is None or self.closed_at is not None:
            return
        if self.idle_for() + 1e-3 < self._idle_timeout:
            self._arm_idle()  # traffic since the timer was set: look again later
            return
        self.proxy.idle_cuts.append(self.proxy.elapsed())
        if self.on_idle == "forget":
            self.stall("both")  # a NAT that forgot the mapping: a ghost is born
        else:
            self.cut(reason="idle timeout")

    def _close(self, reason: str) -> None:
        if self.closed_at is None:
            self.closed_at, self.close_reason = self.proxy.elapsed(), reason
        for d in ("up", "down"):
            self._cancel(d)
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None

    def _dispose(self) -> None:
        """Close every socket, abandoned ones too (the proxy is stopping)."""
        self._close("proxy stopped")
        for transport in [*self._transports.values(), *self._abandoned]:
            if transport is not None and not transport.is_closing():
                transport.abort()

    def __repr__(self) -> str:
        stalled = f", stalled {'+'.join(sorted(self.stalled))}" if self.stalled else ""
        return (f"<Tunnel #{self.number} {self.state}{stalled}: "
                f"{self.bytes['up']} B up, {self.bytes['down']} B down>")


def _reset(transport: asyncio.Transport) -> None:
    """Close with a RST: linger on, timeout zero, then close."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class FaultProxy:
    """A named TCP proxy on 127.0.0.1 in front of ``target_port``, with faults on command."""

    def __init__(
        self, name: str, target: tuple[str, int], *, latency: float,
        idle_timeout: float | None, on_idle: str, buffer_size: int,
    ) -> None:
        if on_idle not in ("close", "forget"):
            raise ValueError(f"on_idle must be 'close' or 'forget', not {on_idle!r}")
        self.name = name
        self.target = target
        self.latency = latency
        self.idle_timeout = idle_timeout
        self.on_idle = on_idle
        self.buffer_size = buffer_size
        self.port = 0
        self.t0 = time.monotonic()
        self.tunnels: list[Tunnel] = []
        self.idle_cuts: list[float] = []  # seconds since start, one per idle cut
        self.errors: list[BaseException] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._opened = asyncio.Event()

    # -- life cycle -----------------------------------------------------------
    @classmethod
    async def start(
        cls,
        name: str = "proxy",
        target_port: int = 0,
        *,
        target_host: str = LOOPBACK,
        latency: float = 0.0,
        idle_timeout: float | None = None,
        on_idle: str = "close",
        buffer_size: int = 16 * 1024,
    ) -> FaultProxy:
        """Listen on 127.0.0.1 (a free port), forwarding to ``target_host:target_port``.

        Re-running replaces the proxy of the same ``name``. ``buffer_size`` sets
        the proxy's socket buffers (small: the backlog of a stall should show in
        the sender, not hide in the proxy).
        """
        if not target_port:
            raise ValueError("FaultProxy.start needs the target_port to forward to")
        proxy = cls(name, (target_host, target_port), latency=latency,
                    idle_timeout=idle_timeout, on_idle=on_idle, buffer_size=buffer_size)
        await register(name, proxy)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            proxy._small_buffers(listener)  # accepted sockets inherit them
            listener.bind((LOOPBACK, 0))
            listener.listen(128)
            listener.setblocking(False)
            loop = asyncio.get_running_loop()
            proxy._server = await loop.create_server(
                lambda: _Side(None, "client", proxy), sock=listener
            )
        except BaseException:
            listener.close()
            forget(name, proxy)
            raise
        proxy.port = listener.getsockname()[1]
        return proxy

    async def stop(self) -> None:
        """Close the listener and every tunnel; raise any error the proxy hit."""
        forget(self.name, self)
        server, self._server = self._server, None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for tunnel in self.tunnels:
            tunnel._dispose()
        if server is not None:
            server.close()
            await server.wait_closed()
        await asyncio.sleep(0)  # let the transports' connection_lost callbacks run
        self.check()

    # -- faults on every open tunnel --------------------------------------------
    def stall_all(self, direction: Direction = "both") -> None:
        for tunnel in self.open_tunnels:
            tunnel.stall(direction)

    def resume_all(self, direction: Direction = "both") -> None:
        for tunnel in self.open_tunnels:
            tunnel.resume(direction)

    def cut_all(self, reset: bool = False) -> None:
        for tunnel in self.open_tunnels:
            tunnel.cut(reset)

    def set_latency(self, seconds: float) -> None:
        """Latency for new tunnels and every open one (a spike, or its end)."""
        self.latency = seconds
        for tunnel in self.open_tunnels:
            tunnel.latency = seconds

    def set_idle_timeout(self, seconds: float | None) -> None:
        """Idle timeout for new tunnels and every open one."""
        self.idle_timeout = seconds
        for tunnel in self.open_tunnels:
            tunnel.idle_timeout = seconds

    # -- observing ------------------------------------------------------------
    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT``: where WebSocket clients connect to go through the proxy."""
        return f"ws://{LOOPBACK}:{self.port}"

    @property
    def open_tunnels(self) -> list[Tunnel]:
        return [t for t in self.tunnels if t.closed_at is None]

    def elapsed(self) -> float:
        """Seconds since the proxy was started."""
        return time.monotonic() - self.t0

    async def wait_tunnels(self, count: int, timeout: float = 5.0) -> bool:
        """Wait (without blocking the loop) until ``count`` tunnels are open."""
        deadline = time.monotonic() + timeout
        while sum(t.state == "open" for t in self.tunnels) < count:
            if time.monotonic() > deadline:
                return False
            self._opened.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.05):
                    await self._opened.wait()
        return True

    def check(self) -> None:
        """Raise the first error the proxy's callbacks hit (and forget them)."""
        errors, self.errors = self.errors, []
        raise_collected(errors, f"proxy {self.name!r}")

    def __repr__(self) -> str:
        state = "listening" if self._server is not None else "stopped"
        return (f"<FaultProxy {self.name!r} on {LOOPBACK}:{self.port} -> {self.target[1]}, "
                f"{state}, {len(self.open_tunnels)} open tunnels>")

    # -- plumbing -------------------------------------------------------------
    def _small_buffers(self, sock: socket.socket) -> None:
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, option, self.buffer_size)

    def _guard(self, callback: Any, *args: Any) -> None:
        """Run a callback; keep (do not raise) what it raises, for check() and stop()."""
        try:
            callback(*args)
        except Exception as error:  # a bug here must not kill the event loop's callback
            self.errors.append(error)

    def _accepted(self, transport: asyncio.Transport) -> Tunnel:
        tunnel = Tunnel(self, len(self.tunnels), transport)
        self.tunnels.append(tunnel)
        task = asyncio.get_running_loop().create_task(self._connect_upstream(tunnel))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return tunnel

    async def _connect_upstream(self, tunnel: Tunnel) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._small_buffers(sock)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, self.target)
            await loop.create_connection(lambda: _Side(tunnel, "server", self), sock=sock)
        except OSError as error:
            sock.close()
            tunnel.cut(reset=True, reason=f"server unreachable: {error}")
        except BaseException:
            sock.close()
            raise

