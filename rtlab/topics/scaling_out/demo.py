"""The lesson's live demos: a chat on 2-4 real servers behind HAProxy, on real Redis.

:class:`DemoRelay` is a deliberately simple relay with switches, so each failure can be
shown before its fix (it is not the exercise: it takes shortcuts the grader would
catch under its fault schedules):

- ``backplane=False``: each server delivers to its own clients only (no adapter);
- ``backplane=True``: publish to Redis, deliver what pub/sub announces;
- ``catch_up``: after pub/sub reconnects, read the stream from the room's last id;
- ``resume``: how a returning client's ``last_seen`` is honoured: ``None`` (ignored),
  ``"memory"`` (a session parked in this server's memory when the client left, holding
  what it misses, as Socket.IO's connection-state recovery does: one process only),
  ``"stream"`` (from the room's stream in Redis: shared state).

:func:`chat` runs one scenario: servers, the load balancer, clients sending at a steady
rate, faults at given times; it returns a :class:`ChatResult` with who got what.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis

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
from rtlab.topics.scaling_out.live import RelayNode, RoomClient, Tally, tally
from rtlab.topics.scaling_out.parts import HAProxy, RedisServer

__all__ = ["ChatResult", "DemoRelay", "chat"]


class DemoRelay:
    """A relay with switches, to show each failure and its fix (see the module doc)."""

    def __init__(self, server: str, *, backplane: bool = True, catch_up: bool = False,
                 resume: str | None = None, ttl: float = 2.0) -> None:
        self.server, self.backplane, self.catch_up = server, backplane, catch_up
        self.resume, self.ttl = resume, ttl
        self.members: dict[str, set[str]] = {}
        self.last: dict[str, str] = {}  # room -> last id seen here
        self.parked: dict[str, tuple[str, list[Deliver]]] = {}  # client -> room, missed
        self.count = 0
        self.refreshed = 0.0
        self.held: dict[str, list[tuple[str, str]]] = {}  # room -> announcements held

    def join(self, client: str, room: str, last_seen: str | None, now: float) -> list[Command]:
        self.members.setdefault(room, set()).add(client)
        out: list[Command] = [Present(room, client, self.ttl)] if self.backplane else []
        if last_seen is not None and self.resume == "memory":
            _, missed = self.parked.pop(client, (room, []))  # another server: no session
            out += missed
        elif last_seen is not None and self.resume == "stream":
            out.append(Read(room, last_seen, client))
        return out

    def leave(self, client: str, room: str, now: float) -> list[Command]:
        self.members.get(room, set()).discard(client)
        if self.resume == "memory":
            self.parked[client] = (room, [])
        return [Absent(room, client)] if self.backplane else []

    def send(self, client: str, room: str, text: str, now: float) -> list[Command]:
        if self.backplane:
            return [Publish(room, json.dumps({"from": client, "text": text}))]
        self.count += 1
        entry_id = f"{int(time.time() * 1000)}-{self.count}"  # local ids: one server's view
        self._remember(room, entry_id, text)
        return [Deliver(c, room, entry_id, text) for c in sorted(self.members.get(room, ()))]

    def _park(self, room: str, entry_id: str, text: str) -> None:
        for client, (parked_room, missed) in self.parked.items():
            if parked_room == room:
                missed.append(Deliver(client, room, entry_id, text))

    def published(self, room: str, id: str, data: str, now: float) -> list[Command]:
        if room in self.held:  # catching up: after the stream's answer
            self.held[room].append((id, data))
            return []
        text = _text(data)
        if text is None:
            return []
        self._remember(room, id, text)
        return [Deliver(c, room, id, text) for c in sorted(self.members.get(room, ()))]

    def read(self, result: ReadResult, now: float) -> list[Command]:
        targets = [result.client] if result.client else sorted(self.members.get(result.room, ()))
        out: list[Command] = []
        entries = result.entries
        if result.client is None:
            held = self.held.pop(result.room, [])
            newest = stream_id_order(entries[-1][0]) if entries else (0, 0)
            entries = entries + [e for e in held if stream_id_order(e[0]) > newest]
        for entry_id, data in entries:
            text = _text(data)
            if text is not None:
                if result.client is None:
                    self._remember(result.room, entry_id, text)
                out += [Deliver(c, result.room, entry_id, text) for c in targets]
        return out

    def reconnected(self, now: float) -> list[Command]:
        if not self.catch_up:
            return []
        rooms = [room for room in self.members if room in self.last]
        for room in rooms:
            self.held[room] = []
        return [Read(room, self.last[room]) for room in rooms]

    def tick(self, now: float) -> list[Command]:
        if not self.backplane or now - self.refreshed < self.ttl / 3:
            return []
        self.refreshed = now
        return [Present(room, c, self.ttl) for room, cs in self.members.items() for c in cs]

    def _remember(self, room: str, entry_id: str, text: str) -> None:
        self.last[room] = entry_id
        self._park(room, entry_id, text)


def _text(data: str) -> str | None:
    try:
        body = json.loads(data)
    except ValueError:
        return None
    return body.get("text") if isinstance(body, dict) else None


@dataclass
class ChatResult:
    """What one :func:`chat` run saw."""

    title: str
    tally: Tally
    clients: list[RoomClient]
    who: dict[str, list[str]]  # server -> who it says is online in r1
    local: dict[str, list[str]]  # server -> its own clients in r1
    cuts: list[tuple[str, float, float | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def moved(self) -> int:
        """Clients that were cut off and reconnected."""
        return sum(1 for _, _, back in self.cuts if back is not None)

    @property
    def worst_back_ms(self) -> float:
        backs = [back - cut for _, cut, back in self.cuts if back is not None]
        return 1000 * max(backs) if backs else 0.0

    def summary(self) -> str:
        lines = [f"{self.title}: {self.tally.summary()}"]
        if self.cuts:
            lines.append(f"  {len(self.cuts)} clients cut off, {self.moved} served again, "
                         f"the slowest after {self.worst_back_ms:.0f} ms")
        return "\n".join(lines)


Fault = tuple[float, str]  # (seconds into the run, "restart-redis" | "kill:s1" | "blip")


async def chat(redis: RedisServer, relay: Callable[[str], Relay], *, title: str = "",
               servers: int = 2, balance: str = "roundrobin", clients: int = 6,
               rooms: int = 1, seconds: float = 2.0, rate: float = 40.0,
               faults: tuple[Fault, ...] = (), cookies: bool = False) -> ChatResult:
    """A chat of ``clients`` in ``rooms`` on ``servers`` behind HAProxy; ``rate`` messages
    per second in all, for ``seconds``, with ``faults``; everything stopped at the end."""
    db = aioredis.Redis.from_url(redis.url)
    await db.flushall()
    await db.aclose()
    nodes = [await RelayNode.start(f"s{i + 1}", relay(f"s{i + 1}"), redis.url)
             for i in range(servers)]
    proxy = await HAProxy.start("balancer", {n.name: n.port for n in nodes}, balance)
    people = [RoomClient(proxy.url, f"c{i + 1}", f"r{i % rooms + 1}", cookies=cookies)
              for i in range(clients)]
    result = ChatResult(title or relay.__name__, tally([], {}), people, {}, {})
    try:
        for p in people:
            p.start()
        await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in people)), 5)
        await asyncio.sleep(0.2)  # subscriptions settle
        sent: dict[str, dict[str, tuple[float, str]]] = {f"r{i + 1}": {} for i in range(rooms)}
        start, k = time.monotonic(), 0
        pending = sorted(faults)
        while (elapsed := time.monotonic() - start) < seconds:
            while pending and pending[0][0] <= elapsed:
                await _fault(pending.pop(0)[1], redis, nodes, people, relay, result)
            speaker = people[k % clients]
            text = f"#{k} from {speaker.client}"
            if await speaker.send(text):
                sent[speaker.room][text] = (time.monotonic(), speaker.client)
            k += 1
            await asyncio.sleep(1 / rate)
        await asyncio.sleep(0.8)  # let the last messages and catch-ups land
        reached = await _in_streams(redis, list(sent))
        totals = [tally([p for p in people if p.room == room], msgs, reached)
                  for room, msgs in sent.items()]
        result.tally = Tally(sum(t.sent for t in totals), sum(t.expected for t in totals),
                             sum(t.delivered for t in totals), sum(t.missing for t in totals),
                             sum(t.duplicates for t in totals),
                             [x for t in totals for x in t.latencies])
        for node in nodes:
            result.who[node.name] = await node.who("r1") if node.alive else []
            result.local[node.name] = [c for c in node.local()
                                       if any(p.client == c and p.room == "r1" for p in people)]
        result.cuts = [(c, cut, back) for c, cut, back in result.cuts]
        for cut in range(len(result.cuts)):
            client, t, _ = result.cuts[cut]
            person = next(p for p in people if p.client == client)
            back = next((when for when, _ in person.servers if when > t), None)
            result.cuts[cut] = (client, t, back)
    finally:
        for p in people:
            await p.stop()
        for node in nodes:
            result.errors += [str(e) for e in node.errors]
            node.errors.clear()
            await node.stop()
        await proxy.stop()
    return result


async def _in_streams(redis: RedisServer, rooms: list[str]) -> set[str]:
    """The texts that reached Redis: in a room's stream."""
    db = aioredis.Redis.from_url(redis.url, decode_responses=True)
    try:
        found: set[str] = set()
        for room in rooms:
            for _, fields in await db.xrange(f"stream:{room}") or []:
                text = _text(str((fields or {}).get("d", "")))
                if text is not None:
                    found.add(text)
        return found
    finally:
        await db.aclose()


async def _fault(kind: str, redis: RedisServer, nodes: list[RelayNode],
                 people: list[RoomClient], relay: Callable[[str], Relay],
                 result: ChatResult) -> None:
    now = time.monotonic()
    if kind == "restart-redis":
        asyncio.get_running_loop().create_task(redis.restart(0.3))
    elif kind.startswith("kill:"):
        node = next(n for n in nodes if n.name == kind.removeprefix("kill:"))
        result.cuts += [(p.client, now, None) for p in people if p.server == node.name]
        await node.kill(1.0, relay(node.name))
    elif kind == "blip":  # every other client's network drops
        for p in people[::2]:
            if p.conn is not None:
                result.cuts.append((p.client, now, None))
                p.conn.transport.abort()
