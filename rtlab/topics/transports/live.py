"""Four transports side by side in the kernel, measured on real loopback sockets.

The same seeded stream of events (Poisson arrivals, small JSON payloads) is
delivered to ``clients`` clients over each of:

``polling``
    every client asks ``GET /poll?after=N`` every ``poll_interval`` seconds (like
    ``setInterval``, each at its own random phase); the answer comes at once,
    often empty;
``long-polling``
    the same request, but the server holds it until there is news (or ``hold``
    seconds pass, then answers empty) and the client asks again at once;
``sse``
    one ``GET /events`` per client, answered with a ``text/event-stream`` that
    never ends (``rtlab.wire.sse`` formats and parses it);
``websocket``
    one WebSocket per client (the ``websockets`` library); the server
    broadcasts each event as a text frame.

Theory of operation. Each transport's server runs **alone in a thread with its
own event loop**, so that the CPU time of that thread is the server's work for
that transport and nothing else (``time.pthread_getcpuclockid``): parsing
requests, framing, writing, the handlers. The clients all live in the
kernel's event loop. Every server publishes the same events at the same
scheduled moments (``time.monotonic``, shared by all threads) and stamps each
with the moment it was published; a client stamps each event when it has
parsed it; the difference is the delivery delay.

Bytes are counted where they meet the socket: every server's asyncio transport
is wrapped so that every byte it reads or writes is counted, request and
response headers, chunked encoding and WebSocket frame headers included (TCP/IP
headers, about 52 bytes per segment on loopback, are not). Compression is off
everywhere (no gzip, no permessage-deflate) so that the figures show each
protocol's own overhead.

A :class:`TransportLab` registers with :mod:`rtlab.live.registry`: running a
cell again replaces the old lab, ``stop_all`` stops it, and errors raised by
server handlers are collected and raised by ``check()`` and ``stop()``.
Servers bind 127.0.0.1 only. Bad requests (``after`` not 1-12 ASCII digits) get a
400 with a message, and the server keeps serving the others; aiohttp answers 400
itself for a header line over 8,190 bytes. The WebSocket server reads nothing
from its clients (frames they send are never parsed).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import json
import math
import random
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, cast

import aiohttp
import matplotlib.pyplot as plt
from aiohttp import web
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

from rtlab.live.registry import forget, raise_collected, register
from rtlab.topics.transports.interface import TRANSPORTS  # the same four, lightest first
from rtlab.wire.sse import STREAM_HEADERS, EventParser, format_event

__all__ = [
    "TRANSPORTS",
    "Measurement",
    "Setup",
    "TransportLab",
    "TransportStats",
    "bench_transports",
    "event_stream",
    "measure",
    "measure_many",
    "plot_costs",
    "plot_delays",
]

LOOPBACK = "127.0.0.1"
COLOURS = {"polling": "#cf222e", "long-polling": "#bf8700", "sse": "#1a7f37",
           "websocket": "#0969da"}


# -- the stream -------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """One measurement: how busy the stream is, how many clients, how long."""

    rate: float = 2.0  # events per second (Poisson arrivals)
    clients: int = 10  # clients per transport
    duration: float = 5.0  # seconds of stream
    poll_interval: float = 1.0  # polling: seconds between requests
    hold: float = 20.0  # long polling: the longest the server holds a request (s)
    seed: int = 0

    def describe(self) -> str:
        return (f"{self.rate:g} events/s, {self.clients} clients per transport, "
                f"{self.duration:g} s")


@dataclass(frozen=True)
class StreamEvent:
    seq: int  # 1, 2, 3...
    at: float  # seconds after the stream starts
    payload: str  # JSON text; it carries its own seq


def event_stream(seed: int, rate: float, duration: float) -> list[StreamEvent]:
    """A seeded stream of ``rate * duration`` events (at least one) at random moments.

    The moments are uniform over ``[0, duration)``: Poisson arrivals at ``rate``
    per second, given their count. A fixed count keeps short runs comparable.
    """
    rng = random.Random(seed)
    count = max(1, round(rate * duration))
    moments = sorted(rng.uniform(0, duration) for _ in range(count))
    events = []
    for seq, at in enumerate(moments, start=1):
        payload = json.dumps({"seq": seq, "symbol": rng.choice(("ACME", "GLOBEX", "INITECH")),
                              "price": round(rng.uniform(90, 110), 2),
                              "volume": rng.randrange(100, 5000, 100)})
        events.append(StreamEvent(seq, at, payload))
    return events


# -- counting bytes at the socket ---------------------------------------------------------


@dataclass
class Meter:
    """What one transport's server did. Written by its thread, read after a snapshot."""

    connections: int = 0  # TCP connections accepted
    bytes_in: int = 0  # bytes read from clients (requests, frames)
    bytes_out: int = 0  # bytes written to clients (headers, bodies, frames)
    requests: int = 0  # HTTP requests handled (a WebSocket handshake is one)
    idle: int = 0  # requests answered with no event
    writes: int = 0  # responses, stream writes or frames sent to a client


class _CountingTransport:
    """An asyncio transport that counts what is written through it."""

    def __init__(self, inner: asyncio.Transport, meter: Meter) -> None:
        self._inner = inner
        self._meter = meter

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._meter.bytes_out += len(data)
        self._inner.write(data)

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        chunks = list(chunks)
        self._meter.bytes_out += sum(len(c) for c in chunks)
        self._inner.writelines(chunks)

    def __getattr__(self, name: str) -> Any:  # everything else: the real transport
        return getattr(self._inner, name)


class _CountingProtocol(asyncio.Protocol):
    """Wraps a server protocol (aiohttp's): counts bytes in, hands it a counting transport."""

    def __init__(self, inner: asyncio.Protocol, meter: Meter) -> None:
        self.inner = inner
        self.meter = meter

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.meter.connections += 1
        counted = _CountingTransport(cast(asyncio.Transport, transport), self.meter)
        self.inner.connection_made(cast(asyncio.Transport, counted))

    def data_received(self, data: bytes) -> None:
        self.meter.bytes_in += len(data)
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def _counting_connection(meter: Meter) -> type[ServerConnection]:
    """A ``websockets`` server connection class that counts like ``_CountingProtocol``."""

    class CountingConnection(ServerConnection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            meter.connections += 1
            counted = _CountingTransport(cast(asyncio.Transport, transport), meter)
            super().connection_made(cast(asyncio.Transport, counted))

        def data_received(self, data: bytes) -> None:
            meter.bytes_in += len(data)
            super().data_received(data)

    return CountingConnection


# -- the servers --------------------------------------------------------------------------


class _Hub:
    """The server side of the stream, inside one server thread."""

    def __init__(self) -> None:
        self.payloads: list[str] = []  # payloads[i] has seq i + 1
        self.published: list[float] = []  # when each was published (time.monotonic)
        self.closed = False
        self._changed = asyncio.get_running_loop().create_future()
        self.on_publish: Callable[[int, str], None] | None = None

    def publish(self, event: StreamEvent) -> None:
        if self.closed:
            return
        self.payloads.append(event.payload)
        self.published.append(time.monotonic())
        if self.on_publish is not None:
            self.on_publish(event.seq, event.payload)
        self._wake()

    def since(self, after: int) -> list[tuple[int, str]]:
        return [(seq, self.payloads[seq - 1]) for seq in range(after + 1, len(self.payloads) + 1)]

    async def changed(self, timeout: float | None = None) -> None:
        """Wait until something is published, the hub closes, or ``timeout`` passes."""
        if self.closed:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._changed), timeout)
        except TimeoutError:
            pass

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if not self._changed.done():
            self._changed.set_result(None)
        self._changed = asyncio.get_running_loop().create_future()


def _after(request: web.Request) -> int:
    raw = request.query.get("after", "0")
    # ASCII only: str.isdigit() is also true for "²" and "١", which int() refuses or reads.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise web.HTTPBadRequest(text=f"'after' must be the number of the last event seen, "
                                      f"not {raw[:40]!r}\n")
    return int(raw)


class _ServerThread:
    """One transport's server, alone in a thread with its own event loop.

    Alone, so that the thread's CPU clock measures that server's work only.
    """

    def __init__(self, transport: str, setup: Setup) -> None:
        self.transport = transport
        self.setup = setup
        self.meter = Meter()
        self.errors: list[BaseException] = []
        self.port = 0
        self.hub: _Hub | None = None
        self.streams = 0  # open SSE responses or WebSockets (push transports)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.thread = threading.Thread(target=self._main, name=f"rtlab-{transport}",
                                       daemon=True)

    # -- in the kernel's loop ---------------------------------------------------
    async def start(self) -> None:
        self.thread.start()
        self.port = await asyncio.wrap_future(self._ready)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) this server's thread has used so far."""
        assert self.thread.ident is not None
        return time.clock_gettime(time.pthread_getcpuclockid(self.thread.ident))

    def publish_at(self, events: Sequence[StreamEvent], t0: float) -> None:
        """Publish ``events`` at ``t0 + event.at`` (``time.monotonic`` clock)."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._schedule, events, t0)

    async def stop(self) -> None:
        if self.loop is not None and not self._done.done():
            self.loop.call_soon_threadsafe(self._request_stop)
        if self.thread.ident is not None:
            await asyncio.wrap_future(self._done)
            self.thread.join(1.0)  # its last statement has run: this returns at once

    @property
    def url(self) -> str:
        scheme, path = {"polling": ("http", "/poll"), "long-polling": ("http", "/poll"),
                        "sse": ("http", "/events"), "websocket": ("ws", "/")}[self.transport]
        return f"{scheme}://{LOOPBACK}:{self.port}{path}"

    # -- in the server's thread ---------------------------------------------------
    def _main(self) -> None:
        loop = self.loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        except BaseException as error:
            if not self._ready.done():
                self._ready.set_exception(error)
            else:
                self.errors.append(error)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._done.set_result(None)

    def _request_stop(self) -> None:
        if self.hub is not None:
            self.hub.close()  # held requests and streams end now
        if self._stop is not None:
            self._stop.set()

    def _schedule(self, events: Sequence[StreamEvent], t0: float) -> None:
        loop = asyncio.get_running_loop()
        offset = loop.time() - time.monotonic()  # 0 for the default loop; be exact anyway
        hub = self.hub
        assert hub is not None
        for event in events:
            loop.call_at(t0 + event.at + offset, hub.publish, event)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self.hub = _Hub()
        if self.transport == "websocket":
            await self._serve_websocket(self.hub)
        else:
            await self._serve_http(self.hub)

    async def _serve_http(self, hub: _Hub) -> None:
        handlers = {"polling": ("/poll", self._poll), "long-polling": ("/poll", self._long_poll),
                    "sse": ("/events", self._sse)}
        path, handler = handlers[self.transport]
        app = web.Application()
        app.router.add_get(path, self._collecting(handler))
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        assert runner.server is not None
        factory = runner.server
        server = await asyncio.get_running_loop().create_server(
            lambda: _CountingProtocol(factory(), self.meter), LOOPBACK, 0, backlog=1024)
        self._ready.set_result(server.sockets[0].getsockname()[1])
        try:
            assert self._stop is not None
            await self._stop.wait()
        finally:
            server.close()
            await runner.cleanup()

    def _collecting(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            self.meter.requests += 1
            try:
                return await handler(request)
            except (web.HTTPException, ConnectionResetError, asyncio.CancelledError):
                raise  # an HTTP answer, or the client went away: ordinary life
            except Exception as error:
                self.errors.append(error)
                raise

        return handle

    def _events_response(self, events: list[tuple[int, str]], after: int) -> web.Response:
        self.meter.writes += 1
        if not events:
            self.meter.idle += 1
        last = events[-1][0] if events else after
        body = f'{{"next": {last}, "events": [{", ".join(p for _, p in events)}]}}'
        return web.Response(text=body, content_type="application/json")

    async def _poll(self, request: web.Request) -> web.Response:
        after = _after(request)
        assert self.hub is not None
        return self._events_response(self.hub.since(after), after)

    async def _long_poll(self, request: web.Request) -> web.Response:
        after = _after(request)
        hub = self.hub
        assert hub is not None
        deadline = time.monotonic() + self.setup.hold
        while not hub.since(after) and not hub.closed and time.monotonic() < deadline:
            await hub.changed(deadline - time.monotonic())
        return self._events_response(hub.since(after), after)

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        after = _after(request)
        hub = self.hub
        assert hub is not None
        # text/event-stream, no caching, and no buffering by nginx-like proxies
        response = web.StreamResponse(headers=STREAM_HEADERS)
        await response.prepare(request)
        self.streams += 1
        try:
            while not hub.closed:
                news = hub.since(after)
                if news:  # one write for whatever arrived since the last one
                    text = "".join(format_event(p, event_id=str(seq)) for seq, p in news)
                    await response.write(text.encode())
                    self.meter.writes += 1
                    after = news[-1][0]
                await hub.changed()
        finally:
            self.streams -= 1
        return response

    async def _serve_websocket(self, hub: _Hub) -> None:
        connections: set[ServerConnection] = set()

        def fan_out(seq: int, payload: str) -> None:
            self.meter.writes += len(connections)
            broadcast(connections, payload)

        async def handler(ws: ServerConnection) -> None:
            self.meter.requests += 1  # the upgrade request
            # Catch up and join the fan-out without awaiting in between, so that no
            # event is missed or sent twice.
            for _, payload in hub.since(0):
                broadcast([ws], payload)
                self.meter.writes += 1
            connections.add(ws)
            self.streams += 1
            try:
                await ws.wait_closed()
            finally:
                connections.discard(ws)
                self.streams -= 1

        hub.on_publish = fan_out
        async with serve(handler, LOOPBACK, 0, compression=None, ping_interval=None,
                         create_connection=_counting_connection(self.meter),
                         backlog=1024) as server:
            self._ready.set_result(next(iter(server.sockets)).getsockname()[1])
            assert self._stop is not None
            await self._stop.wait()
            server.close(close_connections=True)


# -- the clients (in the kernel's loop) -------------------------------------------------------


@dataclass
class _Inbox:
    """Every delivery to every client of one transport: (client, seq, when)."""

    deliveries: list[tuple[int, int, float]] = field(default_factory=list)
    last: dict[int, int] = field(default_factory=dict)  # client -> highest seq seen

    def take(self, client: int, payload: str) -> None:
        now = time.monotonic()
        seq = int(json.loads(payload)["seq"])
        self.deliveries.append((client, seq, now))
        self.last[client] = max(seq, self.last.get(client, 0))


def _session() -> aiohttp.ClientSession:
    # One session per client: each is a browser with its own keep-alive connection.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1),
                                 auto_decompress=False, trust_env=False)


async def _ask(session: aiohttp.ClientSession, url: str, after: int, inbox: _Inbox,
               i: int) -> int:
    """One poll: hand every event after ``after`` to the inbox; return the next cursor."""
    async with session.get(url, params={"after": str(after)}) as response:
        response.raise_for_status()
        body = await response.text()
    answer = json.loads(body)
    for event in answer["events"]:
        inbox.take(i, json.dumps(event))
    return int(answer["next"])


async def _polling_client(url: str, inbox: _Inbox, i: int, interval: float,
                          phase: float) -> None:
    async with _session() as session:
        after, start, k = 0, time.monotonic() + phase, 0
        while True:  # like setInterval: ticks at start + k * interval
            await asyncio.sleep(max(0.0, start + k * interval - time.monotonic()))
            after = await _ask(session, url, after, inbox, i)
            k = max(k + 1, math.floor((time.monotonic() - start) / interval) + 1)


async def _long_polling_client(url: str, inbox: _Inbox, i: int) -> None:
    async with _session() as session:
        after = 0
        while True:  # ask again as soon as an answer arrives
            after = await _ask(session, url, after, inbox, i)


async def _sse_client(url: str, inbox: _Inbox, i: int) -> None:
    async with _session() as session, session.get(
        url, headers={"Accept": "text/event-stream"}
    ) as response:
        response.raise_for_status()
        parser = EventParser()
        async for chunk in response.content.iter_any():
            for event in parser.feed(chunk):
                inbox.take(i, event.data)


async def _websocket_client(url: str, inbox: _Inbox, i: int) -> None:
    async with connect(url, proxy=None, compression=None, ping_interval=None,
                       close_timeout=0.5) as ws:
        async for message in ws:
            inbox.take(i, str(message))


# -- results ----------------------------------------------------------------------------------


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass
class TransportStats:
    """What one transport cost to deliver the stream to its clients."""

    transport: str
    clients: int
    events: int  # events published
    seconds: float  # how long the clients were running
    delays: list[float]  # seconds, one per delivery
    duplicates: int  # deliveries of an event a client already had
    missing: int  # (client, event) pairs never delivered
    requests: int
    idle: int
    connections: int
    bytes_in: int
    bytes_out: int
    writes: int
    cpu: float  # seconds of the server thread's CPU
    payload_bytes: int  # sum of the payloads of every delivered event

    @property
    def delivered(self) -> int:
        return len(self.delays)

    def delay_ms(self, q: float | str) -> float:
        if not self.delays:
            return math.nan
        if q == "mean":
            return 1000 * statistics.fmean(self.delays)
        if q == "max":
            return 1000 * max(self.delays)
        return 1000 * _quantile(self.delays, float(q))

    def _per_delivery(self, amount: float) -> float:
        return amount / self.delivered if self.delivered else math.nan

    @property
    def requests_per_event(self) -> float:
        """HTTP requests per delivered event (a WebSocket handshake counts as one)."""
        return self._per_delivery(self.requests)

    @property
    def bytes_per_event(self) -> float:
        """Bytes on the wire, both directions, per delivered event."""
        return self._per_delivery(self.bytes_in + self.bytes_out)

    @property
    def payload_per_event(self) -> float:
        return self._per_delivery(self.payload_bytes)

    @property
    def cpu_us_per_event(self) -> float:
        return 1e6 * self._per_delivery(self.cpu)

    @property
    def idle_per_minute_per_client(self) -> float:
        return 60 * self.idle / self.seconds / self.clients

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds


@dataclass
class Measurement:
    setup: Setup
    stats: dict[str, TransportStats]

    def __getitem__(self, transport: str) -> TransportStats:
        return self.stats[transport]

    def table(self) -> str:
        """One line per transport: delays, requests, bytes and server CPU per delivered event."""
        head = (f"{'':13}{'delay (ms):':>11} {'mean':>6} {'p50':>6} {'p95':>6} {'max':>6}  "
                f"{'req/event':>9} {'idle/min':>8} {'bytes/event':>11} {'CPU us/event':>12}")
        lines = [self.setup.describe(), head]
        for s in self.stats.values():
            lines.append(
                f"{s.transport:<24} {s.delay_ms('mean'):6.0f} {s.delay_ms(0.5):6.0f} "
                f"{s.delay_ms(0.95):6.0f} {s.delay_ms('max'):6.0f}  "
                f"{s.requests_per_event:9.2f} {s.idle_per_minute_per_client:8.1f} "
                f"{s.bytes_per_event:11.0f} {s.cpu_us_per_event:12.0f}")
        first = next(iter(self.stats.values()))
        lines.append(f"({first.events} events x {first.clients} clients = "
                     f"{first.events * first.clients} deliveries per transport; payload "
                     f"{first.payload_per_event:.0f} bytes per event; idle/min = empty "
                     "answers per minute per client)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.table()


# -- the lab ----------------------------------------------------------------------------------

_gc_holds = [0, False]  # labs measuring now; whether we turned the collector off


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while any lab measures.

    A collection runs in whichever thread happens to trigger it and walks every
    object of the process, so it would bill one server's CPU clock for everyone's
    garbage. A few seconds without it cost a few megabytes.
    """
    if _gc_holds[0] == 0:
        _gc_holds[1] = gc.isenabled()
        gc.disable()
    _gc_holds[0] += 1
    try:
        yield
    finally:
        _gc_holds[0] -= 1
        if _gc_holds[0] == 0 and _gc_holds[1]:
            gc.enable()



class TransportLab:
    """Four servers (one thread each) and their clients, measuring one :class:`Setup`."""

    def __init__(self, name: str, setup: Setup, transports: Sequence[str]) -> None:
        unknown = set(transports) - set(TRANSPORTS)
        if unknown:
            raise ValueError(f"unknown transports {sorted(unknown)}; choose from {TRANSPORTS}")
        self.name = name
        self.setup = setup
        self.servers = {t: _ServerThread(t, setup) for t in transports}
        self.inboxes = {t: _Inbox() for t in transports}
        self.clients: list[asyncio.Task[None]] = []
        self.errors: list[BaseException] = []

    @classmethod
    async def start(cls, name: str = "transports", setup: Setup | None = None,
                    transports: Sequence[str] = TRANSPORTS) -> TransportLab:
        """Start the servers on 127.0.0.1 (free ports); re-running replaces ``name``."""
        lab = cls(name, setup or Setup(), transports)
        await register(name, lab)
        await asyncio.gather(*(s.start() for s in lab.servers.values()))
        return lab

    async def run(self) -> Measurement:
        """Connect the clients, play the stream, let it drain, and measure."""
        with _gc_paused():
            return await self._run()

    async def _run(self) -> Measurement:
        setup = self.setup
        events = event_stream(setup.seed, setup.rate, setup.duration)
        rng = random.Random(setup.seed * 7919 + 1)
        cpu0 = {t: s.cpu_seconds() for t, s in self.servers.items()}
        began = time.monotonic()
        self._start_clients(rng)
        await self._until(lambda: all(s.streams >= setup.clients for t, s in self.servers.items()
                                      if t in ("sse", "websocket")), timeout=10.0,
                          what="the SSE and WebSocket clients to connect")
        t0 = time.monotonic() + 0.05
        for server in self.servers.values():
            server.publish_at(events, t0)
        await asyncio.sleep(max(0.0, t0 + setup.duration - time.monotonic()))
        wanted = len(events)  # drain: until every client has the last event (or time is up)
        await self._until(
            lambda: all(len(inbox.last) == setup.clients and min(inbox.last.values()) >= wanted
                        for inbox in self.inboxes.values()),
            timeout=setup.poll_interval + 2.0, what=None)
        ended = time.monotonic()
        cpu = {t: s.cpu_seconds() - cpu0[t] for t, s in self.servers.items()}
        meters = {t: replace(s.meter) for t, s in self.servers.items()}
        published = {t: list(s.hub.published) if s.hub else [] for t, s in self.servers.items()}
        await self._stop_clients()
        self.check()
        payload_size = {e.seq: len(e.payload.encode()) for e in events}
        stats = {}
        for t in self.servers:
            seen: set[tuple[int, int]] = set()
            delays, duplicates, payload = [], 0, 0
            for client, seq, when in self.inboxes[t].deliveries:
                if (client, seq) in seen:
                    duplicates += 1
                    continue
                seen.add((client, seq))
                delays.append(when - published[t][seq - 1])
                payload += payload_size[seq]
            m = meters[t]
            stats[t] = TransportStats(
                t, setup.clients, len(events), ended - began, delays, duplicates,
                len(events) * setup.clients - len(seen), m.requests, m.idle, m.connections,
                m.bytes_in, m.bytes_out, m.writes, cpu[t], payload)
        return Measurement(setup, stats)

    def _start_clients(self, rng: random.Random) -> None:
        loop = asyncio.get_running_loop()
        for t, server in self.servers.items():
            for i in range(self.setup.clients):
                inbox = self.inboxes[t]
                coro: Awaitable[None]
                if t == "polling":
                    phase = rng.uniform(0, self.setup.poll_interval)
                    coro = _polling_client(server.url, inbox, i, self.setup.poll_interval, phase)
                elif t == "long-polling":
                    coro = _long_polling_client(server.url, inbox, i)
                elif t == "sse":
                    coro = _sse_client(server.url, inbox, i)
                else:
                    coro = _websocket_client(server.url, inbox, i)
                task = loop.create_task(cast(Any, coro))
                task.add_done_callback(self._client_done)
                self.clients.append(task)

    def _client_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]

    async def _until(self, ready: Callable[[], bool], *, timeout: float,
                     what: str | None) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            self.check()
            if time.monotonic() > deadline:
                if what is None:
                    return  # the measurement will say what is missing
                raise TimeoutError(f"waited {timeout:g} s for {what}")
            await asyncio.sleep(0.01)

    async def _stop_clients(self) -> None:
        for task in self.clients:
            task.cancel()
        await asyncio.gather(*self.clients, return_exceptions=True)
        self.clients = []

    def check(self) -> None:
        """Raise the errors servers and clients hit so far (and forget them)."""
        errors, self.errors = self.errors, []
        for server in self.servers.values():
            errors += server.errors
            server.errors = []
        raise_collected(errors, f"lab {self.name!r}")

    async def stop(self) -> None:
        """Stop the clients and every server thread; raise errors they collected."""
        forget(self.name, self)
        await self._stop_clients()
        await asyncio.gather(*(s.stop() for s in self.servers.values()))
        self.check()

    def __repr__(self) -> str:
        ports = ", ".join(f"{t} :{s.port}" for t, s in self.servers.items())
        return f"<TransportLab {self.name!r}: {ports}>"


