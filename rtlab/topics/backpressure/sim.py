"""Seeded schedules for the backpressure exercise, run in virtual time.

The rules a room must keep (what the grader checks):

1. Memory per client is bounded in bytes: whatever a client is sent later, of the
   frames the room already held at some instant, is at most ``max_bytes``.
2. A slow client slows nobody else: fast clients get each event within
   ``FAST_LATENCY`` of its publication.
3. Events are never dropped silently: a client gets every event due to it, in order,
   unless it is disconnected with a code in 4000-4999 (then it resyncs), and only
   when its undelivered events no longer fit.
4. Live data keeps the newest value per key; cursors are throttled to one per
   ``cursor_interval`` per key, the first move of a burst goes out at once and the
   last position always arrives.
5. One broadcast formats its message once and costs O(1) store queries.

Theory of operation
-------------------
A :class:`Scenario` is a pure function of its seed: a room of 5-9 clients in roles
(fast readers, a 2G-slow reader, one that pauses, one that stops reading, one that
stops and then vanishes, sometimes a guest without permission and a late joiner),
bursty events, live feeds of 2-3 keys at 6-12 Hz and cursor bursts at 120 Hz, and
permission changes. :func:`run` replays it through a learner's room on one virtual
clock: the heap holds publishes, ticks (every 5-20 ms), joins, leaves, permission
changes and "client ready" moments. A client takes one frame at a time with
``room.take`` and is busy for ``len(frame) / rate`` seconds; a paused client takes
nothing until its pause ends. At ``until`` publishing stops, every client still
there reads at full speed (the stopped reader too: whatever the room kept for it now
shows) and the run ends ``DRAIN`` seconds later, when everyone leaves.

``encode`` and the store are the grader's: ``encode`` counts serialisations and
remembers each frame, so every delivery is traced to its publication; the store
counts queries. Memory is also measured directly: at a few instants the frames
reachable from the room object are summed (see :func:`held_bytes`).
"""

from __future__ import annotations

import gc
import heapq
import json
import random
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rtlab.topics.backpressure.interface import Body

FAST = 5_000_000.0  # bytes/s of a client on a good link
FAST_LATENCY = 0.05  # s: the most a fast client may wait for an event
MAX_TICK_GAP = 0.02  # s between ticks, at most
BURST_GAP = 0.35  # s of stillness, at least, between two cursor bursts
DRAIN = 1.0  # s after publishing stops, everyone reading at full speed

JSON = json.JSONEncoder(separators=(",", ":"))
SKIP_TYPES = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
              types.MethodType, types.CodeType, str, int, float)


@dataclass
class Client:
    name: str
    user: str
    role: str  # fast, slow, paused, stopped, vanishing, guest, late
    rate: float  # bytes/s while reading
    joined: float = 0.0
    leaves: float | None = None  # vanishing clients leave without a word
    pauses: list[tuple[float, float]] = field(default_factory=list)

    @property
    def fast(self) -> bool:
        return self.rate >= FAST and not self.pauses

    def describe(self) -> str:
        if self.role == "slow":
            return f"{self.name} (2G-slow: {self.rate / 1000:.0f} KB/s)"
        if self.role in ("paused", "stopped", "vanishing") and self.pauses:
            a, b = self.pauses[0]
            what = {"paused": f"paused {a:.2f}-{b:.2f} s",
                    "stopped": f"stopped reading at {a:.2f} s",
                    "vanishing": f"stopped reading at {a:.2f} s, left at {self.leaves or 0:.2f} s"}
            return f"{self.name} ({what[self.role]})"
        return f"{self.name} ({self.role})"


@dataclass
class Publish:
    t: float
    client: str
    kind: str
    key: str
    body: Body
    n: int = -1  # its place in the schedule, also carried in the body


