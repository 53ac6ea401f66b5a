"""Module 08 live: slow clients, fan-out and a learner's Room on real loopback WebSockets.

Two kinds of server run in the kernel:

- :func:`feed_demo` broadcasts a busy feed to fast clients and to one client behind a
  stalled link (a :class:`~rtlab.live.FaultProxy` tunnel that stops carrying data, as a
  paused tab or a stopped reader does), with one of four strategies: ``send-loop``
  (``await ws.send()`` per client), ``broadcast`` (``websockets.broadcast``), or a
  per-client outbox bounded in bytes that drops the oldest or disconnects (4000). It
  samples the server's memory (tracemalloc, RSS, bytes unsent) and the fast clients'
  latency.
- :class:`RoomServer` puts a learner's sans-I/O ``Room`` behind a real server: the
  handler only feeds the room and sends what ``take`` hands over, as websockets'
  ``data_received`` feeds its protocol. Bad input gets clear close codes: a frame over
  ``max_size`` 1009 (websockets itself), a message that is not ``{kind, key, body}``
  JSON (``body`` an object; nested at most ``MAX_DEPTH`` (16) deep; no ``NaN``)
  1007, a flood beyond the rate limit 4029; what the room returns (4000-4999)
  for a reader that fell behind. Everyone else carries on.

Permissions live in SQLite (:class:`SqliteStore`, standard library), and every query
is counted, as is every serialisation (:class:`CountingEncoder`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import sqlite3
import statistics
import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import matplotlib.pyplot as plt
import websockets
from matplotlib.figure import Figure
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from rtlab.learner import describe_error
from rtlab.live import FaultProxy, LiveServer
from rtlab.live.proxy import unsent_bytes
from rtlab.live.registry import forget, raise_collected, register
from rtlab.topics.backpressure.interface import KINDS, Close
from rtlab.wire.bounded_json import loads_bounded

__all__ = ["CountingEncoder", "FanoutCost", "FeedReport", "RoomDemoReport", "RoomServer",
           "SqliteStore", "fanout_cost", "feed_demo", "plot_fanout", "plot_memory", "room_demo",
           "rss_bytes"]

FLOOD = 4029  # too many messages: slow down
MALFORMED = 1007  # the message is not what the protocol says
MAX_DEPTH = 16  # {kind, key, body}: a body is a small object, a cursor or a chat line
RESYNC_CODES = range(4000, 5000)
SOCKET_BUFFER = 64 * 1024  # bytes: the feed demo's send buffer per socket
WRITE_LIMIT = 32 * 1024  # websockets' default: send() waits above it
ROOM_SOCKET_BUFFER = 16 * 1024  # and the room server's: small, so its outboxes do the work


def rss_bytes() -> int:
    """This process's resident memory (Linux), in bytes; 0 where unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class SqliteStore:
    """Who may read the room, in SQLite; every query is counted."""

    def __init__(self, users: Mapping[str, bool] | None = None) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE TABLE perms (user TEXT PRIMARY KEY, can_read INTEGER)")
        self.queries = 0
        for user, ok in (users or {}).items():
            self.allow(user, ok)

    def allow(self, user: str, ok: bool) -> None:
        """An admin's change (not a query of the room)."""
        self.db.execute("INSERT OR REPLACE INTO perms VALUES (?, ?)", (user, int(ok)))

    def can_read(self, user: str) -> bool:
        self.queries += 1
        row = self.db.execute("SELECT can_read FROM perms WHERE user = ?", (user,)).fetchone()
        return bool(row and row[0])

    def readers(self) -> set[str]:
        self.queries += 1
        return {u for (u,) in self.db.execute("SELECT user FROM perms WHERE can_read = 1")}


