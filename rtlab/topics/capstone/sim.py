"""The capstone under a chaos schedule, in virtual time.

Rules first. A run has 2-3 servers (each an ``AppServer``) behind a round-robin
balancer, one backplane (the shared log, announcements, the presence tracker), and a
dozen or more tabs (each an ``AppClient``) that chat, edit the board and move their
cursor, online or not. Every link has its own latency (5-40 ms each way) and passes an
idle proxy that cuts it after ``PROXY_IDLE`` seconds without a frame either way. A
:class:`Schedule` lists the faults (:class:`Fault`): a server that crashes or is
redeployed, a Redis restart (announcements lost meanwhile, the log kept), half-open
links (silent, nobody told), an idle spell (nobody types), a slow client (reads at
``SLOW_RATE`` bytes/s), an outage of every server followed by a join storm, network
blips, and tabs that quit for good without a goodbye.

Theory of operation. Everything is a callback on a seeded :class:`~rtlab.sim.SimLoop`
heap; nothing sleeps. A frame is delivered after its link's latency unless the link
died or closed meanwhile. A server's outboxes are drained (``take``) at most every
``FLUSH_EVERY`` s after its events, slow links at their rate; frames a server sends
directly (``("send", conn, f)``: join replies, pings) stand for the socket's own buffer
and are not slowed. One ticker, every ``TICK`` s, polls the tabs,
ticks the servers and the presence tracker, and samples who is online. The trace keeps
what the grader and the lesson's account need: what each tab showed, its document,
every connect attempt, presence events, proxy cuts, memory during slow reads, when each
tab was healthy (a link open and its server heard), and a timeline across all servers.
Glue that raises stops the run: :class:`GlueError` says where and when.
"""

from __future__ import annotations

import random
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rtlab.sim import SimLoop
from rtlab.topics.capstone.interface import CapstoneModule

ROOM = "board"
TICK = 0.1
FLUSH_EVERY = 0.01  # how often a busy server's socket writes are drained
PROXY_IDLE = 3.0  # seconds without a frame before the proxy cuts a link
SLOW_RATE = 1024  # bytes per second a slow client reads
EDIT_BYTES, CHAT_BYTES = 4000, 60
SETTLE = 6.0  # quiet seconds at the end: no new faults, no new posts
SPACING = 3.5  # seconds between the faults of a graded schedule

__all__ = ["Fault", "GlueError", "Schedule", "Trace", "account", "assemble", "chaos_schedule",
           "deep_size", "lesson_schedule", "print_account", "run"]


@dataclass(frozen=True)
class Fault:
    """One entry of a chaos schedule.

    ``kind`` is one of ``"restart"`` (server ``target`` crashes, back after ``seconds``),
    ``"deploy"`` (closes every link with 1001, the new version is up after ``seconds``),
    ``"redis-restart"``, ``"half-open"`` (the links of tabs ``target``, e.g. ``"t3 t4"``,
    go silent), ``"idle"`` (nobody types for ``seconds``), ``"slow-client"`` (tab
    ``target`` reads at ``SLOW_RATE`` for ``seconds``), ``"outage"`` (every server down
    for ``seconds``, then ``storm`` new tabs open at once), ``"blip"`` (the links of
    ``target`` drop, both ends told) and ``"quit"`` (tabs ``target`` vanish for good).
    """

    at: float
    kind: str
    target: str = ""
    seconds: float = 1.0
    storm: int = 0

    @property
    def end(self) -> float:
        timed = ("restart", "deploy", "redis-restart", "idle", "slow-client", "outage")
        return self.at + (self.seconds if self.kind in timed else 0.0)

    def describe(self) -> str:
        what = {"restart": f"{self.target} crashes, back after {self.seconds:g} s",
                "deploy": f"{self.target} redeployed, {self.seconds:g} s",
                "redis-restart": f"Redis restarts, down {self.seconds:g} s",
                "half-open": f"links of {self.target} go half-open",
                "idle": f"nobody types for {self.seconds:g} s",
                "slow-client": f"{self.target} reads {SLOW_RATE} B/s for {self.seconds:g} s",
                "outage": f"every server down {self.seconds:g} s, then {self.storm} tabs "
                          "join at once",
                "blip": f"links of {self.target} drop",
                "quit": f"{self.target} close for good, no goodbye"}
        return f"t={self.at:g} s {self.kind}: {what.get(self.kind, self.target)}"