@dataclass
class Scenario:
    seed: int
    max_bytes: int
    cursor_interval: float
    until: float
    clients: list[Client]
    publishes: list[Publish]
    changes: list[tuple[float, str, bool]]  # (t, user, may read from now on)
    initial: dict[str, bool]
    ticks: list[float]
    movers: list[str]

    @property
    def end(self) -> float:
        return self.until + DRAIN

    def client(self, name: str) -> Client:
        return next(c for c in self.clients if c.name == name)

    def allowed(self, user: str, t: float) -> bool:
        """May ``user`` read at ``t`` (changes at ``t`` included)?"""
        ok = self.initial.get(user, False)
        for when, who, value in self.changes:
            if when > t:
                break
            if who == user:
                ok = value
        return ok


def scenario(seed: int) -> Scenario:
    """The graded schedule of ``seed`` (a pure function of it)."""
    rng = random.Random(seed)
    until = 2.0
    roles = ["fast"] * rng.randint(2, 3) + ["slow"] * rng.randint(1, 2) + ["paused", "stopped"]
    if rng.random() < 0.7:
        roles.append("vanishing")
    if rng.random() < 0.5:
        roles.append("guest")
    if rng.random() < 0.5:
        roles.append("late")
    clients: list[Client] = []
    for i, role in enumerate(roles):
        c = Client(f"c{i + 1}", f"u{i + 1}", role, FAST)
        if role == "slow":
            c.rate = rng.uniform(8_000, 20_000)
        elif role == "paused":
            a = rng.uniform(0.3, 0.9)
            c.rate, c.pauses = 50_000.0, [(a, a + rng.uniform(0.3, 0.8))]
        elif role == "stopped":
            c.pauses = [(rng.uniform(0.2, 0.8), until)]
        elif role == "vanishing":
            a = rng.uniform(0.2, 0.6)
            c.rate, c.pauses, c.leaves = 30_000.0, [(a, until)], rng.uniform(1.0, 1.8)
        elif role == "late":
            c.joined = rng.uniform(0.3, 1.0)
        clients.append(c)
    initial = {c.user: c.role != "guest" for c in clients}
    fast = [c.name for c in clients if c.role == "fast"]
    movers = fast[: rng.randint(1, 2)]
    publishes: list[Publish] = []

    def add(t: float, client: str, kind: str, key: str, body: Body) -> None:
        publishes.append(Publish(round(t, 6), client, kind, key, body))

    senders = [c.name for c in clients if c.role not in ("late", "guest")]
    t = 0.0
    while True:  # events: a steady trickle ...
        t += rng.expovariate(15.0)
        if t >= until:
            break
        add(t, rng.choice(senders), "event", "chat", {"text": "e" * rng.randint(60, 350)})
    for _ in range(rng.randint(1, 2)):  # ... and bursts
        start = rng.uniform(0.1, until - 0.3)
        for _ in range(rng.randint(10, 25)):
            add(start + rng.uniform(0, 0.15), rng.choice(senders), "event", "chat",
                {"text": "b" * rng.randint(60, 350)})
    for k in range(rng.randint(2, 3)):  # live feeds
        key, hz, t = f"price:{'ABC'[k]}", rng.uniform(6, 12), rng.uniform(0, 0.1)
        while t < until:
            add(t, "feed", "live", key, {"price": rng.randint(1, 10**6),
                                         "pad": "p" * rng.randint(200, 1400)})
            t += rng.uniform(0.7, 1.3) / hz
    for mover in movers:  # cursor bursts at 120 Hz
        t = rng.uniform(0.0, 0.2)
        x, y = rng.randint(0, 1000), rng.randint(0, 700)
        while t < until - 0.3:
            stop = t + rng.uniform(0.2, 0.7)
            while t < min(stop, until):
                x, y = x + rng.randint(-9, 9), y + rng.randint(-9, 9)
                add(t, mover, "cursor", f"cursor:{mover}", {"x": x, "y": y})
                t += rng.uniform(0.9, 1.1) / 120
            t += rng.uniform(BURST_GAP, BURST_GAP + 0.25)
    publishes.sort(key=lambda p: p.t)
    for n, p in enumerate(publishes):
        p.n = p.body["n"] = n
    changes: list[tuple[float, str, bool]] = []
    guest = next((c for c in clients if c.role == "guest"), None)
    if guest is not None:
        changes.append((round(rng.uniform(0.5, 1.5), 6), guest.user, True))
    plain = [c for c in clients if c.role == "fast" and c.name not in movers]
    if plain and rng.random() < 0.6:
        who, at = rng.choice(plain).user, rng.uniform(0.4, 1.4)
        changes.append((round(at, 6), who, False))
        if rng.random() < 0.5:
            changes.append((round(at + 0.4, 6), who, True))
    changes.sort()
    ticks, t = [], 0.0
    while t < until + DRAIN - 0.05:
        ticks.append(round(t, 6))
        t += rng.uniform(0.005, MAX_TICK_GAP)
    return Scenario(seed, rng.choice([4096, 6144, 8192]), rng.choice([0.05, 0.08, 0.1]),
                    until, clients, publishes, changes, initial, ticks, movers)


# -- what the room is given ---------------------------------------------------------


class CountingStore:
    """The room's permissions, one query per call (like a database round trip)."""

    def __init__(self, allowed: dict[str, bool]) -> None:
        self.allowed = dict(allowed)
        self.queries = 0

    def can_read(self, user: str) -> bool:
        self.queries += 1
        return self.allowed.get(user, False)

    def readers(self) -> set[str]:
        self.queries += 1
        return {user for user, ok in self.allowed.items() if ok}


@dataclass
class Encoded:
    index: int
    t: float
    call: int  # which room call formatted it
    kind: str
    key: str
    n: int  # the publication it carries (-1 if unknown)
    size: int


class CountingEncoder:
    """JSON, counted: every frame is remembered, so deliveries trace back to it."""

    def __init__(self) -> None:
        self.log: list[Encoded] = []
        self.frames: list[bytes] = []  # kept alive, so ids stay unique
        self.by_id: dict[int, int] = {}
        self.now, self.call = 0.0, 0

    def __call__(self, message: dict[str, Any]) -> bytes:
        frame = JSON.encode(message).encode()
        body = message.get("body") if isinstance(message, dict) else None
        n = body.get("n", -1) if isinstance(body, dict) else -1
        entry = Encoded(len(self.log), self.now, self.call, str(message.get("kind")),
                        str(message.get("key")), n if isinstance(n, int) else -1, len(frame))
        self.log.append(entry)
        self.frames.append(frame)
        self.by_id[id(frame)] = entry.index
        return frame

    def lookup(self, frame: object) -> Encoded | None:
        index = self.by_id.get(id(frame))
        if index is not None:
            return self.log[index]
        if isinstance(frame, bytes | bytearray | memoryview):  # a copy: find it by content
            try:
                message = json.loads(bytes(frame))
                n = message["body"]["n"]
            except (ValueError, KeyError, TypeError):
                return None
            return next((e for e in reversed(self.log) if e.n == n), None)
        return None


def held_bytes(room: object, frames: dict[int, int], skip: set[int]) -> int:
    """Bytes of the grader's frames that ``room`` holds, counted once per reference.

    A frame queued for five clients is held five times over, as far as the clients
    are concerned: each would be sent it. Functions, classes and modules are not
    followed (they lead out of the room, to the whole program).
    """
    seen: set[int] = set(skip)
    stack: list[object] = [room]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, SKIP_TYPES):
            continue
        seen.add(id(obj))
        for inner in gc.get_referents(obj):
            if id(inner) in frames:
                total += len(inner)
            elif not isinstance(inner, bytes):
                stack.append(inner)
    return total


# -- running a room ----------------------------------------------------------------


class RoomError(Exception):
    """The room raised or returned something the transport cannot use."""


@dataclass
class Delivery:
    t: float
    frame: Encoded | None
    size: int


@dataclass
class Sample:
    t: float
    held: int  # frame bytes the room held, once per reference
    behind: list[str]  # connected clients that are not fast readers
    fast: list[str]


def backlog(deliveries: list[Delivery], t: float) -> int:
    """Bytes a client was sent after ``t`` of frames formatted by ``t``: held at ``t``."""
    return sum(d.size for d in deliveries
               if d.t > t and d.frame is not None and d.frame.t <= t)


@dataclass
class Trace:
    deliveries: dict[str, list[Delivery]] = field(default_factory=dict)
    published: set[int] = field(default_factory=set)  # publications that took place
    closes: list[tuple[float, str, int]] = field(default_factory=list)
    gone: dict[str, float] = field(default_factory=dict)  # client -> when it left or was closed
    samples: list[Sample] = field(default_factory=list)
    leftover: int = 0  # frame bytes the room still held once everyone had left
    log: list[tuple[float, str, str]] = field(default_factory=list)  # (t, client, what)
    queries: int = 0
    broadcasts: int = 0
    error: str | None = None
    error_at: float = 0.0
    encoded: list[Encoded] = field(default_factory=list)


def run(make_room: Callable[..., Any], s: Scenario,
        describe: Callable[[BaseException], str] = repr) -> Trace:
    """Replay ``s`` through ``make_room(store, encode, max_bytes=, cursor_interval=)``."""
    store, encode = CountingStore(s.initial), CountingEncoder()
    trace = Trace(deliveries={c.name: [] for c in s.clients}, encoded=encode.log)
    clients = {c.name: c for c in s.clients}
    heap: list[tuple[float, int, str, Any]] = []
    order = 0

    def at(t: float, what: str, payload: Any = None) -> None:
        nonlocal order
        order += 1
        heapq.heappush(heap, (t, order, what, payload))

    for c in s.clients:  # first, so that a join at t=0 comes before anything else
        at(c.joined, "join", c)
        if c.leaves is not None:
            at(c.leaves, "leave", c)
    for publication in s.publishes:
        at(publication.t, "publish", publication)
    for t in s.ticks:
        at(t, "tick")
    for change in s.changes:
        at(change[0], "change", change)
    for t in (s.until * 0.5, s.until * 0.75, s.until - 1e-6):
        at(t, "sample")
    connected: set[str] = set()
    idle: set[str] = set()
    waking: set[str] = set()

    def paused_until(c: Client, t: float) -> float | None:
        for a, b in c.pauses:
            if a <= t < b and t < s.until:
                return min(b, s.until)
        return None

    def offer(name: str, t: float) -> None:
        c = clients[name]
        resume = paused_until(c, t)
        if resume is not None:
            if name not in waking:
                waking.add(name)
                at(resume, "ready", name)
            return
        frame = room.take(name)
        if frame is None:
            idle.add(name)
            return
        if not isinstance(frame, bytes | bytearray | memoryview):
            raise RoomError(f"take({name!r}) returned {type(frame).__name__}, not bytes or None")
        entry = encode.lookup(frame)
        trace.deliveries[name].append(Delivery(t, entry, len(frame)))
        rate = c.rate if t < s.until else FAST
        at(t + len(frame) / rate, "ready", name)

    def closed(t: float, closes: object) -> None:
        if not isinstance(closes, list):
            raise RoomError(f"publish()/tick() returned {closes!r}, not a list of "
                            "(client, code) pairs")
        for item in closes:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise RoomError(f"publish()/tick() returned {item!r} in its list, not a "
                                "(client, code) pair")
            name, code = item
            if name not in connected:
                continue  # closing a client twice changes nothing
            trace.closes.append((t, name, code))
            trace.log.append((t, name, f"room closes {name} with code {code}"))
            depart(name, t)

    def depart(name: str, t: float) -> None:
        connected.discard(name)
        idle.discard(name)
        trace.gone[name] = t
        room.leave(name, t)

    room: Any = None
    t = 0.0
    try:
        room = make_room(store, encode, max_bytes=s.max_bytes, cursor_interval=s.cursor_interval)
        skip = {id(store), id(encode), id(encode.frames), id(encode.log), id(encode.by_id)}
        while heap:
            t, _, what, payload = heapq.heappop(heap)
            formatted = len(encode.log)
            encode.now = t
            encode.call += 1
            if what == "ready":
                waking.discard(payload)
                if payload in connected:
                    offer(payload, t)
                continue
            if what == "publish":
                p: Publish = payload
                if p.client != "feed" and p.client not in connected:
                    continue
                trace.broadcasts += 1
                trace.published.add(p.n)
                trace.log.append((t, p.client, f"publish({p.client!r}, {p.kind!r}, "
                                               f"{p.key!r}, #{p.n})"))
                closed(t, room.publish(p.client, p.kind, p.key, p.body, t))
            elif what == "tick":
                closed(t, room.tick(t))
            elif what == "change":
                _, user, ok = payload
                store.allowed[user] = ok
                trace.log.append((t, user, f"permission of {user}: "
                                           f"{'may read' if ok else 'revoked'}"))
                room.permission_changed(user, t)
            elif what == "join":
                c = payload
                connected.add(c.name)
                idle.add(c.name)
                trace.log.append((t, c.name, f"join({c.name!r}, {c.user!r})"))
                room.join(c.name, c.user, t)
            elif what == "leave":
                if payload.name in connected:
                    trace.log.append((t, payload.name, f"{payload.name} vanishes: leave()"))
                    depart(payload.name, t)
                continue
            elif what == "sample":
                behind = [c.name for c in s.clients if c.name in connected and not c.fast]
                fast = [c.name for c in s.clients if c.name in connected and c.fast]
                held = held_bytes(room, encode.by_id, skip)
                trace.samples.append(Sample(t, held, behind, fast))
                continue
            if what in ("publish", "tick") and len(encode.log) == formatted:
                continue  # nothing was formatted, so nothing new can be waiting
            for name in sorted(idle):  # something new may be waiting for idle clients
                idle.discard(name)
                offer(name, t)
        t = s.end
        encode.now, encode.call = t, encode.call + 1
        for name in sorted(connected):
            depart(name, t)
        trace.leftover = held_bytes(room, encode.by_id, skip)
    except Exception as error:
        trace.error = (str(error) if isinstance(error, RoomError) else describe(error))
        trace.error_at = t
    trace.queries = store.queries
    return trace