class CountingEncoder:
    """JSON to bytes, counting serialisations."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, message: dict[str, Any]) -> bytes:
        self.calls += 1
        return json.dumps(message, separators=(",", ":")).encode()


# -- feed demo: what a stalled reader does to a server -----------------------------------

Strategy = Literal["send-loop", "broadcast", "outbox-drop-oldest", "outbox-disconnect"]


@dataclass
class FeedReport:
    strategy: str
    published: int = 0  # messages the feed got out (to every fast client or buffered)
    seconds: float = 0.0
    # (t, traced, rss, unsent): seconds, then bytes
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # fast clients, seconds
    received: int = 0  # by the fast clients, in all
    stalled_close: int | None = None  # how the server ended the stalled client, if it did

    def growth(self) -> tuple[int, int, int]:
        """(traced, rss, unsent) growth from the first sample to the largest."""
        if not self.samples:
            return 0, 0, 0
        first = self.samples[0]
        return tuple(max(s[i] for s in self.samples) - first[i] for i in (1, 2, 3))  # type: ignore[return-value]

    def summary(self) -> str:
        traced, rss, unsent = self.growth()
        lat = sorted(self.latencies)
        p99 = lat[int(0.99 * (len(lat) - 1))] if lat else float("nan")
        median = statistics.median(lat) if lat else float("nan")
        end = ("" if self.stalled_close is None
               else f"; the stalled client was closed with {self.stalled_close}")
        return (f"{self.strategy:>19}: {self.published} messages out in {self.seconds:.1f} s; "
                f"fast clients got {self.received}, latency p50 {median * 1000:.0f} ms, "
                f"p99 {p99 * 1000:.0f} ms; server memory +{traced / 2**20:.1f} MiB traced, "
                f"+{rss / 2**20:.1f} MiB RSS, unsent {unsent / 2**20:.1f} MiB{end}")


class DemoOutbox:
    """Lesson scaffolding: one byte bound and one policy for every message."""

    def __init__(self, max_bytes: int, drop_oldest: bool) -> None:
        self.max_bytes, self.drop_oldest = max_bytes, drop_oldest
        self.frames: deque[bytes] = deque()
        self.size = 0
        self.ready = asyncio.Event()

    def put(self, frame: bytes) -> bool:
        self.frames.append(frame)
        self.size += len(frame)
        while self.drop_oldest and self.size > self.max_bytes:
            self.size -= len(self.frames.popleft())
        self.ready.set()
        return self.size <= self.max_bytes


async def _drain(conn: ServerConnection, box: DemoOutbox) -> None:
    while True:
        if not box.frames:
            box.ready.clear()
            await box.ready.wait()
            continue
        frame = box.frames.popleft()
        box.size -= len(frame)
        await conn.send(frame)  # waits above write_limit: the outbox takes the rest


async def feed_demo(
    strategy: Strategy, *, fast: int = 5, rate: float = 200.0, size: int = 8000,
    seconds: float = 3.0, max_bytes: int = 256 * 1024, sample_every: float = 0.1,
) -> FeedReport:
    """A feed of ``size``-byte messages at ``rate`` Hz to ``fast`` clients and one stalled one."""
    report = FeedReport(strategy)
    boxes: dict[ServerConnection, DemoOutbox] = {}
    writers: list[asyncio.Task[None]] = []
    closing: list[asyncio.Task[None]] = []

    async def handler(conn: ServerConnection) -> None:
        # Linux would let each socket's send buffer grow to 4 MiB, hiding the backlog
        # in the kernel; a small one makes it show in the process, where it ends up.
        sock = conn.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
        if strategy.startswith("outbox"):
            boxes[conn] = DemoOutbox(max_bytes, strategy == "outbox-drop-oldest")
            writers.append(asyncio.create_task(_drain(conn, boxes[conn])))
        async for _ in conn:
            pass

    # No permessage-deflate: a padded demo message would shrink to nothing.
    server = await LiveServer.start("feed", handler, compression=None)
    proxy = await FaultProxy.start("feed-net", server.port)
    fast_clients = [await connect(server.url) for _ in range(fast)]
    stalled = await connect(proxy.url, max_queue=4)
    await proxy.wait_tunnels(1)
    proxy.stall_all("down")  # the stalled client reads nothing from now on

    async def read(ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                report.latencies.append(time.monotonic() - json.loads(message)[0])
                report.received += 1

    readers = [asyncio.create_task(read(ws)) for ws in fast_clients]
    # Tracing slows every allocation several times over: stop what we start.
    tracing_here = not tracemalloc.is_tracing()
    if tracing_here:
        tracemalloc.start()
    start = time.monotonic()

    def unsent() -> int:
        return (sum(unsent_bytes(c.transport) for c in server.connections)
                + sum(b.size for b in boxes.values()))

    async def sample() -> None:
        while True:
            report.samples.append((time.monotonic() - start, tracemalloc.get_traced_memory()[0],
                                   rss_bytes(), unsent()))
            await asyncio.sleep(sample_every)

    async def feed() -> None:
        pad = "x" * size
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            frame = json.dumps([time.monotonic(), i, pad])
            conns = list(server.connections)
            if strategy == "send-loop":
                for c in conns:
                    with contextlib.suppress(ConnectionClosed):
                        await c.send(frame)
            elif strategy == "broadcast":
                websockets.broadcast(conns, frame)
            else:
                for c in conns:
                    box = boxes.get(c)
                    if box is not None and not box.put(frame.encode()):
                        del boxes[c]  # close in the background: the feed must not wait
                        closing.append(asyncio.create_task(
                            c.close(4000, "too far behind: reconnect and resync")))
            report.published = i + 1

    sampler = asyncio.create_task(sample())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(feed(), seconds + 0.5)
    report.seconds = time.monotonic() - start
    await asyncio.sleep(0.2)  # let the fast clients catch up
    sampler.cancel()
    for task in [*readers, *writers]:
        task.cancel()
    await asyncio.gather(sampler, *readers, *writers, return_exceptions=True)
    if tracing_here:
        tracemalloc.stop()
    if closing:  # let the close frame through: the client learns why it was dropped
        proxy.resume_all()

        async def catch_up() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for _ in stalled:
                    pass

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(catch_up(), 3.0)
        report.stalled_close = stalled.close_code
        await asyncio.gather(*closing, return_exceptions=True)
    await proxy.stop()
    stalled.transport.abort()
    for ws in fast_clients:
        await ws.close()
    await server.stop()
    return report


# -- the learner's Room behind a real server ------------------------------------------


class RoomServer:
    """A learner's ``Room`` on a real WebSocket server on 127.0.0.1.

    ``ws://127.0.0.1:PORT/?user=NAME`` joins as ``NAME``. Clients send JSON
    ``{"kind": ..., "key": ..., "body": {...}}``; each gets binary frames, whatever
    ``room.take`` hands over, as fast as its socket takes them.
    """

    max_frame = 16 * 1024  # bytes: the ``max_size`` it serves with (start() sets it)

    def __init__(self, name: str, room: Any, store: SqliteStore, encode: CountingEncoder,
                 *, tick_every: float, flood: tuple[float, float]) -> None:
        self.name, self.room, self.store, self.encode = name, room, store, encode
        self.tick_every, self.flood = tick_every, flood
        self.server: LiveServer | None = None
        self.t0 = time.monotonic()
        self.ids = itertools.count(1)
        self.conns: dict[str, ServerConnection] = {}
        self.wake: dict[str, asyncio.Event] = {}
        self.idle: set[str] = set()  # clients whose writer waits for frames
        self.sent: dict[str, int] = {}  # bytes per client
        self.closes: list[tuple[float, str, int, str]] = []  # (t, client, code, why)
        self.user_of: dict[str, str] = {}
        self.publishes = 0
        self.errors: list[BaseException] = []  # not yet raised by check()
        self.seen: list[BaseException] = []  # every distinct error of the run
        self._ticker: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @classmethod
    async def start(
        cls, name: str, make_room: Callable[..., Any], *, users: Mapping[str, bool] | None = None,
        max_bytes: int = 64 * 1024, cursor_interval: float = 0.05, tick_every: float = 0.01,
        max_size: int = 16 * 1024, flood: tuple[float, float] = (200.0, 50.0),
    ) -> RoomServer:
        """Serve ``make_room(store, encode, max_bytes=, cursor_interval=)``; ``flood`` is
        (messages per second, burst) allowed per client."""
        store, encode = SqliteStore(users), CountingEncoder()
        room = make_room(store, encode, max_bytes=max_bytes, cursor_interval=cursor_interval)
        self = cls(name, room, store, encode, tick_every=tick_every, flood=flood)
        self.max_frame = max_size
        await register(name, self)
        # close_timeout: a client that does not answer our close frame is not waited for long
        self.server = await LiveServer.start(f"{name}-ws", self._handle, max_size=max_size,
                                             compression=None, close_timeout=1.0)
        self._ticker = asyncio.create_task(self._tick())
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _call(self, what: Callable[..., Any], *args: Any) -> Any:
        try:
            return what(*args)
        except Exception as error:  # the learner's room: report at check(), keep serving
            if not any(type(e) is type(error) and str(e) == str(error) for e in self.seen):
                self.seen.append(error)  # each distinct error once, not once per call
                self.errors.append(error)
            return []

    async def _apply(self, closes: list[Close]) -> None:
        for client, code in closes if isinstance(closes, list) else []:
            conn = self.conns.get(client)
            if conn is not None:  # in the background: a stalled link must not stall the sender
                self.closes.append((self.now(), client, code, "too far behind: resync"))
                task = asyncio.create_task(conn.close(code, "too far behind: reconnect and resync"))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        self.flush()

    def flush(self) -> None:
        """Hand each idle client what the room holds for it, without a task switch.

        Like ``websockets.broadcast``: a frame is written at once while the socket's
        buffer is under ``write_limit``; above it, the client's writer task takes over
        and waits (backpressure), and the room keeps the rest in its outbox.
        """
        for client in list(self.idle):
            conn = self.conns.get(client)
            if conn is None:
                continue
            while conn.transport.get_write_buffer_size() < WRITE_LIMIT:
                frame = self._call(self.room.take, client)
                if not frame:
                    break
                if conn.protocol.state is not State.OPEN:
                    break
                conn.protocol.send_binary(frame)  # what broadcast() does, per connection
                conn.send_data()
                self.sent[client] = self.sent.get(client, 0) + len(frame)
            else:
                self.idle.discard(client)
                self.wake[client].set()  # its writer waits for the socket to drain

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_every)
            await self._apply(self._call(self.room.tick, self.now()))

    async def _write(self, client: str, conn: ServerConnection) -> None:
        wake = self.wake[client]
        while True:
            frame = self._call(self.room.take, client)
            if not frame:
                wake.clear()
                self.idle.add(client)  # flush() serves it from now on, until it is slow
                await wake.wait()
                continue
            await conn.send(frame)  # above write_limit this waits: the room holds the rest
            self.sent[client] = self.sent.get(client, 0) + len(frame)

    async def _handle(self, conn: ServerConnection) -> None:
        client = f"c{next(self.ids)}"
        sock = conn.transport.get_extra_info("socket")
        if sock is not None:  # the backlog of a stopped reader shows in the room, not the kernel
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, ROOM_SOCKET_BUFFER)
        path = conn.request.path if conn.request is not None else "/"
        user = parse_qs(urlsplit(path).query).get("user", [client])[0]
        self.conns[client], self.wake[client] = conn, asyncio.Event()
        self.user_of[client] = user
        self._call(self.room.join, client, user, self.now())
        writer = asyncio.create_task(self._write(client, conn))
        rate, burst = self.flood
        tokens, last = burst, time.monotonic()
        try:
            async for raw in conn:
                now = time.monotonic()
                tokens, last = min(burst, tokens + (now - last) * rate), now
                if tokens < 1:
                    self.closes.append((self.now(), client, FLOOD, "too many messages"))
                    await conn.close(FLOOD, "too many messages: slow down")
                    break
                tokens -= 1
                try:
                    message = loads_bounded(raw, max_depth=MAX_DEPTH, max_bytes=self.max_frame)
                    kind, key, body = message["kind"], str(message["key"]), message["body"]
                    if kind not in KINDS or not isinstance(body, dict):
                        raise ValueError(kind)
                except (ValueError, KeyError, TypeError):  # JSONRefused is a ValueError
                    self.closes.append((self.now(), client, MALFORMED, "not a room message"))
                    await conn.close(MALFORMED, 'expected {"kind", "key", "body"}')
                    break
                self.publishes += 1
                await self._apply(self._call(self.room.publish, client, kind, key, body,
                                             self.now()))
        finally:
            if conn.close_code == 1009:
                self.closes.append((self.now(), client, 1009, "message too big"))
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._call(self.room.leave, client, self.now())
            self.conns.pop(client, None)
            self.wake.pop(client, None)
            self.idle.discard(client)

    def set_permission(self, user: str, ok: bool) -> None:
        """An admin changes who may read: the store first, then the room is told."""
        self.store.allow(user, ok)
        self._call(self.room.permission_changed, user, self.now())

    def check(self) -> None:
        errors, self.errors = self.errors, []
        raise_collected(errors, f"room server {self.name!r}")
        if self.server is not None:
            self.server.check()

    async def stop(self) -> None:
        forget(self.name, self)
        tasks = [self._ticker, *self._closing] if self._ticker is not None else []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.server is not None:
            await self.server.stop()
        self.store.db.close()
        self.check()


# -- a whole room, live ----------------------------------------------------------------


@dataclass
class RoomDemoReport:
    seconds: float = 0.0
    sent: dict[str, int] = field(default_factory=dict)  # kind -> messages published
    received: dict[str, dict[str, int]] = field(default_factory=dict)  # client -> kind -> count
    cursor_bytes: dict[str, int] = field(default_factory=dict)  # viewer -> bytes of cursors
    last_cursor: dict[str, int] = field(default_factory=dict)  # viewer -> last position seen
    final_cursor: int = -1
    codes: dict[str, int | None] = field(default_factory=dict)  # client -> close code it got
    queries: int = 0
    encodes: int = 0
    publishes: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"published: {self.sent} in {self.seconds:.1f} s; the room made "
                 f"{self.encodes} serialisations and {self.queries} store queries for "
                 f"{self.publishes} messages received"]
        for name, kinds in sorted(self.received.items()):
            code = self.codes.get(name)
            end = f", closed with {code}" if code is not None else ""
            final = "yes" if self.last_cursor.get(name) == self.final_cursor else "NO"
            cursor = f", final cursor {final}" if name.startswith("viewer") else ""
            lines.append(f"  {name:<8} got {dict(sorted(kinds.items()))}{cursor}{end}")
        lines.append(f"  stalled  (read nothing) closed with {self.codes.get('stalled')}")
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


async def room_demo(
    make_room: Callable[..., Any], *, viewers: int = 4, seconds: float = 2.0,
    live_hz: float = 100.0, live_size: int = 2000, events_hz: float = 30.0,
    cursor_hz: float = 120.0, max_bytes: int = 8 * 1024, cursor_interval: float = 0.05,
    bad_input: bool = True,
) -> RoomDemoReport:
    """A learner's room live: fast viewers, a stalled reader, a publisher, a mouse at
    ``cursor_hz`` and (``bad_input``) a flooder, an oversize frame and garbage."""
    report = RoomDemoReport()
    names = [f"viewer{i + 1}" for i in range(viewers)] + ["stalled", "pub", "mouse"]
    bad = ["flooder", "big", "garbage"] if bad_input else []
    server = await RoomServer.start("room", make_room, users={n: True for n in names + bad},
                                    max_bytes=max_bytes, cursor_interval=cursor_interval)
    proxy = await FaultProxy.start("room-net", server.port)
    clients: dict[str, ClientConnection] = {}
    for name in names + bad:
        url = proxy.url if name == "stalled" else server.url
        clients[name] = await connect(f"{url}/?user={name}", max_queue=4, compression=None)
        report.received[name] = {}
    await proxy.wait_tunnels(1)
    proxy.stall_all("down")

    last_frame = [time.monotonic()]

    async def read(name: str, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                last_frame[0] = time.monotonic()
                message = json.loads(raw)
                kind = message.get("kind", "?")
                report.received[name][kind] = report.received[name].get(kind, 0) + 1
                if kind == "cursor":
                    report.cursor_bytes[name] = report.cursor_bytes.get(name, 0) + len(raw)
                    report.last_cursor[name] = message["body"]["i"]
        report.codes[name] = ws.close_code

    readers = [asyncio.create_task(read(n, ws)) for n, ws in clients.items() if n != "stalled"]
    start = time.monotonic()

    async def every(hz: float, send: Callable[[int], Any]) -> None:
        with contextlib.suppress(ConnectionClosed):
            for i in range(int(hz * seconds)):
                await asyncio.sleep(max(0.0, start + i / hz - time.monotonic()))
                await send(i)

    def publisher(name: str, kind: str, key: str, pad: int) -> Callable[[int], Any]:
        async def send(i: int) -> None:
            await clients[name].send(json.dumps({"kind": kind, "key": key,
                                                 "body": {"i": i, "pad": "x" * pad}}))
            report.sent[kind] = report.sent.get(kind, 0) + 1
            if kind == "cursor":
                report.final_cursor = i
        return send

    async def misbehave() -> None:
        await asyncio.sleep(seconds / 4)
        await clients["big"].send("x" * 100_000)
        await clients["garbage"].send("this is not JSON")
        with contextlib.suppress(ConnectionClosed):
            for i in range(2000):
                await clients["flooder"].send(json.dumps(
                    {"kind": "event", "key": "spam", "body": {"i": i}}))

    tasks = [every(events_hz, publisher("pub", "event", "chat", 200)),
             every(live_hz, publisher("pub", "live", "price", live_size)),
             every(cursor_hz, publisher("mouse", "cursor", "mouse", 0))]
    if bad_input:
        tasks.append(misbehave())
    await asyncio.gather(*tasks)
    quiet = max(0.3, 3 * cursor_interval)  # the last cursor, the last frames: until quiet
    while time.monotonic() - last_frame[0] < quiet and time.monotonic() - start < seconds + 5:
        await asyncio.sleep(0.05)
    report.seconds = time.monotonic() - start
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for name, ws in clients.items():
        report.codes.setdefault(name, ws.close_code)
    proxy.resume_all()
    stalled = clients.pop("stalled")
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async def drain() -> None:
            async for _ in stalled:
                pass
        await asyncio.wait_for(drain(), 2.0)
    report.codes["stalled"] = stalled.close_code
    report.received.pop("stalled", None)
    report.queries, report.encodes = server.store.queries, server.encode.calls
    for _, client, code, _ in server.closes:  # what the server said, whatever the client saw
        report.codes[server.user_of[client]] = code
    report.publishes = server.publishes
    await proxy.stop()
    for ws in clients.values():
        ws.transport.abort()  # the run is over: no closing handshakes to wait for
    with contextlib.suppress(Exception):  # the room's errors are reported, not raised
        await server.stop()
    report.errors = [describe_error(e) for e in server.seen]
    return report




# -- what one broadcast costs, against a real store ------------------------------------


@dataclass
class FanoutCost:
    members: int
    how: str
    ms_per_broadcast: float
    queries_per_broadcast: float
    encodes_per_broadcast: float


def fanout_cost(members: int, how: Literal["per recipient", "once"], *,
                broadcasts: int = 3) -> FanoutCost:
    """One message to a room of ``members``, against SQLite: ``"per recipient"`` asks
    ``can_read`` and formats for each member; ``"once"`` asks ``readers()`` and formats
    once. Outboxes are plain lists (the socket writes are not what is measured)."""
    users = {f"u{i}": i % 10 != 0 for i in range(members)}  # one in ten may not read
    store, encode = SqliteStore(users), CountingEncoder()
    outboxes: dict[str, list[bytes]] = {user: [] for user in users}
    message = {"kind": "event", "key": "chat", "body": {"text": "x" * 100}}
    started = time.perf_counter()
    for _ in range(broadcasts):
        if how == "per recipient":
            for user, box in outboxes.items():
                if store.can_read(user):
                    box.append(encode(message))
        else:
            readers, frame = store.readers(), encode(message)
            for user, box in outboxes.items():
                if user in readers:
                    box.append(frame)
    seconds = (time.perf_counter() - started) / broadcasts
    store.db.close()
    return FanoutCost(members, how, 1000 * seconds, store.queries / broadcasts,
                      encode.calls / broadcasts)


def plot_memory(reports: list[FeedReport]) -> Figure:
    """What the server holds unsent, and its traced Python memory, over time."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    for report in reports:
        t = [s[0] for s in report.samples]
        left.plot(t, [s[3] / 2**20 for s in report.samples], label=report.strategy)
        right.plot(t, [(s[1] - report.samples[0][1]) / 2**20 for s in report.samples],
                   label=report.strategy)
    left.set(xlabel="seconds into the feed", ylabel="MiB",
             title="unsent for the clients (buffers)")
    right.set(xlabel="seconds into the feed", ylabel="MiB",
              title="Python memory growth (tracemalloc)")
    left.legend(loc="upper left", fontsize=8)
    fig.suptitle("The server while one of six clients reads nothing", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_fanout(costs: list[FanoutCost]) -> Figure:
    """Cost of one broadcast against room size, both ways, log-log."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.5, 3.2))
    for how in dict.fromkeys(c.how for c in costs):
        mine = [c for c in costs if c.how == how]
        left.loglog([c.members for c in mine], [c.ms_per_broadcast for c in mine], "o-",
                    label=how)
        right.loglog([c.members for c in mine], [c.queries_per_broadcast for c in mine],
                     "o-", label=how)
    left.set(xlabel="room members", ylabel="ms per broadcast", title="time (SQLite + JSON)")
    right.set(xlabel="room members", ylabel="queries per broadcast", title="store queries")
    left.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig
