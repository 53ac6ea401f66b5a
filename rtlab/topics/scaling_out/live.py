"""Module 10 live: the same relay object, run by real servers against real Redis.

A :class:`RelayNode` is one chat server: a WebSocket server on 127.0.0.1 whose clients
connect to ``/?room=R&client=C[&last_seen=ID]``, a Redis connection that carries out
the relay's commands in order, a pub/sub subscription (``room:*``) whose announcements
it feeds to the relay, and a tick. Like websockets' ``data_received``, the node only
feeds the sans-I/O relay and executes what it returns:

- ``Publish`` -> one Lua script: ``XADD stream:<room> MAXLEN ~ 10000`` and ``PUBLISH
  room:<room> "<id> <data>"`` (atomic, so announcements come in stream order);
- ``Read`` -> ``XRANGE stream:<room> (after +`` and the stream's last id, in one
  transaction; ``Present``/``Absent`` -> ``SET presence:<room>:<client> <server> PX``
  / a compare-and-delete script; ``Deliver`` -> a JSON frame ``{"id", "text"}``.

Commands wait and are retried while Redis is down (so nothing the relay published is
dropped by a restart); the subscription is re-made when Redis comes back, and then the
relay's ``reconnected`` is called. Bad input gets a clear answer and harms no one else:
a client without ``room``/``client``, or with a ``last_seen`` that is not a stream id
(two ASCII numbers below 2^64, as Redis takes them) or is ahead of the room's stream (an
id it never gave), is closed with 1008 and the reason (cut to fit a close frame);
an announcement that does not parse is counted in ``node.bad_input`` and skipped; a
relay that raises is recorded (``check()`` raises it) and the node keeps serving its
other rooms. :meth:`RelayNode.kill` makes the server die
without a word (connections cut, no leave, presence keys left to their TTL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rtlab.learner import describe_error
from rtlab.live import LiveServer
from rtlab.live.registry import forget, raise_collected, register
from rtlab.topics.scaling_out.interface import (
    Absent,
    Command,
    Deliver,
    Present,
    Publish,
    Read,
    ReadResult,
    Relay,
    stream_id_order,
)
from rtlab.wire.websocket import close_reason

__all__ = ["RelayNode", "RoomClient", "Tally", "publish_raw", "tally"]

STREAM_CAP = 10_000
RESUBSCRIBE_AFTER = 0.25  # seconds between attempts to subscribe again
DOWN = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, OSError)
PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'd', ARGV[1])
redis.call('PUBLISH', ARGV[3], id .. ' ' .. ARGV[1])
return id
"""
ABSENT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _send(relay: Relay, *, client: str, room: str, text: str) -> list[Command]:
    return relay.send(client, room, text, time.monotonic())


def _redis(url: str) -> aioredis.Redis:
    # No silent retries inside redis-py: the node decides what a drop means.
    return aioredis.Redis.from_url(url, decode_responses=True, retry=Retry(NoBackoff(), 0),
                                   socket_connect_timeout=0.5)