@dataclass
class Schedule:
    seed: int
    servers: list[str]
    tabs: int
    faults: list[Fault]
    until: float  # posting stops at until - SETTLE
    chat_rate: float = 0.15  # per tab per second
    edit_rate: float = 0.3
    cursor_rate: float = 0.5

    def describe(self) -> str:
        return (f"seed {self.seed}: {len(self.servers)} servers, {self.tabs} tabs, "
                f"{len(self.faults)} faults over {self.until - SETTLE:g} s + "
                f"{SETTLE:g} s quiet")


def chaos_schedule(seed: int) -> Schedule:
    """The grader's schedule for ``seed``: one of each fault, in a random order."""
    rng = random.Random(seed)
    servers = [f"s{i + 1}" for i in range(rng.choice((2, 2, 3)))]
    tabs = rng.randint(10, 14)
    names = [f"t{i}" for i in range(tabs)]
    kinds = ["restart", "deploy", "redis-restart", "half-open", "idle", "blip", "quit",
             "outage"]
    rng.shuffle(kinds)
    if kinds.index("quit") > 4:  # early enough for its ghost to be judged before the end
        i = kinds.index("quit")
        kinds[i], kinds[2] = kinds[2], kinds[i]
    faults: list[Fault] = []
    picked = rng.sample(names, 7)
    slow, quitters, halves, blips = picked[0], picked[1:3], picked[3:5], picked[5:7]
    for i, kind in enumerate(kinds):
        at = round(3.0 + SPACING * i + rng.uniform(0, 0.5), 2)
        if kind in ("restart", "deploy"):
            faults.append(Fault(at, kind, rng.choice(servers), round(rng.uniform(0.8, 2.0), 2)))
        elif kind == "redis-restart":
            faults.append(Fault(at, kind, "", round(rng.uniform(0.8, 1.5), 2)))
        elif kind == "idle":
            faults.append(Fault(at, kind, "", 4.0))
        elif kind == "outage":
            faults.append(Fault(at, kind, "", round(rng.uniform(1.0, 2.0), 2),
                                storm=rng.randint(6, 8)))
        else:
            target = {"half-open": halves, "blip": blips, "quit": quitters}[kind]
            faults.append(Fault(at, kind, " ".join(target)))
    faults.append(Fault(round(rng.uniform(4.0, 12.0), 2), "slow-client", slow, 10.0))
    faults.sort(key=lambda f: f.at)
    return Schedule(seed, servers, tabs, faults, until=3.0 + SPACING * len(kinds) + SETTLE)


def lesson_schedule() -> Schedule:
    """The readable schedule of the lesson (the same faults, in a fixed order)."""
    faults = [
        Fault(3.0, "restart", "s1", 1.5),
        Fault(6.5, "redis-restart", "", 1.0),
        Fault(7.0, "slow-client", "t5", 8.0),
        Fault(10.0, "half-open", "t2 t3"),
        Fault(13.5, "idle", "", 4.0),
        Fault(18.0, "deploy", "s2", 1.0),
        Fault(21.5, "blip", "t6 t7"),
        Fault(25.0, "quit", "t8 t9"),
        Fault(28.5, "outage", "", 1.5, storm=8),
    ]
    return Schedule(7, ["s1", "s2"], 16, faults, until=32.0 + SETTLE)


class GlueError(Exception):
    """The learner's glue raised: where, when, what."""

    def __init__(self, where: str, at: float, error: BaseException) -> None:
        self.where, self.at, self.error = where, at, error
        super().__init__(f"{where} raised {type(error).__name__}: {error} at t={at:.2f} s")


# -- the trace -------------------------------------------------------------------

@dataclass
class LinkRecord:
    tab: str
    server: str
    conn: str
    opened: float
    healthy: float | None = None  # the first server frame arrived
    ended: float | None = None  # closed, cut or dead (whichever first)
    how: str = ""