# -- for the lesson: the same scenario through a naive room, and cursor traffic ------------


class NaiveRoom:
    """What a first version does: a list per client, encode and ask per recipient,
    every cursor move sent. (Lesson scaffolding: the failure, not the fix.)"""

    def __init__(self, store: Any, encode: Callable[[dict[str, Any]], bytes], *,
                 max_bytes: int = 0, cursor_interval: float = 0.0) -> None:
        self.store, self.encode = store, encode
        self.queues: dict[str, list[bytes]] = {}
        self.user_of: dict[str, str] = {}

    def join(self, client: str, user: str, now: float) -> None:
        self.queues[client], self.user_of[client] = [], user

    def leave(self, client: str, now: float) -> None:
        self.queues.pop(client, None)

    def permission_changed(self, user: str, now: float) -> None:
        pass

    def publish(self, client: str, kind: str, key: str, body: Body, now: float) -> list[Any]:
        for other, queue in self.queues.items():
            if other != client and self.store.can_read(self.user_of[other]):
                queue.append(self.encode({"kind": kind, "key": key, "body": body}))
        return []

    def tick(self, now: float) -> list[Any]:
        return []

    def take(self, client: str) -> bytes | None:
        queue = self.queues.get(client)
        return queue.pop(0) if queue else None


@dataclass
class Costs:
    """What one run cost, in the grader's own measures."""

    broadcasts: int
    encodes: int
    queries: int
    peak_held: int  # bytes, the largest of the samples
    worst_backlog: tuple[str, int]  # the client owed most at once, and how much
    cursor_rate: float  # cursor frames per second to the busiest fast viewer

    def __str__(self) -> str:
        who, owed = self.worst_backlog
        return (f"{self.broadcasts} broadcasts: {self.encodes} serialisations "
                f"({self.encodes / max(self.broadcasts, 1):.1f} each), {self.queries} store "
                f"queries ({self.queries / max(self.broadcasts, 1):.1f} each); the room held "
                f"up to {self.peak_held:,} bytes of frames; {who} was owed {owed:,} bytes at "
                f"once; a fast viewer got {self.cursor_rate:.0f} cursor frames/s")


