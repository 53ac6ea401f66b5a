"""Rooms live in the kernel: a room server on real loopback WebSockets, members, bursts.

The :class:`RoomServer` is the thin I/O shell around sans-I/O rooms (the exercise's
``Room``, or a :class:`DemoRoom`): it parses each frame, calls ``room.join`` or
``room.publish`` and writes what they return; a :class:`Member` does the same around
a client object (the exercise's ``Client``, or a demo client). Protocol: see
:mod:`rtlab.topics.ordering_and_rooms.interface`; a member sends
``{"type": "send", "room": R, "id": ..., "body": ...}`` to publish.

Bad input is answered, never fatal to anyone else:

- a frame that is not a JSON object of a known type, or a binary frame: the
  connection is closed with 1008 (policy violation) and a reason; the room and the
  other members carry on. JSON is parsed with bounds
  (:func:`rtlab.wire.bounded_json.loads_bounded`): nested at most ``MAX_DEPTH``
  (8) deep, no ``NaN``/``Infinity``; a frame over ``MAX_FRAME`` (64 KiB) is closed
  by websockets itself with 1009;
- a join for an unknown room, or a ``since`` that is not a sequence number of the
  room (malformed, negative, in the future): ``{"type": "error", ...}``, and the
  connection stays open;
- a message id sent twice: the room drops the retry (the exercise's ``Room`` does).

``hops=0.05`` sends every live message through one of two relays with its own
random delay (up to 50 ms), as when a room spans servers: later messages overtake
earlier ones. Room or client errors are collected and raised by ``check()``/``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from rtlab.live.registry import forget, raise_collected, register
from rtlab.live.server import LiveServer
from rtlab.topics.ordering_and_rooms.interface import (
    BACKFILL,
    ClientLike,
    Delivery,
    Message,
    RoomLike,
)
from rtlab.wire.bounded_json import JSONRefused, loads_bounded

__all__ = [
    "POLICY_VIOLATION",
    "ArrivalClient",
    "DemoRoom",
    "InOrderClient",
    "JoinRace",
    "LiveHistory",
    "Member",
    "RoomServer",
    "burst",
    "join_race",
]

POLICY_VIOLATION = 1008  # the close code for frames that break the protocol
MAX_FRAME = 64 * 1024
MAX_DEPTH = 8  # a request is one flat object; the room's replies nest 2-3 deep


class LiveHistory:
    """A bounded log whose reads take ``read_delay`` seconds (a database query)."""

    def __init__(self, capacity: int, read_delay: float) -> None:
        self.capacity = capacity
        self.read_delay = read_delay
        self.kept: deque[Message] = deque(maxlen=capacity)
        self.appended: list[tuple[float, Message]] = []  # everything, for the lesson's tally

    def append(self, message: Message) -> None:
        self.kept.append(message)
        self.appended.append((time.monotonic(), message))

    async def read(self, after: int) -> list[Message]:
        await asyncio.sleep(self.read_delay / 2)  # the query travels and runs...
        found = [dict(m) for m in self.kept if m["seq"] > after]
        await asyncio.sleep(self.read_delay / 2)  # ...and its answer travels back
        return found


# -- demo rooms and clients (the lesson's before-and-after; the exercise does more) ----


class DemoRoom:
    """A room with sequence numbers and a join in either order (no resync, no retries)."""

    def __init__(self, name: str, history: Any, *, backfill: int = BACKFILL,
                 subscribe_first: bool = True) -> None:
        self.name, self.history, self.backfill = name, history, backfill
        self.subscribe_first = subscribe_first
        self.seq = 0
        self.members: set[str] = set()

    def publish(self, sender: str, msg_id: str, body: str) -> list[Delivery]:
        self.seq += 1
        message = {"type": "msg", "room": self.name, "seq": self.seq, "id": msg_id,
                   "sender": sender, "body": body}
        self.history.append(message)
        return [(member, message) for member in self.members]

    async def join(self, member: str, since: int | None) -> list[Message]:
        if since is not None and (type(since) is not int or not 0 <= since <= self.seq):
            raise ValueError(f"since={since!r} is not a position in room {self.name!r}")
        after = max(0, self.seq - self.backfill) if since is None else since
        if self.subscribe_first:
            self.members.add(member)
        kept = await self.history.read(after)
        if not self.subscribe_first:
            self.members.add(member)  # too late for what was published during the read
        return [{"type": "joined", "room": self.name, "after": after}, *kept]

    def leave(self, member: str) -> None:
        self.members.discard(member)


class ArrivalClient:
    """Shows each message the moment it arrives: TCP order is all it relies on."""

    def __init__(self, room: str, *, max_pending: int = 0, dedupe: bool = False) -> None:
        self.room, self.dedupe = room, dedupe
        self.seen: set[int] = set()
        self.last = 0

    def connected(self, now: float) -> list[Message]:
        return [{"type": "join", "room": self.room, "since": self.last or None}]

    def receive(self, message: Message, now: float) -> list[Message]:
        if message.get("type") != "msg":
            return []
        if self.dedupe and message["seq"] in self.seen:
            return []
        self.seen.add(message["seq"])
        self.last = max(self.last, message["seq"])
        return [message]

    def requests(self, now: float) -> list[Message]:
        return []

    def pending(self) -> int:
        return 0


class InOrderClient:
    """Drops duplicates and holds early messages until the gap before them fills.

    The sharp-edges page's ``InOrder``, for the lesson: no bound on the buffer, no
    resend request, no resync (the exercise adds those).
    """

    def __init__(self, room: str, *, max_pending: int = 0) -> None:
        self.room = room
        self.next: int | None = None
        self.held: dict[int, Message] = {}

    def connected(self, now: float) -> list[Message]:
        since = None if self.next is None else self.next - 1
        return [{"type": "join", "room": self.room, "since": since}]

    def receive(self, message: Message, now: float) -> list[Message]:
        if message.get("type") == "joined" and self.next is None:
            self.next = message["after"] + 1
        elif message.get("type") == "msg":
            seq = message["seq"]
            if not (self.next is not None and seq < self.next):
                self.held[seq] = message
        shown: list[Message] = []
        while self.next is not None and self.next in self.held:
            shown.append(self.held.pop(self.next))
            self.next += 1
        self.held = {s: m for s, m in self.held.items() if self.next is None or s >= self.next}
        return shown

    def requests(self, now: float) -> list[Message]:
        return []

    def pending(self) -> int:
        return len(self.held)


# -- the server ------------------------------------------------------------------------


@dataclass
class JoinRecord:
    who: str
    since: int | None
    began: float
    known: int  # messages the room had appended when the join began


class RoomServer:
    """Rooms behind a :class:`LiveServer` on 127.0.0.1; re-running replaces ``name``."""

    def __init__(self, name: str, room_factory: Callable[..., RoomLike], rooms: Iterable[str],
                 capacity: int, read_delay: float, backfill: int, hops: float,
                 seed: int) -> None:
        self.name = name
        self.histories = {r: LiveHistory(capacity, read_delay) for r in rooms}
        self.rooms: dict[str, RoomLike] = {
            r: room_factory(r, h, backfill=backfill) for r, h in self.histories.items()}
        self.hops = hops
        self.rng = random.Random(seed)
        self.joins: list[JoinRecord] = []
        self.refused: list[tuple[str, str]] = []  # (what, why) for each bad request
        self.errors: list[BaseException] = []
        self.server: LiveServer | None = None
        self._outboxes: dict[str, asyncio.Queue[str]] = {}
        self._ids = itertools.count(1)

    @classmethod
    async def start(
        cls, name: str, room_factory: Callable[..., RoomLike], *,
        rooms: Iterable[str] = ("lobby",), capacity: int = 1000, read_delay: float = 0.05,
        backfill: int = BACKFILL, hops: float = 0.0, seed: int = 0,
    ) -> RoomServer:
        """Serve ``rooms`` (each a ``room_factory(name, history, backfill=...)``)."""
        service = cls(name, room_factory, rooms, capacity, read_delay, backfill, hops, seed)
        await register(name, service)
        service.server = await LiveServer.start(name, service._handle, max_size=MAX_FRAME)
        return service

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def published(self, room: str = "lobby") -> list[Message]:
        """Every message the room appended to its history, in order: the truth."""
        return [m for _, m in self.histories[room].appended]

    # -- one connection -----------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        member = f"conn{next(self._ids)}"
        outbox: asyncio.Queue[str] = asyncio.Queue()
        self._outboxes[member] = outbox
        writer = asyncio.get_running_loop().create_task(self._write(ws, outbox))
        joined: set[str] = set()
        try:
            async for frame in ws:
                request, why = _parse(frame)
                if request is None:
                    self.refused.append((_preview(frame), why))
                    await ws.close(POLICY_VIOLATION, why[:120])
                    return
                name = request["room"]
                room = self.rooms.get(name)
                if room is None:
                    self._error(member, name, f"no room named {name!r}")
                elif request["type"] == "join":
                    if await self._join(member, room, name, request):
                        joined.add(name)
                else:
                    self._publish(room, str(request.get("sender", member)), request)
        except ConnectionClosed:
            pass
        finally:
            for name in joined:
                self._leave(self.rooms[name], member)
            del self._outboxes[member]
            writer.cancel()

    async def _join(self, member: str, room: RoomLike, name: str, request: Message) -> bool:
        since = request.get("since")
        self.joins.append(JoinRecord(str(request.get("who", member)), since, time.monotonic(),
                                     len(self.histories[name].appended)))
        try:
            reply = await room.join(member, since)
        except ValueError as error:
            self._error(member, name, str(error))
            return False
        except Exception as error:
            self.errors.append(error)
            self._error(member, name, "the room failed to answer the join")
            return False
        for message in reply:
            self._send(member, message, hop=False)
        return True

    def _publish(self, room: RoomLike, sender: str, request: Message) -> None:
        deliveries = self._call(lambda: room.publish(sender, request["id"], request["body"]))
        for member, message in deliveries or []:
            self._send(member, message, hop=True)

    def _leave(self, room: RoomLike, member: str) -> None:
        self._call(lambda: room.leave(member))

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as error:
            self.errors.append(error)
            return None

    def _error(self, member: str, room: str, reason: str) -> None:
        self.refused.append((room, reason))
        self._send(member, {"type": "error", "room": room, "reason": reason}, hop=False)

    def _send(self, member: str, message: Message, *, hop: bool) -> None:
        outbox = self._outboxes.get(member)
        if outbox is None:
            return  # gone
        text = json.dumps(message)
        if hop and self.hops:  # through one of two relays, each with its own delay
            delay = self.rng.uniform(0, self.hops)
            asyncio.get_running_loop().call_later(delay, outbox.put_nowait, text)
        else:
            outbox.put_nowait(text)

    @staticmethod
    async def _write(ws: ServerConnection, outbox: asyncio.Queue[str]) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.send(await outbox.get())

    # -- observing and stopping -----------------------------------------------------
    def check(self) -> None:
        """Raise what the rooms raised (and forget it)."""
        errors, self.errors = self.errors, []
        raise_collected(errors, f"room server {self.name!r}")
        if self.server is not None:
            self.server.check()

    async def stop(self) -> None:
        forget(self.name, self)
        if self.server is not None:
            await self.server.stop()
        self.check()

    def __repr__(self) -> str:
        counts = ", ".join(f"{r}: {len(h.appended)} messages" for r, h in self.histories.items())
        return f"<RoomServer {self.name!r} ({counts})>"


def _parse(frame: str | bytes) -> tuple[Message | None, str]:
    """The request in ``frame``, or None and why it breaks the protocol."""
    if isinstance(frame, bytes):
        return None, "binary frames are not part of this protocol"
    try:
        request = loads_bounded(frame, max_depth=MAX_DEPTH, max_bytes=MAX_FRAME, what="frame")
    except JSONRefused as error:
        return None, "not JSON" if error.problem == "syntax" else str(error)
    if not isinstance(request, dict) or request.get("type") not in ("join", "send"):
        return None, "expected a JSON object with type 'join' or 'send'"
    if not isinstance(request.get("room"), str):
        return None, "'room' must be a string"
    if request["type"] == "send" and not (isinstance(request.get("id"), str)
                                          and isinstance(request.get("body"), str)):
        return None, "a send needs a string 'id' and 'body'"
    return request, ""


def _preview(frame: str | bytes) -> str:
    return repr(frame[:40])


# -- members ---------------------------------------------------------------------------


@dataclass
class Member:
    """A live member: a client object on a real WebSocket that reconnects when cut."""

    name: str
    client: ClientLike
    url: str
    room: str = "lobby"
    reconnect_after: float = 0.05
    shown: list[Message] = field(default_factory=list)
    received: int = 0
    connections: int = 0
    errors: list[BaseException] = field(default_factory=list)
    ws: ClientConnection | None = None
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False

    @classmethod
    async def start(cls, name: str, client: ClientLike, url: str, *,
                    room: str = "lobby") -> Member:
        """Connect and keep connected; re-running replaces the member of that ``name``."""
        member = cls(name, client, url, room)
        await register(name, member)  # so that stop_all() ends it too
        member._task = asyncio.get_running_loop().create_task(member._run())
        return member

    async def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stopping:
            try:
                async with connect(self.url, proxy=None, open_timeout=5) as ws:
                    self.ws, self.connections = ws, self.connections + 1
                    now = time.monotonic() - t0
                    for request in self.client.connected(now):
                        await ws.send(json.dumps({**request, "who": self.name}))
                    ticker = asyncio.get_running_loop().create_task(self._tick(ws, t0))
                    try:
                        async for frame in ws:
                            self.received += 1
                            now = time.monotonic() - t0
                            self.shown += self.client.receive(json.loads(frame), now)
                            for request in self.client.requests(now):
                                await ws.send(json.dumps({**request, "who": self.name}))
                    finally:
                        ticker.cancel()
            except (ConnectionClosed, OSError):
                pass
            except Exception as error:  # the client object raised: collect, stop
                self.errors.append(error)
                return
            if not self._stopping:
                await asyncio.sleep(self.reconnect_after)

    async def _tick(self, ws: ClientConnection, t0: float) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(0.05)
                for request in self.client.requests(time.monotonic() - t0):
                    await ws.send(json.dumps({**request, "who": self.name}))

    async def say(self, msg_id: str, body: str) -> None:
        """Publish a message to the room (on the current connection)."""
        assert self.ws is not None
        await self.ws.send(json.dumps({"type": "send", "room": self.room, "id": msg_id,
                                       "body": body, "sender": self.name}))

    async def stop(self) -> None:
        forget(self.name, self)
        self._stopping = True
        if self.ws is not None:
            await self.ws.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        raise_collected(self.errors, f"member {self.name!r}")


async def burst(url: str, count: int, rate: float, *, room: str = "lobby",
                sender: str = "bot", start: int = 1) -> None:
    """Publish ``count`` messages at ``rate`` per second from one connection."""
    async with connect(url, proxy=None) as ws:
        began = time.monotonic()
        for i in range(start, start + count):
            await ws.send(json.dumps({"type": "send", "room": room, "id": f"{sender}-{i}",
                                      "body": f"message {i}", "sender": sender}))
            delay = began + (i - start + 1) / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)


# -- the join race, as the lesson runs it ----------------------------------------------


@dataclass
class JoinRace:
    """What each of many joiners showed, against what it should have shown."""

    joiners: int
    published: int
    lost: dict[str, int]  # joiner -> messages published after its join began, never shown
    duplicated: dict[str, int]  # joiner -> messages shown more than once
    out_of_order: dict[str, int]  # joiner -> messages shown after a later one

    def summary(self) -> str:
        def tally(counts: dict[str, int]) -> str:
            hit = sum(1 for n in counts.values() if n)
            return f"{sum(counts.values()):4d} in total, {hit:2d} of {self.joiners} members"

        return (f"{self.joiners} members, {self.published} messages published\n"
                f"  lost         {tally(self.lost)}\n"
                f"  duplicated   {tally(self.duplicated)}\n"
                f"  out of order {tally(self.out_of_order)}")


async def join_race(
    server: RoomServer, client_factory: Callable[[str], ClientLike], *, joiners: int = 50,
    messages: int = 300, rate: float = 400.0, seed: int = 0, settle: float = 0.4,
) -> JoinRace:
    """Start a burst, let ``joiners`` members join at seeded moments during it, tally."""
    rng = random.Random(seed)
    duration = messages / rate
    publisher = asyncio.get_running_loop().create_task(burst(server.url, messages, rate))
    members: list[Member] = []
    began = time.monotonic()
    for i, at in enumerate(sorted(rng.uniform(0.1, 0.8) * duration for _ in range(joiners))):
        delay = began + at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        members.append(await Member.start(f"j{i}", client_factory("lobby"), server.url))
    await publisher
    await asyncio.sleep(settle)
    for m in members:
        await m.stop()
    server.check()
    return tally(server, members)


def tally(server: RoomServer, members: list[Member], room: str = "lobby") -> JoinRace:
    """Compare what each member showed with what the room published after it joined."""
    truth = server.published(room)
    first_join: dict[str, JoinRecord] = {}
    for join in server.joins:
        first_join.setdefault(join.who, join)
    lost: dict[str, int] = {}
    duplicated: dict[str, int] = {}
    disorder: dict[str, int] = {}
    for m in members:
        ids = [x.get("id") for x in m.shown]
        seqs = [x.get("seq", 0) for x in m.shown]
        first = first_join.get(m.name)
        owed = {x["id"] for x in truth[first.known:]} if first else set()
        lost[m.name] = len(owed - set(ids))
        duplicated[m.name] = len(ids) - len(set(ids))
        disorder[m.name] = sum(1 for a, b in itertools.pairwise(seqs) if b < a)
    return JoinRace(len(members), len(truth), lost, duplicated, disorder)


def bench_joins() -> None:
    """Print the live join race: 50 joiners during a 300-message burst, three ways."""
    from rtlab import course
    from rtlab.learner import load_module

    reference = load_module(course.root() / "solutions" / "ordering.py", "ordering_bench_live")

    async def one(label: str, room: Callable[..., RoomLike],
                  client: Callable[[str], ClientLike]) -> None:
        server = await RoomServer.start("bench-joins", room, read_delay=0.05)
        started = time.perf_counter()
        race = await join_race(server, client, joiners=50, messages=300, rate=400, seed=7)
        await server.stop()
        print(f"{label} ({time.perf_counter() - started:.1f} s)\n{race.summary()}")

    async def main() -> None:
        await one("history, then subscribe; client drops duplicates",
                  lambda *a, **k: DemoRoom(*a, subscribe_first=False, **k),
                  lambda room: ArrivalClient(room, dedupe=True))
        await one("subscribe, then history; client shows what arrives",
                  DemoRoom, lambda room: ArrivalClient(room))
        await one("the reference Room and Client of the exercise",
                  reference.Room, lambda room: reference.Client(room))

    asyncio.run(main())