@dataclass
class Trace:
    schedule: Schedule
    attempts: list[tuple[float, str]] = field(default_factory=list)
    links: list[LinkRecord] = field(default_factory=list)
    shown: dict[str, list[tuple[float, int, str]]] = field(default_factory=dict)
    posts: list[tuple[float, str, str, str, str | None]] = field(default_factory=list)
    documents: dict[str, set[str]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    appended: list[float] = field(default_factory=list)  # when each log entry was added
    presence: list[tuple[float, str, str]] = field(default_factory=list)
    online: list[tuple[float, set[str]]] = field(default_factory=list)
    proxy_cuts: list[tuple[float, str, str]] = field(default_factory=list)
    # (t, "server#generation/connections", bytes held by its AppServer), while a tab reads slowly
    memory: list[tuple[float, str, int]] = field(default_factory=list)
    dropped: dict[int, set[str]] = field(default_factory=dict)  # fault index -> tabs
    opened_at: dict[str, float] = field(default_factory=dict)
    quit_at: dict[str, float] = field(default_factory=dict)
    redis_down: list[tuple[float, float]] = field(default_factory=list)
    servers_down: list[tuple[str, float, float]] = field(default_factory=list)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    error: GlueError | None = None
    ended_at: float = 0.0

    def note(self, t: float, text: str) -> None:
        self.timeline.append((t, text))

    def healthy_by(self, tab: str, after: float) -> float | None:
        """When ``tab`` was next healthy at or after ``after`` (a link that lived on)."""
        best = None
        for link in self.links:
            if link.tab != tab or link.healthy is None:
                continue
            if link.ended is not None and link.ended <= after:
                continue
            when = max(link.healthy, after)
            best = when if best is None else min(best, when)
        return best


# -- memory ----------------------------------------------------------------------

_SKIP = (type, type(sys), type(len), type(lambda: 0), random.Random)


def deep_size(obj: object, skip: tuple[type, ...] = ()) -> int:
    """Bytes held by ``obj`` and what it reaches through containers and attributes
    (classes, modules, functions and ``skip`` types not counted)."""
    seen: set[int] = set()
    total = 0
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes | int | float):
            total += sys.getsizeof(item)  # by value: interning must not change the figure
            continue
        if id(item) in seen or isinstance(item, _SKIP + skip):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | deque):
            stack.extend(item)
        elif not isinstance(item, str | bytes | int | float | bool | type(None)):
            attrs = getattr(item, "__dict__", None)
            if attrs is not None:
                stack.append(attrs)
            for slot in getattr(type(item), "__slots__", ()):
                if hasattr(item, slot):
                    stack.append(getattr(item, slot))
    return total


# -- the world -------------------------------------------------------------------

class _Link:
    __slots__ = (
        "budget",
        "conn",
        "last",
        "latency",
        "record",
        "server",
        "slow",
        "state",
        "tab",
    )

    def __init__(self, tab: _Tab, server: _Server, conn: str, latency: float,
                 record: LinkRecord) -> None:
        self.tab, self.server, self.conn, self.latency = tab, server, conn, latency
        self.state = "open"  # "open" | "dead" (half-open) | "closed"
        self.last = 0.0  # the last frame through the proxy
        self.slow = False
        self.budget = 0.0
        self.record = record


class _Tab:
    def __init__(self, name: str, glue: Any) -> None:
        self.name, self.glue = name, glue
        self.link: _Link | None = None  # the current link, or the attempt in flight
        self.connected = False  # as far as the tab knows
        self.alive = True
        self.connecting = False
        self.slow_until = -1.0
        self.retry_handle: int | None = None


class _Server:
    def __init__(self, name: str) -> None:
        self.name = name
        self.glue: Any = None
        self.links: dict[str, _Link] = {}
        self.flushing = False
        self.generation = 0


class _Backplane:
    """The shared log, announcements and presence (Redis in the live run)."""

    __slots__ = ("entries", "presence", "seq_of", "up", "world")

    def __init__(self, world: _World, presence: Any) -> None:
        self.world = world
        self.entries: list[dict[str, Any]] = []
        self.seq_of: dict[str, int] = {}
        self.presence = presence
        self.up = True

    def append(self, message: dict[str, Any]) -> None:
        key = str(message.get("id"))
        if key in self.seq_of:
            return
        entry = {**message, "seq": len(self.entries) + 1}
        self.entries.append(entry)
        self.world.trace.appended.append(self.world.loop.now)
        self.seq_of[key] = entry["seq"]
        self.publish(entry)

    def read(self, after: int) -> list[dict[str, Any]]:
        after = max(0, int(after))
        return [dict(e) for e in self.entries[after:]]

    def latest(self) -> int:
        return len(self.entries)

    def document(self) -> list[str]:
        return [str(e["id"]) for e in self.entries if e.get("kind") == "edit"]

    def publish(self, message: dict[str, Any]) -> None:
        if not self.up:
            return  # pub/sub is at-most-once
        for server in self.world.servers.values():
            if server.glue is not None:
                self.world.loop.call_later(0.002, self.world.announce, server,
                                           server.generation, dict(message))