class RelayNode:
    """One chat server process's worth: WebSocket clients, a relay, Redis."""

    def __init__(self, name: str, relay: Relay, redis_url: str, tick_every: float) -> None:
        self.name, self.relay, self.redis_url = name, relay, redis_url
        self.tick_every = tick_every
        self.server: LiveServer | None = None
        self.clients: dict[str, ServerConnection] = {}
        self.errors: list[BaseException] = []
        self.bad_input: list[str] = []
        self.reconnects = 0
        self.alive = False
        self._queue: asyncio.Queue[Command] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._db = _redis(redis_url)

    @classmethod
    async def start(cls, name: str, relay: Relay, redis_url: str, *,
                    tick_every: float = 0.2) -> RelayNode:
        node = cls(name, relay, redis_url, tick_every)
        await register(name, node)
        node.server = await LiveServer.start(f"{name}-ws", node._serve)
        node._run()
        return node

    def _run(self) -> None:
        self.alive = True
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._execute()), loop.create_task(self._subscribe()),
                       loop.create_task(self._tick())]

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    # -- feeding the relay -----------------------------------------------------------
    def _call(self, what: str, fn: Callable[[Relay], Any]) -> None:
        try:
            commands = fn(self.relay)
            if not isinstance(commands, list):
                raise TypeError(f"returned {commands!r}, not a list of commands")
        except Exception as error:  # the relay's bug: recorded, the node keeps serving
            self.errors.append(RuntimeError(f"{self.name}: {what} raised "
                                            f"{describe_error(error)}"))
            return
        for command in commands:
            self._queue.put_nowait(command)

    async def _serve(self, conn: ServerConnection) -> None:
        query = parse_qs(urlparse(conn.request.path if conn.request else "").query)
        room, client = query.get("room", [""])[0], query.get("client", [""])[0]
        last_seen = query.get("last_seen", [None])[0]
        if not room or not client:
            await conn.close(1008, "room and client are required: /?room=R&client=C")
            return
        if last_seen is not None and not is_stream_id(last_seen):
            await conn.close(1008, close_reason(f"last_seen {last_seen[:40]!r} is not a stream id"))
            return
        if last_seen is not None and await self._ahead(room, last_seen):
            why = f"last_seen {last_seen!r} is ahead of room {room!r}'s stream"
            await conn.close(1008, close_reason(why))
            return
        old = self.clients.get(client)
        if old is not None:  # the same client again: the newer connection wins
            await old.close(1008, "replaced by a newer connection")
        self.clients[client] = conn
        await conn.send(json.dumps({"server": self.name}))
        self._call(f"join({client!r}, {room!r}, {last_seen!r})",
                   lambda r: r.join(client, room, last_seen, time.monotonic()))
        try:
            async for text in conn:
                if isinstance(text, str):
                    self._call("send", partial(_send, client=client, room=room, text=text))
        finally:
            if self.clients.get(client) is conn:
                del self.clients[client]
                if self.alive:  # a dead server says nothing
                    self._call(f"leave({client!r})",
                               lambda r: r.leave(client, room, time.monotonic()))

    async def _ahead(self, room: str, last_seen: str) -> bool:
        """Is ``last_seen`` past the room's last entry (an id this stream never gave)?"""
        try:
            last = await self._db.xrevrange(f"stream:{room}", max="+", min="-", count=1)
        except DOWN:
            return False  # Redis is restarting: give the client the benefit of the doubt
        tail = last[0][0] if last else "0-0"
        return stream_id_order(last_seen) > stream_id_order(tail)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_every)
            self._call("tick", lambda r: r.tick(time.monotonic()))

    async def _subscribe(self) -> None:
        first = True
        while True:
            pubsub = _redis(self.redis_url).pubsub()
            try:
                await pubsub.psubscribe("room:*")
                if not first:
                    self.reconnects += 1
                    self._call("reconnected", lambda r: r.reconnected(time.monotonic()))
                first = False
                while True:
                    item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if item is not None and item["type"] == "pmessage":
                        self._announced(item["channel"], item["data"])
            except DOWN:
                # Resubscribing takes a moment (here a fixed 0.25 s, in production a
                # backoff): announcements made meanwhile are lost to this server.
                await asyncio.sleep(RESUBSCRIBE_AFTER)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _announced(self, channel: str, payload: str) -> None:
        room = channel.removeprefix("room:")
        entry_id, _, data = payload.partition(" ")
        if not is_stream_id(entry_id):
            self.bad_input.append(f"{channel}: announcement {payload[:60]!r} does not parse "
                                  "(expected '<stream id> <data>'): skipped")
            return
        self._call(f"published({room!r}, {entry_id!r})",
                   lambda r: r.published(room, entry_id, data, time.monotonic()))

    # -- carrying out commands ----------------------------------------------------------
    async def _execute(self) -> None:
        queue = self._queue
        while self.alive and queue is self._queue:  # a killed node's executor just ends
            command = await queue.get()
            if isinstance(command, Deliver):
                conn = self.clients.get(command.client)
                if conn is not None:
                    with contextlib.suppress(ConnectionClosed):
                        await conn.send(json.dumps({"id": command.id, "text": command.text}))
                continue
            while self.alive:
                try:
                    await self._redis_command(command)
                    break
                except DOWN:  # Redis restarting: the command waits, in order
                    await asyncio.sleep(0.05)
                except (ResponseError, TypeError, AttributeError) as error:
                    self.errors.append(RuntimeError(f"{self.name}: Redis refused {command!r}: "
                                                    f"{error}"))
                    break

    async def _redis_command(self, command: Command) -> None:
        db = self._db
        if isinstance(command, Publish):
            await db.eval(PUBLISH, 1, f"stream:{command.room}", command.data,
                          STREAM_CAP, f"room:{command.room}")
        elif isinstance(command, Read):
            key = f"stream:{command.room}"
            async with db.pipeline(transaction=True) as pipe:
                if command.after != "$":
                    pipe.xrange(key, min=f"({command.after}", max="+")
                pipe.xrevrange(key, max="+", min="-", count=1)
                answers = await pipe.execute()
            entries = ([(i, fields.get("d", "")) for i, fields in answers[0]]
                       if command.after != "$" else [])
            last = answers[-1]
            result = ReadResult(command.room, command.after, command.client, entries,
                                last[0][0] if last else "0-0")
            self._call(f"read({command.room!r}, after={command.after!r})",
                       lambda r: r.read(result, time.monotonic()))
        elif isinstance(command, Present):
            ttl = None if command.ttl is None else max(1, int(command.ttl * 1000))
            await db.set(f"presence:{command.room}:{command.client}", self.name, px=ttl)
        elif isinstance(command, Absent):
            await db.eval(ABSENT, 1, f"presence:{command.room}:{command.client}", self.name)
        else:
            raise TypeError(f"not a command: {command!r}")

    # -- observing and faults -------------------------------------------------------------
    async def who(self, room: str) -> list[str]:
        """Who is online in ``room``, asked of Redis through this server (one answer)."""
        keys = [k async for k in self._db.scan_iter(match=f"presence:{room}:*")]
        return sorted(k.rsplit(":", 1)[1] for k in keys)

    def local(self) -> list[str]:
        """The clients connected to this server (what it alone would call "online")."""
        return sorted(self.clients)

    async def kill(self, downtime: float | None = None, fresh: Relay | None = None) -> None:
        """Die without a word: connections cut with no close frame, no leave, no Absent.

        With ``downtime``, come back that much later as a fresh process: ``fresh`` (a
        new relay that remembers nothing) serves on the same port."""
        self.alive = False
        for task in self._tasks:
            task.cancel()
        if self.server is not None:
            for conn in list(self.server.connections):
                conn.transport.abort()
            # in the same turn: stop listening (refuse_for waits for the handlers to end)
            await self.server.refuse_for(1e9 if downtime is None else downtime)
        self.clients.clear()
        self._queue = asyncio.Queue()
        if downtime is not None and fresh is not None:
            async def come_back() -> None:
                await asyncio.sleep(downtime * 0.9)  # ready before the port listens again
                self.relay = fresh
                self._run()
            self._tasks = [asyncio.get_running_loop().create_task(come_back())]

    def check(self) -> None:
        errors, self.errors = self.errors, []
        raise_collected(errors, f"relay node {self.name!r}")

    async def stop(self) -> None:
        forget(self.name, self)
        self.alive = False
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # redis-py can swallow a cancellation: wait briefly, not forever
            await asyncio.wait(self._tasks, timeout=1.0)
        if self.server is not None:
            await self.server.stop()
        await self._db.aclose()
        self.check()

    def __repr__(self) -> str:
        return f"<RelayNode {self.name!r} port {self.server and self.server.port}, " \
               f"{len(self.clients)} clients>"


