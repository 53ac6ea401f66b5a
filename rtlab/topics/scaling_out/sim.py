"""Seeded simulation of several servers, their clients and a Redis backplane.

The rules first (what a relay may rely on, and what it may not):

1. Each server process runs one relay. A client is connected to one server at a time;
   the load balancer puts it on any live server (round robin), so a client that comes
   back usually lands on *another* server, carrying the id of the last message it got.
2. Commands a server sends to Redis arrive in order, 1-20 ms later. Redis executes
   them in arrival order. While Redis restarts, commands wait and run when it is back
   (the client library retries); streams and presence keys survive the restart (AOF).
3. Pub/sub is at-most-once: an announcement reaches a server only if that server's
   subscription is up when it is published and when it would arrive. Redis restarts
   and short subscriber drops lose announcements; ``reconnected`` is called when the
   subscription is back.
4. Read answers are never lost (the client library retries them).
5. A server dies without a word: its relay is dropped with everything in it, commands
   it had not yet delivered to Redis are lost, its clients are cut off (most come back
   elsewhere 0.2-1.5 s later, some never). It restarts 2-5 s later with a *fresh* relay.
6. A drained server (a deploy) tells its clients to go (``leave``); they reconnect
   elsewhere 0.1-0.8 s later. Clients also blip (leave, come back anywhere) or quit.
7. Now and then a foreign producer writes an entry the relay did not write (not JSON,
   the wrong shape) into a room's stream: it must not reach clients, nor stop the relay.

Theory of operation: :func:`graded_schedule` draws everything that does not depend on
the relay (server lives, client sessions, sends, faults) from the seed; :func:`run`
replays it through fresh relays in virtual time with an event heap and a model of
Redis, recording every delivery, every presence answer and a timeline. The grader
(:mod:`.grader`) judges the :class:`Trace`.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from rtlab.learner import describe_error
from rtlab.topics.scaling_out.interface import (
    Absent,
    Deliver,
    Present,
    Publish,
    Read,
    ReadResult,
    Relay,
    RelayFactory,
    stream_id_order,
)

__all__ = [
    "ACCEPT",
    "GARBAGE",
    "GHOST_WITHIN",
    "LAG",
    "PRESENT_WITHIN",
    "QUIET",
    "Schedule",
    "Trace",
    "graded_schedule",
    "run",
]

LAG = 0.5  # messages sent within LAG s of a client's (re)start or final end: may or may not
ACCEPT = 0.3  # a message counts once its server survived this long after sending it
PRESENT_WITHIN = 1.0  # a connected client is on the presence list within this
GHOST_WITHIN = 10.0  # ... and off it within this after it is gone for good
QUIET = 3.0  # the last seconds of a run: no sends, no faults, time to catch up
SAMPLE_EVERY = 0.5  # presence is asked this often
GARBAGE = ["not json at all", '{"from": 3, "text": "wrong types"}', "[1, 2, 3]",
           '{"text": "no sender"}', '{"from": "intruder"', ""]


@dataclass
class Session:
    server: str
    start: float
    end: float | None = None  # None: still connected at the end of the run
    how: str = ""  # how it ended: "leave" (blip), "drain", "quit", "death"
    returns: bool = False  # the client comes back after this session


@dataclass
class ClientPlan:
    id: str
    room: str
    sessions: list[Session] = field(default_factory=list)


@dataclass(frozen=True)
class Send:
    t: float
    client: str
    token: str


@dataclass
class ServerLife:
    id: str
    lives: list[tuple[float, float]]  # (start, end) of each incarnation; end inf: to the end
    drains: list[float] = field(default_factory=list)


@dataclass
class Schedule:
    seed: int
    until: float
    servers: list[ServerLife]
    clients: list[ClientPlan]
    sends: list[Send]
    redis_down: list[tuple[float, float]]  # restarts: (down, up)
    blips: list[tuple[str, float, float]]  # (server, subscription down, back)
    garbage: list[tuple[float, str, str]]  # (t, room, data) from a foreign producer
    tick_every: float
    latency: tuple[float, float] = (0.001, 0.020)

    def alive(self, server: str, t: float) -> int | None:
        """Which incarnation of ``server`` is alive at ``t`` (None: dead)."""
        for life in self.servers:
            if life.id == server:
                for i, (a, b) in enumerate(life.lives):
                    if a <= t < b:
                        return i
        return None

    def redis_up_from(self, t: float) -> float:
        """The first time at or after ``t`` that Redis is up."""
        for down, up in self.redis_down:
            if down <= t < up:
                return up
        return t

    def describe(self) -> str:
        parts = [f"{len(self.servers)} servers, {len(self.clients)} clients in "
                 f"{len({c.room for c in self.clients})} rooms, {len(self.sends)} messages"]
        for life in self.servers:
            for (_a, b) in life.lives[:-1]:
                parts.append(f"{life.id} dies at t={b:.2f} s")
            for d in life.drains:
                parts.append(f"{life.id} drained at t={d:.2f} s")
        parts += [f"Redis restarts at t={a:.2f} s (down {b - a:.2f} s)"
                  for a, b in self.redis_down]
        parts += [f"{s}'s subscription drops at t={a:.2f} s for {b - a:.2f} s"
                  for s, a, b in self.blips if (a, b) not in self.redis_down
                  and not any(x == a for x, _ in self.redis_down)]
        return "; ".join(parts)


def graded_schedule(seed: int, until: float = 18.0) -> Schedule:
    """The schedule of grader scenario ``seed``: 2-4 servers, 6-12 clients, faults."""
    rng = random.Random(seed)
    n = rng.choice([2, 2, 3, 3, 4])
    names = [f"s{i + 1}" for i in range(n)]
    last_fault = until - QUIET - 4.0
    focus = seed % 5  # 0 deaths, 1 Redis restart, 2 drains, 3 subscriber drops, 4 a mix
    lives = {s: ServerLife(s, [(0.0, math.inf)]) for s in names}
    if focus in (0, 4) or rng.random() < 0.3:
        victims = rng.sample(names, 1 if n == 2 or rng.random() < 0.6 else 2)
        for s in victims:
            dies = rng.uniform(3.0, last_fault - 2.0)
            lives[s].lives = [(0.0, dies), (dies + rng.uniform(2.0, 5.0), math.inf)]
    if focus in (2, 4) or rng.random() < 0.3:
        s = rng.choice(names)
        drain = rng.uniform(3.0, last_fault)
        if any(a <= drain < b for a, b in lives[s].lives):
            lives[s].drains.append(drain)
    redis_down: list[tuple[float, float]] = []
    blips: list[tuple[str, float, float]] = []
    if focus in (1, 4) or rng.random() < 0.3:
        down = rng.uniform(3.0, last_fault)
        up = down + rng.uniform(0.3, 1.5)
        redis_down.append((down, up))
        # every server's subscription is cut too, and resubscribes a moment after Redis is up
        blips += [(s, down, up + rng.uniform(0.0, 0.3)) for s in names]
    if focus in (3, 4) or rng.random() < 0.3:
        for s in rng.sample(names, rng.randint(1, n)):
            down = rng.uniform(2.0, last_fault)
            blips.append((s, down, down + rng.uniform(0.3, 1.0)))
    schedule = Schedule(seed, until, list(lives.values()), [], [], redis_down, blips, [],
                        tick_every=rng.choice([0.2, 0.25, 0.3]))

    def pick(t: float, avoid: str | None = None) -> str:
        alive = [s for s in names if schedule.alive(s, t) is not None and s != avoid
                 and not any(abs(t - d) < 0.05 for d in lives[s].drains)]
        return rng.choice(alive or [s for s in names if schedule.alive(s, t) is not None])

    rooms = [f"r{i + 1}" for i in range(rng.choice([2, 3]))]
    offset = rng.randrange(n)
    for i in range(rng.randint(6, 12)):
        plan = ClientPlan(f"c{i + 1}", rooms[i % len(rooms)])
        t = rng.uniform(0.0, 2.0)
        blip = rng.uniform(3.0, last_fault) if rng.random() < 0.25 else math.inf
        quit_at = rng.uniform(3.0, last_fault) if rng.random() < 0.1 else math.inf
        first: str | None = names[(offset + i) % n]  # the balancer deals first visits
        while True:
            server = first if first is not None and schedule.alive(first, t) is not None \
                else pick(t)
            first = None
            session = Session(server, t)
            plan.sessions.append(session)
            life = lives[server]
            death = next((b for a, b in life.lives if a <= t < b), math.inf)
            drain = min((d for d in life.drains if d > t), default=math.inf)
            end, how = min([(death, "death"), (drain, "drain"), (blip, "leave"),
                            (quit_at, "quit"), (math.inf, "")], key=lambda e: e[0])
            if end < math.inf and end <= t + 0.2:  # a client fault right after it came back
                end, how = min((death, "death"), (drain, "drain"), (math.inf, ""),
                               key=lambda e: e[0])
                blip = quit_at = math.inf
            if end == math.inf:
                break
            session.end, session.how = end, how
            if how == "leave":
                blip, delay = math.inf, rng.uniform(0.1, 1.0)
            elif how == "death":
                delay = rng.uniform(0.2, 1.5) if rng.random() < 0.8 else math.inf
            elif how == "drain":
                delay = rng.uniform(0.1, 0.8)
            else:
                delay = math.inf
            if delay == math.inf:
                break
            session.returns = True
            t = end + delay
        schedule.clients.append(plan)
    counter = itertools.count(1)
    sends: list[Send] = []
    for plan in schedule.clients:
        for visit in plan.sessions:
            t = visit.start + rng.expovariate(0.4)
            stop = min(visit.end if visit.end is not None else math.inf, until - QUIET)
            while t < stop - 0.01:
                sends.append(Send(t, plan.id, ""))
                t += rng.expovariate(0.4)
    sends.sort(key=lambda m: m.t)
    schedule.sends = [Send(m.t, m.client, f"m{next(counter)}") for m in sends]
    if rng.random() < 0.4:
        for _ in range(rng.randint(1, 2)):
            schedule.garbage.append((rng.uniform(1.0, until - QUIET), rng.choice(rooms),
                                     rng.choice(GARBAGE)))
    return schedule


# -- the run -----------------------------------------------------------------------------


class RelayError(Exception):
    """The relay raised, or returned something that is not a list of commands."""

    def __init__(self, message: str, at: float, server: str) -> None:
        super().__init__(message)
        self.at, self.server = at, server


@dataclass(frozen=True)
class Delivery:
    t: float
    server: str
    client: str
    room: str
    id: str
    text: str
    session: int  # index of the client's session (-1: not connected to that server)


@dataclass
class Trace:
    schedule: Schedule
    deliveries: list[Delivery] = field(default_factory=list)
    seen_by_backplane: dict[str, str] = field(default_factory=dict)  # token -> its entry id
    presence: list[tuple[float, str, frozenset[str]]] = field(default_factory=list)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    joins: dict[tuple[str, int], str | None] = field(default_factory=dict)  # last_seen given
    error: RelayError | None = None
    ended_at: float = 0.0

    def session_at(self, client: str, t: float) -> int | None:
        """Index of the session ``client`` is in at ``t`` (None: not connected)."""
        plan = next(p for p in self.schedule.clients if p.id == client)
        for i, s in enumerate(plan.sessions):
            if s.start <= t and (s.end is None or t < s.end):
                return i
        return None


class _Stop(Exception):
    pass


class _World:
    """The event heap, the Redis model, and the relays of the live incarnations."""

    def __init__(self, factory: RelayFactory, schedule: Schedule, trace: Trace) -> None:
        self.factory, self.schedule, self.trace = factory, schedule, trace
        self.rng = random.Random(schedule.seed * 7919 + 1)
        self.heap: list[tuple[float, int, Callable[[], None]]] = []
        self.seq = itertools.count()
        self.now = 0.0
        self.relays: dict[str, tuple[int, Relay]] = {}  # server -> (incarnation, relay)
        self.streams: dict[str, list[tuple[str, str]]] = {}
        self.stream_keys: dict[str, list[tuple[int, int]]] = {}  # the ids, parsed, for bisect
        self.keys: dict[tuple[str, str], tuple[str, float]] = {}  # (room, client) -> owner, expiry
        self.last_ms, self.last_seq = -1, 0
        self.to_redis: dict[str, float] = {}  # per server: arrival of its last command (FIFO)
        self.to_server: dict[str, float] = {}  # per server: arrival of its last answer
        self.where: dict[str, tuple[str, int]] = {}  # client -> (server, session index)
        self.room_of = {p.id: p.room for p in schedule.clients}
        self.last_seen: dict[str, str | None] = {}

    # -- plumbing
    def at(self, t: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self.heap, (t, next(self.seq), fn))

    def log(self, text: str) -> None:
        self.trace.timeline.append((self.now, text))

    def latency(self) -> float:
        low, high = self.schedule.latency
        return self.rng.uniform(low, high)

    def alive(self, server: str, incarnation: int) -> bool:
        return server in self.relays and self.relays[server][0] == incarnation

    def subscribed_throughout(self, server: str, a: float, b: float) -> bool:
        """Was the subscription of ``server`` up from ``a`` to ``b`` without a drop?

        A Redis restart is a drop of every server's subscription (see the schedule)."""
        return not any(s == server and x <= b and a < y for s, x, y in self.schedule.blips)

    def subscribed(self, server: str, t: float) -> bool:
        return self.subscribed_throughout(server, t, t)

    def call(self, server: str, what: str, fn: Callable[[Relay], Any]) -> None:
        """Call the relay of ``server``, check its answer and carry out its commands."""
        incarnation, relay = self.relays[server]
        try:
            commands = fn(relay)
        except Exception as error:  # the learner's code: report it, never crash the grader
            raise RelayError(f"{server}: {what} raised {describe_error(error)}",
                             self.now, server) from None
        if not isinstance(commands, list):
            raise RelayError(f"{server}: {what} returned {commands!r}, not a list of commands",
                             self.now, server)
        if commands or not what.startswith("tick"):
            shown = ", ".join(_short(c) for c in commands)
            self.log(f"{server}: {what} -> [{shown}]")
        for command in commands:
            self.execute(server, incarnation, command, what)

    def execute(self, server: str, incarnation: int, command: object, what: str) -> None:
        if isinstance(command, Deliver):
            self.deliver(server, command)
            return
        if not isinstance(command, (Publish, Read, Present, Absent)):
            raise RelayError(f"{server}: {what} returned {command!r}: not a command (Deliver, "
                             "Publish, Read, Present or Absent)", self.now, server)
        if isinstance(command, Read) and command.after != "$":
            try:
                stream_id_order(command.after)
            except (ValueError, AttributeError, TypeError):
                raise RelayError(
                    f"{server}: {what} returned {command!r}: Redis answers 'ERR Invalid stream "
                    "ID' (an id looks like '1733190000123-0', or '$')", self.now, server
                ) from None
        arrive = max(self.to_redis.get(server, 0.0), self.now + self.latency())
        arrive = self.schedule.redis_up_from(arrive)
        self.to_redis[server] = arrive

        def run_it() -> None:
            if self.alive(server, incarnation):
                self.redis(server, incarnation, command)
        self.at(arrive, run_it)

    def deliver(self, server: str, d: Deliver) -> None:
        here = self.where.get(d.client)
        session = here[1] if here is not None and here[0] == server else -1
        self.trace.deliveries.append(
            Delivery(self.now, server, str(d.client), str(d.room), str(d.id), str(d.text),
                     session))
        if session >= 0:
            try:
                key = stream_id_order(d.id)
                best = self.last_seen.get(d.client)
                if best is None or key > stream_id_order(best):
                    self.last_seen[d.client] = d.id
            except (ValueError, AttributeError, TypeError):
                pass  # a client keeps the last id it can make sense of

    # -- the Redis model
    def next_id(self) -> str:
        ms = int(self.now * 1000)
        if ms <= self.last_ms:
            self.last_seq += 1
        else:
            self.last_ms, self.last_seq = ms, 0
        return f"{1_700_000_000_000 + self.last_ms}-{self.last_seq}"

    def redis(self, server: str, incarnation: int, command: object) -> None:
        if isinstance(command, Publish):
            self.publish(command.room, command.data)
        elif isinstance(command, Read):
            stream = self.streams.get(command.room, [])
            tail = stream[-1][0] if stream else "0-0"
            if command.after == "$":
                entries: list[tuple[str, str]] = []
            else:
                keys = self.stream_keys.get(command.room, [])
                entries = stream[bisect.bisect_right(keys, stream_id_order(command.after)):]
            result = ReadResult(command.room, command.after, command.client, entries, tail)
            back = max(self.to_server.get(server, 0.0), self.now + self.latency())
            self.to_server[server] = back
            self.at(back, lambda: self.answer(server, incarnation, result))
        elif isinstance(command, Present):
            ttl = command.ttl
            expiry = math.inf if ttl is None else self.now + float(ttl)
            self.keys[(command.room, command.client)] = (server, expiry)
        elif isinstance(command, Absent):
            key = (command.room, command.client)
            if key in self.keys and self.keys[key][0] == server:
                del self.keys[key]

    def publish(self, room: str, data: str) -> None:
        entry_id = self.next_id()
        self.streams.setdefault(room, []).append((entry_id, data))
        self.stream_keys.setdefault(room, []).append(stream_id_order(entry_id))
        for token in _tokens(data):
            self.trace.seen_by_backplane.setdefault(token, entry_id)
        for server, (incarnation, _) in list(self.relays.items()):
            if not self.subscribed(server, self.now):
                continue
            arrive = max(self.to_server.get(server, 0.0), self.now + self.latency())
            self.to_server[server] = arrive

            def announce(server: str = server, incarnation: int = incarnation,
                         sent: float = self.now) -> None:
                if self.alive(server, incarnation) and self.subscribed_throughout(
                        server, sent, self.now):
                    self.call(server, f"published({room!r}, {entry_id!r}, {_clip(data)})",
                              lambda r: r.published(room, entry_id, data, self.now))
            self.at(arrive, announce)

    def answer(self, server: str, incarnation: int, result: ReadResult) -> None:
        if self.alive(server, incarnation):
            shown = (f"ReadResult({result.room!r}, after={result.after!r}, "
                     f"client={result.client!r}, {len(result.entries)} entries, "
                     f"tail={result.tail!r})")
            self.call(server, f"read({shown})", lambda r: r.read(result, self.now))

    def online(self, room: str) -> frozenset[str]:
        return frozenset(c for (r, c), (_, expiry) in self.keys.items()
                         if r == room and expiry > self.now)