async def measure(setup: Setup | None = None, *, name: str = "transports",
                  transports: Sequence[str] = TRANSPORTS) -> Measurement:
    """Start a lab, measure ``setup`` on every transport, stop it all."""
    lab = await TransportLab.start(name, setup, transports)
    try:
        return await lab.run()
    finally:
        await lab.stop()


async def measure_many(setups: Sequence[Setup], *, name: str = "transports-sweep",
                       transports: Sequence[str] = TRANSPORTS) -> list[Measurement]:
    """Measure several setups at the same time (counts do not mind; delays would)."""
    return list(await asyncio.gather(*(
        measure(s, name=f"{name}-{i}", transports=transports) for i, s in enumerate(setups))))


# -- plots ------------------------------------------------------------------------------------


def plot_delays(measurement: Measurement, title: str = "") -> Figure:
    """Cumulative distribution of delivery delays, one line per transport, log time axis."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for t, s in measurement.stats.items():
        ordered = sorted(1000 * d for d in s.delays)
        if not ordered:
            continue
        share = [(i + 1) / len(ordered) for i in range(len(ordered))]
        ax.step(ordered, share, where="post", color=COLOURS[t], linewidth=2,
                label=f"{t}: mean {s.delay_ms('mean'):.0f} ms, p95 {s.delay_ms(0.95):.0f} ms")
    half = 500 * measurement.setup.poll_interval
    ax.axvline(half, color="#57606a", linestyle=":", linewidth=1)
    ax.annotate(" half the poll interval", (half, 0.04), fontsize=8, color="#57606a")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_xlabel("delivery delay (ms, log scale): published at the server -> parsed by a client")
    ax.set_ylabel("share of deliveries")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.25)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    ax.set_title(title or measurement.setup.describe(), fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def plot_costs(measurements: Sequence[Measurement], *, x: str = "rate",
               title: str = "") -> Figure:
    """Requests and bytes per delivered event against ``x`` ("rate" or "clients")."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    points = sorted(measurements, key=lambda m: float(getattr(m.setup, x)))
    xs = [float(getattr(m.setup, x)) for m in points]
    styles = {"polling": "o-", "long-polling": "o-", "sse": "o-", "websocket": "s--"}
    for t in points[0].stats:
        left.plot(xs, [m[t].requests_per_event for m in points], styles[t], color=COLOURS[t],
                  label=t)
        right.plot(xs, [m[t].bytes_per_event for m in points], styles[t], color=COLOURS[t],
                   label=t)
    right.plot(xs, [statistics.fmean(s.payload_per_event for s in m.stats.values())
                    for m in points], ":", color="#57606a", label="the payload itself")
    xlabel = "update rate (events per second)" if x == "rate" else "clients per transport"
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    for ax, ylabel in ((left, "HTTP requests per delivered event"),
                       (right, "bytes on the wire per delivered event")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(xs)
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(plain)
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.25)
        ax.spines[["top", "right"]].set_visible(False)
    left.legend(fontsize=8, frameon=False)
    right.legend(handles=right.lines[-1:], fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    fig.tight_layout()
    return fig


# -- benchmark --------------------------------------------------------------------------------


def bench_transports() -> None:
    """Print delay and cost figures of the four transports (``rtlab.bench`` runs it)."""

    async def main() -> None:
        # One at a time, so that the delays are not those of a shared CPU.
        for rate, clients in ((2.0, 10), (0.5, 10), (8.0, 10), (2.0, 50)):
            print((await measure(Setup(rate=rate, clients=clients, duration=6.0, seed=1)))
                  .table(), end="\n\n")

    asyncio.run(main())