class _World:
    def __init__(self, module: CapstoneModule, schedule: Schedule) -> None:
        self.module, self.schedule = module, schedule
        self.loop = SimLoop(schedule.seed)
        self.rng = self.loop.rng
        self.trace = Trace(schedule)
        self.backplane = _Backplane(self, None)  # its presence tracker: made in run()
        self.servers = {name: _Server(name) for name in schedule.servers}
        self.tabs: dict[str, _Tab] = {}
        self.turn = 0
        self.conns = 0
        self.idle_until = -1.0
        self.stop_posting = schedule.until - SETTLE

    # -- calling learner code ------------------------------------------------
    def _call(self, where: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as error:
            raise GlueError(where, self.loop.now, error) from error

    # -- servers -------------------------------------------------------------
    def start_server(self, server: _Server) -> None:
        server.generation += 1
        server.glue = self._call(f"AppServer({server.name!r})", self.module.AppServer,
                                 server.name, self.backplane, self.loop.now)
        self.trace.note(self.loop.now, f"{server.name} starts")

    def stop_server(self, server: _Server, graceful: bool) -> None:
        for link in list(server.links.values()):
            if graceful:
                self.server_actions(server, [("close", link.conn, 1001)])
            else:
                self.end_link(link, "crash", tell_server=False)
        server.glue = None
        server.links.clear()

    def server_actions(self, server: _Server, actions: Any, fills: bool = False) -> None:
        """Carry out ``actions``; ``fills``: the call may have queued frames (drain them)."""
        if server.glue is None:
            return
        if not isinstance(actions, list):
            raise GlueError(f"{server.name}: AppServer", self.loop.now,
                            TypeError(f"returned {actions!r}, not a list of actions"))
        for action in actions:
            kind = action[0] if isinstance(action, tuple) and action else None
            link = server.links.get(action[1]) if kind in ("send", "close") else None
            if kind == "send" and link is not None:
                self.to_client(link, action[2])
            elif kind == "close" and link is not None:
                self.end_link(link, f"closed by {server.name} ({action[2]})", tell_server=True)
            elif kind not in ("send", "close"):
                raise GlueError(f"{server.name}: AppServer", self.loop.now,
                                ValueError(f"unknown action {action!r}"))
        if fills:
            self.schedule_flush(server)

    def schedule_flush(self, server: _Server) -> None:
        if not server.flushing:  # one drain per 10 ms at most: bursts share it
            server.flushing = True
            self.loop.call_later(FLUSH_EVERY, self.flush, server)

    def flush(self, server: _Server) -> None:
        server.flushing = False
        if server.glue is None:
            return
        take = server.glue.take
        try:  # the hottest path: no wrapper per call
            for link in list(server.links.values()):
                if link.slow:
                    continue
                frame = take(link.conn)
                while frame is not None:
                    self.to_client(link, frame)
                    frame = take(link.conn) if link.state != "closed" else None
        except Exception as error:
            raise GlueError(f"{server.name}: AppServer.take", self.loop.now, error) from error

    def pump_slow(self, link: _Link) -> None:
        server = link.server
        if link.state == "closed" or server.glue is None or link.conn not in server.links:
            return
        link.budget = min(link.budget + SLOW_RATE * TICK, SLOW_RATE)
        while link.budget > 0:
            frame = self._call(f"{server.name}: AppServer.take", server.glue.take, link.conn)
            if frame is None:
                break
            link.budget -= len(frame)
            self.to_client(link, frame)
        if link.slow:
            self.loop.call_later(TICK, self.pump_slow, link)
        else:
            self.schedule_flush(server)

    def announce(self, server: _Server, generation: int, message: dict[str, Any]) -> None:
        if server.glue is None or server.generation != generation or not self.backplane.up:
            return
        self.server_actions(server, self._call(f"{server.name}: AppServer.published",
                                               server.glue.published, message, self.loop.now),
                            fills=True)

    # -- links ---------------------------------------------------------------
    def to_client(self, link: _Link, frame: Any) -> None:
        if link.state != "open":
            return
        link.last = self.loop.now
        self.loop.call_later(link.latency, self.arrive_client, link, frame)

    def arrive_client(self, link: _Link, frame: Any) -> None:
        tab = link.tab
        if link.state != "open" or tab.link is not link or not tab.alive:
            return
        if link.record.healthy is None:
            link.record.healthy = self.loop.now
        self.client_actions(tab, self._call(f"{tab.name}: AppClient.received",
                                            tab.glue.received, frame, self.loop.now))

    def to_server(self, link: _Link, frame: Any) -> None:
        if link.state != "open":
            return
        link.last = self.loop.now
        self.loop.call_later(link.latency, self.arrive_server, link, frame)

    def arrive_server(self, link: _Link, frame: Any) -> None:
        server = link.server
        if link.state != "open" or server.glue is None or link.conn not in server.links:
            return
        self.server_actions(server, self._call(f"{server.name}: AppServer.received",
                                               server.glue.received, link.conn, frame,
                                               self.loop.now), fills=True)

    def end_link(self, link: _Link, how: str, *, tell_server: bool,
                 tell_client: bool = True) -> None:
        """Close ``link``; each end still alive is told (after the latency for the far one)."""
        if link.state == "closed":
            return
        was_dead = link.state == "dead"
        link.state = "closed"
        if link.record.ended is None:
            link.record.ended, link.record.how = self.loop.now, how
        self.trace.note(self.loop.now, f"{link.tab.name} on {link.server.name}: {how}")
        server = link.server
        if server.links.get(link.conn) is link:
            del server.links[link.conn]
            if tell_server and server.glue is not None:
                self.server_actions(server, self._call(
                    f"{server.name}: AppServer.closed", server.glue.closed, link.conn,
                    self.loop.now), fills=True)
        if tell_client and not was_dead:
            self.loop.call_later(link.latency, self.client_lost, link.tab, link)

    def client_lost(self, tab: _Tab, link: _Link) -> None:
        if tab.link is not link or not tab.alive:
            return
        tab.link, tab.connected = None, False
        self.retry(tab)

    def retry(self, tab: _Tab) -> None:
        delay = self._call(f"{tab.name}: AppClient.disconnected", tab.glue.disconnected,
                           self.loop.now)
        if not isinstance(delay, int | float) or delay != delay or delay < 0:
            raise GlueError(f"{tab.name}: AppClient.disconnected", self.loop.now,
                            ValueError(f"returned {delay!r}, not a delay in seconds"))
        tab.retry_handle = self.loop.call_later(min(float(delay), 3600.0), self.attempt, tab)

    def attempt(self, tab: _Tab) -> None:
        if not tab.alive or tab.link is not None:
            return
        now = self.loop.now
        self.trace.attempts.append((now, tab.name))
        up = [s for s in self.servers.values() if s.glue is not None]
        latency = self.rng.uniform(0.005, 0.04)
        if not up:
            self.loop.call_later(2 * latency, self.refused, tab)
            return
        self.turn += 1
        server = up[self.turn % len(up)]
        self.conns += 1
        conn = f"{tab.name}#{self.conns}"
        record = LinkRecord(tab.name, server.name, conn, now + 2 * latency)
        link = _Link(tab, server, conn, latency, record)
        link.last = now
        tab.link = link  # the attempt is in flight: no second one meanwhile
        self.loop.call_later(2 * latency, self.opened, link)

    def refused(self, tab: _Tab) -> None:
        if tab.alive and tab.link is None:
            self.retry(tab)

    def opened(self, link: _Link) -> None:
        tab, server = link.tab, link.server
        if not tab.alive or tab.link is not link:
            return
        if server.glue is None:  # it went down while we were connecting
            tab.link = None
            self.retry(tab)
            return
        now = self.loop.now
        server.links[link.conn] = link
        tab.connected = True
        self.trace.links.append(link.record)
        link.last = now
        link.slow = tab.slow_until > now
        if link.slow:
            self.loop.call_later(TICK, self.pump_slow, link)
        self.loop.call_later(PROXY_IDLE, self.proxy_check, link)
        self.server_actions(server, self._call(f"{server.name}: AppServer.opened",
                                               server.glue.opened, link.conn, tab.name, now),
                            fills=True)
        self.client_actions(tab, self._call(f"{tab.name}: AppClient.connected",
                                            tab.glue.connected, now))

    def proxy_check(self, link: _Link) -> None:
        if link.state == "closed":
            return
        idle = self.loop.now - link.last
        if idle >= PROXY_IDLE - 1e-9:
            if link.state == "open":
                self.trace.proxy_cuts.append((self.loop.now, link.tab.name, link.server.name))
            self.end_link(link, f"cut by the idle proxy after {idle:.1f} s of silence",
                          tell_server=True)
        else:
            self.loop.call_at(link.last + PROXY_IDLE, self.proxy_check, link)

    # -- tabs ----------------------------------------------------------------
    def client_actions(self, tab: _Tab, actions: Any) -> None:
        if not isinstance(actions, list):
            raise GlueError(f"{tab.name}: AppClient", self.loop.now,
                            TypeError(f"returned {actions!r}, not a list of actions"))
        for action in actions:
            kind = action[0] if isinstance(action, tuple) and action else None
            if kind == "send":
                if tab.link is not None and tab.connected:
                    self.to_server(tab.link, action[1])
            elif kind == "show":
                message = action[1] if isinstance(action[1], dict) else {}
                self.trace.shown.setdefault(tab.name, []).append(
                    (self.loop.now, int(message.get("seq", -1)), str(message.get("id"))))
            elif kind == "close":
                link = tab.link
                if link is not None and tab.connected:
                    if link.state == "open":  # the close frame reaches the server
                        self.loop.call_later(link.latency, self.end_link, link,
                                             f"closed by {tab.name}: {action[1]}", True, False)
                    elif link.record.ended is None:
                        link.record.ended = self.loop.now
                    tab.link, tab.connected = None, False
                    self.trace.note(self.loop.now, f"{tab.name} gives up its link: {action[1]}")
                    self.retry(tab)
                    return
            else:
                raise GlueError(f"{tab.name}: AppClient", self.loop.now,
                                ValueError(f"unknown action {action!r}"))

    def open_tab(self, name: str) -> None:
        now = self.loop.now
        rng = random.Random(f"{self.schedule.seed}-{name}")
        glue = self._call(f"AppClient({name!r})", self.module.AppClient, name, ROOM, rng, now)
        tab = self.tabs[name] = _Tab(name, glue)
        self.trace.opened_at[name] = now
        self.attempt(tab)
        self.loop.call_later(self.rng.uniform(0.2, 1.0), self.act, tab, 0)

    def act(self, tab: _Tab, count: int) -> None:
        """The user: chat, edit, move the cursor (offline too, for posts)."""
        if not tab.alive:
            return
        now = self.loop.now
        s = self.schedule
        total = s.chat_rate + s.edit_rate + s.cursor_rate
        if now < self.stop_posting and now >= self.idle_until:
            pick = self.rng.uniform(0, total)
            if pick < s.cursor_rate:
                self.client_actions(tab, self._call(
                    f"{tab.name}: AppClient.cursor", tab.glue.cursor,
                    self.rng.randrange(1000), self.rng.randrange(800), now))
            else:
                kind = "chat" if pick < s.cursor_rate + s.chat_rate else "edit"
                ident = f"{tab.name}-{count}"
                body = (f"{tab.name} says {count} ".ljust(CHAT_BYTES, ".") if kind == "chat"
                        else ident.ljust(EDIT_BYTES, "~"))
                server = tab.link.server.name if tab.link and tab.link.state == "open" \
                    and tab.link.record.healthy is not None else None
                self.trace.posts.append((now, tab.name, kind, ident, server))
                self.client_actions(tab, self._call(f"{tab.name}: AppClient.post",
                                                    tab.glue.post, kind, ident, body, now))
                count += 1
        if now < self.stop_posting:
            self.loop.call_later(self.rng.expovariate(total), self.act, tab, count)

    # -- the ticker ------------------------------------------------------------
    def tick(self) -> None:
        now = self.loop.now
        polling = round(now / TICK) % 2 == 0  # tabs every other tick: 0.2 s is plenty
        for tab in list(self.tabs.values()) if polling else ():
            if tab.alive and tab.connected:
                self.client_actions(tab, self._call(f"{tab.name}: AppClient.poll",
                                                    tab.glue.poll, now))
        for server in self.servers.values():
            if server.glue is not None:
                self.server_actions(server, self._call(f"{server.name}: AppServer.tick",
                                                       server.glue.tick, now), fills=True)
        events = self._call("PresenceTracker.tick", self.backplane.presence.tick, now)
        for event, user in events or []:
            self.presence_event(now, event, user)
            self.backplane.publish({"type": "presence", "event": event, "user": user})
        if round(now / TICK) % 5 == 0:
            online = self._call("PresenceTracker.online", self.backplane.presence.online)
            self.trace.online.append((now, set(online)))
        self.loop.call_later(TICK, self.tick)

    def presence_event(self, now: float, event: str, user: str) -> None:
        self.trace.presence.append((now, event, user))
        self.trace.note(now, f"presence: {event} {user}")

    # -- faults ----------------------------------------------------------------
    def fault(self, index: int, fault: Fault) -> None:
        now = self.loop.now
        self.trace.note(now, f"FAULT {fault.describe()}")
        dropped: set[str] = set()
        targets = [self.tabs[n] for n in fault.target.split() if n in self.tabs]
        if fault.kind in ("restart", "deploy", "outage"):
            names = [fault.target] if fault.kind != "outage" else list(self.servers)
            for name in names:
                server = self.servers[name]
                if server.glue is None:
                    continue
                dropped |= {link.tab.name for link in server.links.values()}
                self.trace.servers_down.append((name, now, fault.end))
                self.stop_server(server, graceful=fault.kind == "deploy")
                self.loop.call_at(fault.end, self.start_server, server)
            if fault.kind == "outage":
                self.loop.call_at(fault.end, self.storm, fault.storm)
        elif fault.kind == "redis-restart":
            self.backplane.up = False
            self.trace.redis_down.append((now, fault.end))
            self.loop.call_at(fault.end, self.redis_back)
        elif fault.kind == "idle":
            self.idle_until = fault.end
        elif fault.kind == "slow-client":
            for tab in targets:
                tab.slow_until = fault.end
                if tab.link is not None and tab.connected and tab.link.state == "open":
                    tab.link.slow = True
                    self.loop.call_later(TICK, self.pump_slow, tab.link)
            self.sample_memory()
            self.loop.call_at(fault.end, self.unslow, targets)
        elif fault.kind in ("half-open", "blip", "quit"):
            for tab in targets:
                link = tab.link
                if fault.kind == "quit":
                    tab.alive = False
                    self.trace.quit_at[tab.name] = now
                    self.loop.cancel(tab.retry_handle)
                    self.trace.documents[tab.name] = set(tab.glue.document())
                if link is None:
                    continue
                dropped.add(tab.name)
                if fault.kind == "blip":
                    self.end_link(link, "network blip", tell_server=True)
                elif link.state == "open":
                    link.state = "dead"
                    link.record.ended, link.record.how = now, "half-open"
                    self.trace.note(now, f"{tab.name} on {link.server.name}: link half-open")
        self.trace.dropped[index] = dropped

    def storm(self, count: int) -> None:
        for _ in range(count):
            self.open_tab(f"t{len(self.tabs)}")

    def redis_back(self) -> None:
        self.backplane.up = True
        self.trace.note(self.loop.now, "Redis is back")
        for server in self.servers.values():
            if server.glue is not None:
                self.server_actions(server, self._call(
                    f"{server.name}: AppServer.reconnected", server.glue.reconnected,
                    self.loop.now), fills=True)

    def unslow(self, tabs: list[_Tab]) -> None:
        for tab in tabs:
            tab.slow_until = -1.0
            if tab.link is not None:
                tab.link.slow = False

    def sample_memory(self) -> None:
        now = self.loop.now
        for server in self.servers.values():
            if server.glue is not None:
                self.flush(server)  # drain the other links first: what is left is the backlog
                size = deep_size(server.glue, (_Backplane,))
                self.trace.memory.append((now, f"{server.name}#{server.generation}"
                                          f"/{len(server.links)}", size))
        if any(t.slow_until > now for t in self.tabs.values()):
            self.loop.call_later(1.0, self.sample_memory)

    # -- the run ---------------------------------------------------------------
    def run(self) -> Trace:
        s = self.schedule
        try:
            self.backplane.presence = self._call("make_presence", self.module.make_presence)
            for server in self.servers.values():
                self.start_server(server)
            for i in range(s.tabs):
                self.loop.call_at(self.rng.uniform(0, 1.0), self.open_tab, f"t{i}")
            for i, fault in enumerate(s.faults):
                self.loop.call_at(fault.at, self.fault, i, fault)
            self.loop.call_at(TICK, self.tick)
            self.loop.run(s.until)
        except GlueError as error:
            self.trace.error = error
            self.trace.note(error.at, f"ERROR {error}")
        finally:
            self.loop.close()
        self.trace.ended_at = self.loop.now
        self.trace.log = list(self.backplane.entries)
        for tab in self.tabs.values():
            if tab.alive:
                try:
                    self.trace.documents[tab.name] = set(tab.glue.document())
                except Exception as error:  # the run is over: record, do not raise
                    self.trace.error = self.trace.error or GlueError(
                        f"{tab.name}: AppClient.document", self.loop.now, error)
        return self.trace


def run(module: CapstoneModule, schedule: Schedule) -> Trace:
    """Run ``schedule`` with the learner's glue; the trace says what happened."""
    return _World(module, schedule).run()


def account(trace: Trace) -> dict[str, Any]:
    """The end-of-run account of a simulated run, as the lesson prints it: what users
    lost, saw twice, saw flicker or linger, and how long each fault took to heal."""
    settled_since = trace.ended_at - 3.0
    alive = [t for t in trace.opened_at if t not in trace.quit_at]
    settled = [t for t in alive if any(
        link.tab == t and link.healthy is not None and link.healthy <= settled_since
        and link.ended is None for link in trace.links)]
    logged = {str(e["id"]) for e in trace.log}
    edits = {str(e["id"]) for e in trace.log if e.get("kind") == "edit"}
    posted = [p for p in trace.posts if p[1] in settled]
    lost_edits = sum(1 for p in posted if p[2] == "edit" and p[3] not in logged) + sum(
        len(edits - trace.documents.get(t, set())) for t in settled)
    chats = [int(e["seq"]) for e in trace.log if e.get("kind") == "chat"]
    lost = dup = 0
    for tab in settled:
        seqs = [seq for _, seq, _ in trace.shown.get(tab, [])]
        dup += len(seqs) - len(set(seqs))
        if seqs:
            lost += sum(1 for s in chats if s > min(seqs) and s not in set(seqs))
    last_online = trace.online[-1][1] if trace.online else set()
    ghosts = sorted(t for t, gone in trace.quit_at.items() if t in last_online)
    flicker = sum(1 for t, event, user in trace.presence if event == "leave"
                  and user not in trace.quit_at)
    recovery: list[tuple[str, float | None]] = []
    for index, fault in enumerate(trace.schedule.faults):
        dropped = trace.dropped.get(index, set()) - set(trace.quit_at)
        backs = [trace.healthy_by(tab, fault.at + 1e-6) for tab in dropped]
        if not dropped:
            recovery.append((fault.describe(), 0.0))
        elif any(b is None for b in backs):
            recovery.append((fault.describe(), None))
        else:
            recovery.append((fault.describe(), round(max(0.0, max(
                b for b in backs if b is not None) - fault.end), 2)))
    return {"tabs": len(trace.opened_at), "edits": len(edits),
            "chat messages": len(chats), "connect attempts": len(trace.attempts),
            "edits lost": lost_edits, "messages lost": lost, "messages duplicated": dup,
            "ghosts": len(ghosts), "flicker events": flicker,
            "idle-proxy cuts": len(trace.proxy_cuts), "recovery": recovery,
            "error": None if trace.error is None else str(trace.error)}


def print_account(result: dict[str, Any]) -> None:
    """The account, one line per figure, then the time to recover after each fault."""
    for key, value in result.items():
        if key not in ("recovery", "error"):
            print(f"{key:>20}: {value}")
    print("time to recover after each fault (s after it ended; - = not back):")
    for what, seconds in result["recovery"]:
        print(f"  {'-' if seconds is None else f'{seconds:5.2f}':>6}  {what}")
    if result.get("error"):
        print(f"stopped: {result['error']}")


def assemble(module: Any, **replace: Any) -> Any:
    """The same assembly with some of its names replaced (``make_presence``,
    ``AppClient``...): a lesson's way to try one sharp edge without touching a file."""
    from types import SimpleNamespace

    return SimpleNamespace(**{**vars(module), **replace})