def run(factory: RelayFactory, schedule: Schedule) -> Trace:
    """Replay ``schedule`` through fresh relays made by ``factory(server)``."""
    trace = Trace(schedule)
    world = _World(factory, schedule, trace)
    at = world.at

    def start(server: str, incarnation: int) -> None:
        try:
            relay = world.factory(server)
        except Exception as error:
            raise RelayError(f"Relay({server!r}) raised {describe_error(error)}", world.now,
                             server) from None
        world.relays[server] = (incarnation, relay)
        world.log(f"{server} starts" + (" (a fresh relay: it remembers nothing)"
                                        if incarnation else ""))
        t = world.now + schedule.tick_every
        while t < schedule.until:
            at(t, partial(tick, server, incarnation, t))
            t += schedule.tick_every

    def tick(server: str, incarnation: int, t: float) -> None:
        if world.alive(server, incarnation):
            world.call(server, f"tick({t:.2f})", lambda r: r.tick(world.now))

    def reconnect(server: str) -> None:
        if server in world.relays:
            world.call(server, "reconnected()", lambda r: r.reconnected(world.now))

    def die(server: str) -> None:
        world.relays.pop(server, None)
        world.log(f"{server} DIES: its relay, its unsent commands and its connections are gone")
        for client, (s, _) in list(world.where.items()):
            if s == server:
                del world.where[client]

    for life in schedule.servers:
        for i, (a, b) in enumerate(life.lives):
            at(a, partial(start, life.id, i))
            if b < math.inf:
                at(b, partial(die, life.id))
        for d in life.drains:
            at(d, partial(world.log, f"{life.id} is drained (a deploy): its clients must go"))
    for down, up in schedule.redis_down:
        at(down, partial(world.log, f"REDIS RESTARTS (back at t={up:.2f} s): pub/sub "
                                    "connections drop, announcements are lost"))
    for server, down, up in schedule.blips:
        at(down, partial(world.log,
                         f"{server}'s pub/sub connection drops (resubscribed at t={up:.2f} s)"))
        at(up, partial(reconnect, server))

    def join(client: str, index: int, session: Session) -> None:
        world.where[client] = (session.server, index)
        last = world.last_seen.get(client)
        trace.joins[(client, index)] = last
        room = world.room_of[client]
        world.call(session.server, f"join({client!r}, {room!r}, last_seen={last!r})",
                   lambda r: r.join(client, room, last, world.now))

    def leave(client: str, session: Session) -> None:
        world.where.pop(client, None)
        if session.how == "death":
            return
        world.call(session.server, f"leave({client!r}, {world.room_of[client]!r})  "
                   f"[{session.how}]", lambda r: r.leave(client, world.room_of[client],
                                                         world.now))

    for plan in schedule.clients:
        for i, session in enumerate(plan.sessions):
            at(session.start, partial(join, plan.id, i, session))
            if session.end is not None:
                at(session.end - 1e-6 if session.how == "death" else session.end,
                   partial(leave, plan.id, session))
    def send(m: Send) -> None:
        here = world.where.get(m.client)
        if here is None:
            return
        text, room = f"{m.token} from {m.client}", world.room_of[m.client]
        world.call(here[0], f"send({m.client!r}, {room!r}, {text!r})",
                   lambda r: r.send(m.client, room, text, world.now))

    def foreign(room: str, data: str) -> None:
        world.log(f"a foreign producer writes {data!r} into {room}'s stream")
        if schedule.redis_up_from(world.now) == world.now:
            world.publish(room, data)

    rooms = sorted({p.room for p in schedule.clients})

    def sample() -> None:
        for room in rooms:
            trace.presence.append((world.now, room, world.online(room)))

    for m in schedule.sends:
        at(m.t, partial(send, m))
    for t, room, data in schedule.garbage:
        at(t, partial(foreign, room, data))
    t = SAMPLE_EVERY
    while t <= schedule.until:
        at(t, sample)
        t += SAMPLE_EVERY
    try:
        while world.heap:
            t, _, fn = heapq.heappop(world.heap)
            if t > schedule.until:
                break
            world.now = t
            fn()
    except RelayError as error:
        trace.error = error
    trace.ended_at = world.now
    return trace


