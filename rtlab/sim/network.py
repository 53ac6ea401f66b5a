"""A simulated WebSocket network: one server, many clients, real-world faults.

The objects here mimic the parts of the ``websockets`` API that course code
touches, so learner code cannot tell it is simulated:

* ``conn = await server.connect()`` gives a :class:`SimConnection` or raises
  ``ConnectionRefusedError`` (server down, restarting, or just fell over);
* ``await conn.recv()``, ``async for message in conn``, ``await conn.send(m)``,
  ``await conn.close()``, ``await conn.wait_closed()``; closing raises the real
  ``websockets.exceptions.ConnectionClosedOK`` / ``ConnectionClosedError``.

Faults a scenario can inject, as WebSocket connections suffer them in the wild:

* latency with jitter on every hop (FIFO per direction, like TCP);
* ``server.restart(downtime)``: every connection closes with 1001, connects
  are refused until the server is back;
* ``server.go_down()`` / ``go_up()`` for outages of any length;
* an accept capacity: more handshakes than it can take in a window and the
  server falls over (drops everyone, refuses for ``crash_downtime``);
* ``link.drop()``: an abrupt cut (1006) seen by both ends after latency;
* ``link.stall()``: a half-open link: writes vanish, no FIN, no RST, nobody
  is told; bytes pile up in the sender's buffer;
* ``idle_timeout``: a proxy that cuts a link after N s without traffic;
  it sits beside the server, like a load balancer. On a stalled link it still
  sees what the *server* sends (it forwards that into the break) and nothing
  from the client; when it cuts a stalled link only the server learns: the
  cut towards the client is lost in the same break, so the client stays a
  ghost until its own heartbeat notices;
* ``read_rate``: a slow consumer that drains at most N messages per second,
  so the server's outgoing buffer for it grows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

from rtlab.sim.loop import SimFuture, SimLoop

__all__ = [
    "Attempt",
    "Latency",
    "SimConnection",
    "SimServer",
]

Message = str | bytes
NORMAL_CLOSE_CODES = (1000, 1001)


@dataclass(frozen=True)
class Latency:
    """One-way delay: ``base`` plus a uniform random ``jitter`` (seconds)."""

    base: float = 0.02
    jitter: float = 0.01

    def sample(self, loop: SimLoop) -> float:
        return self.base + loop.rng.random() * self.jitter if self.jitter else self.base


@dataclass(slots=True)
class Attempt:
    """One connection attempt as the server saw it."""

    time: float
    client: str
    outcome: str  # "accepted", "refused", "overload"


def _closed_exception(code: int | None, reason: str) -> ConnectionClosedOK | ConnectionClosedError:
    if code is None:
        return ConnectionClosedError(None, None)
    frame = Close(code, reason)
    if code in NORMAL_CLOSE_CODES:
        return ConnectionClosedOK(frame, frame, True)
    return ConnectionClosedError(frame, frame, True)


class _End:
    """One side of a connection: an inbox, waiters, and close state."""

    def __init__(self, link: Link, side: str) -> None:
        self.link = link
        self.side = side
        self.inbox: deque[Message] = deque()
        self.waiter: SimFuture[Any] | None = None
        self.closed = False
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed_waiters: list[SimFuture[Any]] = []
        self.closed_at: float | None = None
        self.on_close: list[Callable[[float, int | None], None]] = []
        self.received = 0

    def deliver(self, message: Message) -> None:
        if self.closed:
            return
        self.received += 1
        if self.waiter is not None and not self.inbox:
            waiter, self.waiter = self.waiter, None
            # Consumed now: count it before the reader resumes (inline) and waits again.
            self.link.on_consumed(self)
            waiter.set_result(message)
        else:
            self.inbox.append(message)

    def mark_closed(self, code: int | None, reason: str = "") -> None:
        if self.closed:
            return
        self.closed, self.close_code, self.close_reason = True, code, reason
        self.closed_at = self.link.loop.now
        for listener in self.on_close:
            listener(self.closed_at, code)
        exc = _closed_exception(code, reason)
        if self.waiter is not None:
            waiter, self.waiter = self.waiter, None
            waiter.set_exception(exc)
        for fut in self.closed_waiters:
            fut.set_result(None)
        self.closed_waiters.clear()
        self.link.on_end_closed(self)


class SimConnection:
    """What ``await connect()`` returns, and what a server handler is given.

    Mirrors ``websockets.asyncio.connection.Connection`` closely enough for
    course code: ``recv``, ``send``, ``close``, ``wait_closed``, iteration,
    ``close_code`` and ``remote_address``.
    """

    def __init__(self, end: _End, peer: _End) -> None:
        self._end = end
        self._peer = peer

    # -- receiving --------------------------------------------------------
    def recv(self) -> SimFuture[Message]:
        end = self._end
        fut: SimFuture[Message] = end.link.loop.future()
        if end.inbox:
            fut.set_result(end.inbox.popleft())
            end.link.on_consumed(end)
        elif end.closed:
            fut.set_exception(_closed_exception(end.close_code, end.close_reason))
        elif end.waiter is not None:
            raise RuntimeError("cannot call recv() while another coroutine is already in recv()")
        else:
            end.waiter = fut
        return fut

    def __aiter__(self) -> SimConnection:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.recv()
        except ConnectionClosedOK:
            raise StopAsyncIteration from None

    # -- sending and closing ----------------------------------------------
    async def send(self, message: Message) -> None:
        end = self._end
        if end.closed:
            raise _closed_exception(end.close_code, end.close_reason)
        if not isinstance(message, str | bytes):
            raise TypeError(f"send() takes str or bytes, not {type(message).__name__}")
        end.link.transmit(end, message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self._end.link.close_from(self._end, code, reason)

    async def wait_closed(self) -> None:
        end = self._end
        if end.closed:
            return
        fut: SimFuture[None] = end.link.loop.future()
        end.closed_waiters.append(fut)
        await fut

    # -- state ------------------------------------------------------------
    @property
    def close_code(self) -> int | None:
        """None while open; 1006 (abnormal closure) if closed without a close frame."""
        if not self._end.closed:
            return None
        return 1006 if self._end.close_code is None else self._end.close_code

    @property
    def closed(self) -> bool:
        return self._end.closed

    @property
    def buffered(self) -> int:
        """Messages sent from this side that the peer has not consumed yet."""
        return self._end.link.buffered[self._end.side]

    @property
    def remote_address(self) -> tuple[str, int]:
        return ("127.0.0.1", self._end.link.port)

    def add_close_listener(self, listener: Callable[[float, int | None], None]) -> None:
        """Call ``listener(time, code)`` when this side learns the connection closed."""
        self._end.on_close.append(listener)

    @property
    def client_id(self) -> str:
        return self._end.link.client

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"the simulated connection has no attribute {name!r}; it supports recv(), "
            "send(), close(), wait_closed(), async iteration and close_code, like the "
            "websockets Connection"
        )

    def __repr__(self) -> str:
        return f"<SimConnection {self._end.side} of {self._end.link.client}>"


@dataclass(eq=False)
class Link:
    """The network between one client and the server, with its faults."""

    loop: SimLoop
    server: SimServer
    client: str
    port: int
    latency: Latency
    idle_timeout: float | None = None
    read_rate: float | None = None  # messages/s the client drains; None = instantly
    stalled: bool = False
    client_end: _End = field(init=False)
    server_end: _End = field(init=False)
    buffered: dict[str, int] = field(init=False)
    _next_delivery: dict[str, float] = field(init=False)
    _idle_timer: int | None = field(init=False, default=None)
    _slow_queue: deque[Message] = field(init=False)
    _draining: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.client_end = _End(self, "client")
        self.server_end = _End(self, "server")
        self.buffered = {"client": 0, "server": 0}
        self._next_delivery = {"client": 0.0, "server": 0.0}
        self._slow_queue = deque()
        self._touch()

    @property
    def alive(self) -> bool:
        return not (self.client_end.closed and self.server_end.closed)

    def other(self, end: _End) -> _End:
        return self.server_end if end is self.client_end else self.client_end

    # -- traffic ----------------------------------------------------------
    def transmit(self, sender: _End, message: Message) -> None:
        self.buffered[sender.side] += 1
        if self.stalled:
            # A half-open link: the bytes sit in a buffer, nothing arrives. The idle
            # proxy beside the server still sees the server's bytes go past.
            if sender is self.server_end:
                self._touch()
            return
        if sender is self.server_end and self.read_rate is not None:
            self._slow_queue.append(message)
            if not self._draining:
                self._draining = True
                self.loop.call_later(self.latency.sample(self.loop), self._drain_one)
            return
        self._send_after_latency(sender, message)

    def _delivery_time(self, sender: _End) -> float:
        """One network delay from now, but (TCP keeps order) never before an earlier message."""
        when = max(
            self.loop.now + self.latency.sample(self.loop), self._next_delivery[sender.side]
        )
        self._next_delivery[sender.side] = when
        return when

    def _send_after_latency(self, sender: _End, message: Message) -> None:
        self.loop.call_at(self._delivery_time(sender), self._arrive, sender, message)

    def _arrive(self, sender: _End, message: Message) -> None:
        if self.stalled:
            return
        receiver = self.other(sender)
        if receiver.closed:
            return
        self._touch()
        receiver.deliver(message)

    def _drain_one(self) -> None:
        if not self._slow_queue or self.client_end.closed or self.stalled:
            self._draining = False
            return
        self._arrive(self.server_end, self._slow_queue.popleft())
        assert self.read_rate is not None
        self.loop.call_later(1.0 / self.read_rate, self._drain_one)

    def on_consumed(self, receiver: _End) -> None:
        sender = self.other(receiver)
        if self.buffered[sender.side] > 0:
            self.buffered[sender.side] -= 1

    # -- faults -----------------------------------------------------------
    def stall(self) -> None:
        """Half-open: from now on nothing gets through, and nobody is told.

        The break lies between the client and the idle proxy (if any), so the
        proxy's timer keeps running: see :meth:`_idle_cut`.
        """
        self.stalled = True

    def drop(self, code: int | None = None, reason: str = "") -> None:
        """Cut the link abruptly; each end learns after one network delay."""
        for end in (self.client_end, self.server_end):
            if not end.closed:
                self.loop.call_later(self.latency.sample(self.loop), end.mark_closed, code, reason)

    def close_from(self, end: _End, code: int, reason: str) -> None:
        """A clean close started by ``end``: it closes now, the peer after latency."""
        if end.closed:
            return
        end.mark_closed(code, reason)
        peer = self.other(end)
        if not self.stalled:
            # The close frame travels behind the messages sent before it.
            self.loop.call_at(self._delivery_time(end), peer.mark_closed, code, reason)

    def _touch(self) -> None:
        if self.idle_timeout is None:
            return
        self.loop.cancel(self._idle_timer)
        self._idle_timer = self.loop.call_later(self.idle_timeout, self._idle_cut)

    def _idle_cut(self) -> None:
        self.server.idle_cuts += 1
        if not self.stalled:
            self.drop(None, "idle timeout at proxy")
        elif not self.server_end.closed:
            # The proxy resets both of its sockets, but the client's side of the
            # link is broken: only the server hears it. The client stays a ghost.
            self.loop.call_later(
                self.latency.sample(self.loop), self.server_end.mark_closed, None,
                "idle timeout at proxy",
            )

    def on_end_closed(self, end: _End) -> None:
        if self.client_end.closed and self.server_end.closed:
            self.loop.cancel(self._idle_timer)
            self._idle_timer = None
        if end is self.server_end:
            self.server.links.pop(self, None)


Handler = Callable[[SimConnection], Coroutine[Any, Any, Any]]


class SimServer:
    """A WebSocket server in virtual time.

    ``handler`` (optional) runs for each accepted connection, like the handler
    of ``websockets.asyncio.server.serve``; without one the server just holds
    connections open. ``capacity=(n, window)`` makes it fall over when more
    than ``n`` handshakes arrive within ``window`` seconds.
    """

    def __init__(
        self,
        loop: SimLoop,
        *,
        latency: Latency | None = None,
        handler: Handler | None = None,
        capacity: tuple[int, float] | None = None,
        crash_downtime: float = 5.0,
        idle_timeout: float | None = None,
        port: int = 8765,
    ) -> None:
        self.loop = loop
        self.latency = latency or Latency()
        self.handler = handler
        self.capacity = capacity
        self.crash_downtime = crash_downtime
        self.idle_timeout = idle_timeout
        self.port = port
        self.up = True
        # A dict used as an insertion-ordered set: iterating a set of objects follows
        # their memory addresses, and go_down() draws latencies in that order.
        self.links: dict[Link, None] = {}
        self._every_link: list[Link] = []
        loop.finalizers.append(self._dispose)
        self.attempts: list[Attempt] = []
        self.crashes: list[float] = []
        self.idle_cuts = 0
        self.handler_errors: list[tuple[float, BaseException]] = []
        self._recent: deque[float] = deque()
        self._up_timer: int | None = None
        self._next_client = 0

    # -- client side ------------------------------------------------------
    def connect(self, client: str | None = None) -> SimFuture[SimConnection]:
        """Start a handshake; the future gives a connection or raises."""
        if client is None:
            self._next_client += 1
            client = f"client-{self._next_client}"
        loop = self.loop
        fut: SimFuture[SimConnection] = SimFuture(loop)
        loop.call_at(loop.now + self.latency.sample(loop), self._on_syn, client, fut)
        return fut

    def _dispose(self) -> None:
        """After the simulation: cut link <-> end cycles so memory goes back at once."""
        for link in self._every_link:
            link.__dict__.clear()
        self._every_link.clear()
        self.links.clear()

    def connector(self, client: str) -> Callable[[], SimFuture[SimConnection]]:
        """A zero-argument ``connect`` for one named client."""
        return lambda: self.connect(client)

    def _on_syn(self, client: str, fut: SimFuture[SimConnection]) -> None:
        loop = self.loop
        back = self.latency.sample(loop)
        if not self.up:  # the hot path of every storm: keep it short
            self.attempts.append(Attempt(loop.now, client, "refused"))
            loop.call_at(loop.now + back, fut.set_exception, ConnectionRefusedError(111, "refused"))
            return
        if self._over_capacity():
            self.attempts.append(Attempt(self.loop.now, client, "overload"))
            self.crash()
            self.loop.call_later(back, fut.set_exception, ConnectionRefusedError(111, "refused"))
            return
        self.attempts.append(Attempt(self.loop.now, client, "accepted"))
        link = Link(self.loop, self, client, self.port, self.latency, self.idle_timeout)
        self.links[link] = None
        self._every_link.append(link)
        if self.handler is not None:
            task = self.loop.spawn(
                self.handler(SimConnection(link.server_end, link.client_end)), f"handler:{client}"
            )
            task.on_done.append(partial(self._handler_done, link))
        self.loop.call_later(back, fut.set_result, SimConnection(link.client_end, link.server_end))

    def _handler_done(self, link: Link, task: Any) -> None:
        # Like websockets: the connection closes when its handler returns (1000), or
        # with 1011 (internal error) when the handler raised.
        if task.error is not None:
            self.handler_errors.append((self.loop.now, task.error))
        link.close_from(link.server_end, 1000 if task.error is None else 1011, "")

    def _over_capacity(self) -> bool:
        if self.capacity is None:
            return False
        limit, window = self.capacity
        now = self.loop.now
        self._recent.append(now)
        while self._recent and self._recent[0] <= now - window:
            self._recent.popleft()
        return len(self._recent) > limit

    # -- server-wide events -------------------------------------------------
    @property
    def connections(self) -> int:
        return sum(1 for link in self.links if not link.server_end.closed)

    def go_down(self, code: int | None = 1001, reason: str = "going away") -> None:
        """Stop accepting and close every connection (1001, as websockets does on shutdown)."""
        self.up = False
        self.loop.cancel(self._up_timer)  # down until go_up(), or until restart() says
        self._up_timer = None
        for link in list(self.links):
            if code is None:
                link.drop(None, reason)
            else:
                link.close_from(link.server_end, code, reason)
        self.links.clear()
        self._recent.clear()

    def go_up(self) -> None:
        self.up = True
        if self._up_timer is not None:  # brought up by hand before a restart was over
            self.loop.cancel(self._up_timer)
            self._up_timer = None

    def restart(self, downtime: float) -> None:
        """Close everything now, refuse connects for ``downtime`` seconds."""
        self.go_down()
        self._schedule_up(downtime)

    def crash(self) -> None:
        """Fall over: connections die without a close frame, back after a while."""
        self.crashes.append(self.loop.now)
        self.go_down(code=None, reason="server crashed")
        self._schedule_up(self.crash_downtime)

    def _schedule_up(self, downtime: float) -> None:
        self.loop.cancel(self._up_timer)
        self._up_timer = self.loop.call_later(downtime, self._back_up)

    def _back_up(self) -> None:
        self._up_timer = None
        self.go_up()

    def link_of(self, client: str) -> Link | None:
        """The live link of ``client``, for per-connection faults."""
        for link in self.links:
            if link.client == client and not link.server_end.closed:
                return link
        return None