def run_costs(make_room: Callable[..., Any], seed: int) -> Costs:
    """Replay graded scenario ``seed`` through ``make_room`` and sum up its costs."""
    s = scenario(seed)
    trace = run(make_room, s)
    if trace.error is not None:
        raise RuntimeError(trace.error)
    worst = ("nobody", 0)
    for c in s.clients:
        owed = _most_owed(trace.deliveries[c.name])
        if owed > worst[1]:
            worst = (c.describe(), owed)
    rates = [sum(1 for d in trace.deliveries[c.name] if d.frame and d.frame.kind == "cursor")
             / s.until for c in s.clients if c.fast]
    return Costs(trace.broadcasts, len(trace.encoded), trace.queries,
                 max((x.held for x in trace.samples), default=0), worst, max(rates, default=0.0))


def _most_owed(deliveries: list[Delivery]) -> int:
    moves = sorted([(d.frame.t, 1, d.size) for d in deliveries if d.frame and d.t > d.frame.t]
                   + [(d.t, 0, -d.size) for d in deliveries if d.frame and d.t > d.frame.t])
    held = best = 0
    for _, _, size in moves:
        held += size
        best = max(best, held)
    return best


@dataclass
class CursorTraffic:
    policy: str
    messages_per_s: float
    bytes_per_s: float
    lag_mean_ms: float  # how far behind the shown cursor is, on average while moving
    lag_max_ms: float
    final_shown: bool  # does the viewer end where the mouse stopped?

    def __str__(self) -> str:
        return (f"{self.policy:<28} {self.messages_per_s:6.1f} msg/s  "
                f"{self.bytes_per_s / 1000:5.1f} kB/s  lag mean {self.lag_mean_ms:5.1f} ms, "
                f"max {self.lag_max_ms:5.1f} ms  final position shown: "
                f"{'yes' if self.final_shown else 'NO'}")


def cursor_traffic(policy: str, *, interval: float = 0.05, seconds: float = 5.0,
                   seed: int = 8) -> CursorTraffic:
    """A mouse at 120 Hz in bursts, sent to one viewer under ``policy``:
    ``"every move"``, ``"sample every interval"`` (a timer sends the newest, if new) or
    ``"drop inside interval"`` (leading edge only). Frames are ~60 bytes of JSON."""
    rng = random.Random(seed)
    moves: list[tuple[float, int]] = []  # (t, position number)
    t = 0.1
    while t < seconds - 0.5:
        stop = t + rng.uniform(0.3, 1.2)
        while t < stop:
            moves.append((t, len(moves)))
            t += rng.uniform(0.95, 1.05) / 120
        t += rng.uniform(0.3, 0.8)
    sent: list[tuple[float, int]] = []  # (t, position number)
    if policy == "every move":
        sent = list(moves)
    elif policy == "sample every interval":
        i, tick, last = 0, 0.0, -1
        while tick < seconds:
            while i < len(moves) and moves[i][0] <= tick:
                i += 1
            if i and moves[i - 1][1] != last:
                last = moves[i - 1][1]
                sent.append((tick, last))
            tick += interval
    elif policy == "drop inside interval":
        last_t = -1e9
        for when, n in moves:
            if when - last_t >= interval:
                sent.append((when, n))
                last_t = when
    else:
        raise ValueError(policy)
    lags = []
    j, shown_at = 0, 0.0
    for when, n in moves:  # lag: until the viewer shows this position or a newer one
        while j < len(sent) and sent[j][1] < n:
            j += 1
        shown_at = sent[j][0] if j < len(sent) else seconds
        lags.append(max(0.0, shown_at - when))
    frame = 60
    return CursorTraffic(policy, len(sent) / seconds, len(sent) * frame / seconds,
                         1000 * sum(lags) / len(lags), 1000 * max(lags),
                         bool(sent) and sent[-1][1] == moves[-1][1])