def _tokens(data: object) -> list[str]:
    if not isinstance(data, str):
        return []
    return [w for w in data.replace('"', " ").split() if w.startswith("m") and w[1:].isdigit()]


def _clip(text: object, width: int = 40) -> str:
    shown = repr(text)
    return shown if len(shown) <= width else shown[: width - 3] + "..."


def _short(command: object) -> str:
    if isinstance(command, Deliver):
        return f"Deliver({command.client}, {command.id}, {command.text!r})"
    if isinstance(command, Publish):
        return f"Publish({command.room}, {_clip(command.data, 36)})"
    if isinstance(command, Read):
        tag = f", client={command.client}" if command.client else ""
        return f"Read({command.room}, after={command.after}{tag})"
    if isinstance(command, Present):
        return f"Present({command.room}, {command.client}, ttl={command.ttl})"
    if isinstance(command, Absent):
        return f"Absent({command.room}, {command.client})"
    return repr(command)


def describe_json(data: str) -> str:
    """A stream entry as the timeline shows it."""
    try:
        return json.dumps(json.loads(data))
    except ValueError:
        return repr(data)


def summarize(factory: RelayFactory, seed: int) -> str:
    """One seeded run in words: the schedule, and who got what (for the lesson).

    "Should get" counts, for each message, the members of its room connected both when it
    was sent and at the end of the run: the plainest cases, not the grader's full rules.
    """
    schedule = graded_schedule(seed)
    trace = run(factory, schedule)
    lines = [f"seed {seed}: {schedule.describe()}"]
    if trace.error is not None:
        return "\n".join([*lines, f"  the relay raised: {trace.error}"])
    room_of = {p.id: p.room for p in schedule.clients}
    copies: dict[tuple[str, str], int] = {}
    for d in trace.deliveries:
        key = (d.client, d.text.split(" ", 1)[0])
        copies[key] = copies.get(key, 0) + 1
    should = got = twice = 0
    for m in schedule.sends:
        for plan in schedule.clients:
            if room_of[plan.id] != room_of[m.client]:
                continue
            if trace.session_at(plan.id, m.t) is None or plan.sessions[-1].end is not None:
                continue
            should += 1
            n = copies.get((plan.id, m.token), 0)
            got += n > 0
            twice += n > 1
    lines.append(f"  {len(schedule.sends)} messages; {should} deliveries to members there "
                 f"when sent and at the end: {got} made, {should - got} missing, "
                 f"{twice} twice")
    return "\n".join(lines)