async def publish_raw(redis_url: str, room: str, payload: str) -> None:
    """Announce ``payload`` on the room's channel as a foreign producer would (bad input)."""
    db = _redis(redis_url)
    try:
        await db.publish(f"room:{room}", payload)
    finally:
        await db.aclose()


# -- clients -------------------------------------------------------------------------------


@dataclass
class Received:
    t: float
    id: str
    text: str
    server: str


@dataclass
class RoomClient:
    """A chat client that reconnects (through the load balancer) with its last id."""

    url: str
    client: str
    room: str
    resume: bool = True  # send last_seen when reconnecting
    reconnect_after: float = 0.3  # seconds, after a drop (a fixed delay: the herd is module 04)
    cookies: bool = False  # keep the load balancer's cookie (sticky sessions)
    received: list[Received] = field(default_factory=list)
    servers: list[tuple[float, str]] = field(default_factory=list)  # (when, which) per visit
    closes: list[tuple[float, int | None, str]] = field(default_factory=list)
    last_seen: str | None = None
    server: str | None = None
    cookie: str | None = None
    conn: ClientConnection | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def address(self) -> str:
        query = {"room": self.room, "client": self.client}
        if self.resume and self.last_seen is not None:
            query["last_seen"] = self.last_seen
        return f"{self.url}/?{urlencode(query)}"

    async def _run(self) -> None:
        while True:
            headers = {"Cookie": self.cookie} if self.cookies and self.cookie else None
            try:
                async with connect(self.address(), additional_headers=headers,
                                   open_timeout=2, ping_interval=None) as conn:
                    self.conn = conn
                    cookie = conn.response.headers.get("Set-Cookie") if conn.response else None
                    if cookie:
                        self.cookie = cookie.split(";", 1)[0]
                    async for raw in conn:
                        self._received(json.loads(raw))
            except (OSError, TimeoutError, InvalidStatus, ConnectionClosed):
                pass
            finally:
                self.connected.clear()
                if self.conn is not None:
                    self.closes.append((time.monotonic(), self.conn.close_code,
                                        self.conn.close_reason or ""))
                self.conn = None
            await asyncio.sleep(self.reconnect_after)

    def _received(self, message: dict[str, Any]) -> None:
        if "server" in message:
            self.server = str(message["server"])
            self.servers.append((time.monotonic(), self.server))
            self.connected.set()
            return
        entry_id, text = str(message["id"]), str(message["text"])
        self.received.append(Received(time.monotonic(), entry_id, text, self.server or "?"))
        try:
            if self.last_seen is None or stream_id_order(entry_id) > stream_id_order(
                    self.last_seen):
                self.last_seen = entry_id
        except ValueError:
            pass

    async def send(self, text: str) -> bool:
        conn = self.conn
        if conn is None or not self.connected.is_set():
            return False
        try:
            await conn.send(text)
        except ConnectionClosed:
            return False
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.conn is not None:
            await self.conn.close()


@dataclass
class Tally:
    """Who got what: per message, how many of the members that should have got it did."""

    sent: int
    expected: int
    delivered: int
    missing: int
    duplicates: int
    latencies: list[float]

    @property
    def p50_ms(self) -> float:
        return 1000 * statistics.median(self.latencies) if self.latencies else math.nan

    @property
    def p99_ms(self) -> float:
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    def summary(self) -> str:
        return (f"{self.sent} messages, {self.expected} deliveries expected: "
                f"{self.delivered} delivered, {self.missing} missing, "
                f"{self.duplicates} duplicates")


def tally(clients: Iterable[RoomClient], sent: dict[str, tuple[float, str]],
          reached: set[str] | None = None) -> Tally:
    """Count deliveries of ``sent`` ({text: (when, sender)}) to every client of its room.

    A message that neither reached Redis (``reached``: texts found in the streams) nor
    any client died with its server (the sender's send "succeeded" into a socket about
    to be cut): it is not counted."""
    members = list(clients)
    expected = delivered = missing = duplicates = 0
    latencies: list[float] = []
    got = {r.text for c in members for r in c.received} | (reached or set())
    sent = {text: value for text, value in sent.items() if text in got}
    for text, (t, _) in sent.items():
        for c in members:
            expected += 1
            copies = [r for r in c.received if r.text == text]
            if copies:
                delivered += 1
                latencies.append(copies[0].t - t)
            else:
                missing += 1
            duplicates += max(0, len(copies) - 1)
    return Tally(len(sent), expected, delivered, missing, duplicates, latencies)


def is_stream_id(text: str) -> bool:
    """``ms-seq`` as Redis takes it: ASCII digits, each part below 2^64.

    ``stream_id_order`` alone would take ``"١-٢"`` (``int()`` reads any Unicode
    digit), which Redis then refuses, failing the relay's read instead of the client.
    """
    if not text.isascii():
        return False
    try:
        ms, seq = stream_id_order(text)
    except ValueError:
        return False
    return ms < 2**64 and seq < 2**64
