"""Module 11 live: the same glue, on real sockets, behind a real HAProxy, with a real Redis.

Theory of operation. :func:`start_app` starts a ``redis-server`` and 2-3
:class:`AppNode` s (in-kernel WebSocket servers on 127.0.0.1, each running an
``AppServer``) behind an ``haproxy`` whose tunnel timeout is the idle proxy
(``PROXY_IDLE`` s), all started by the course (:mod:`rtlab.live.parts`). Tabs
(:class:`LiveTab`, each an ``AppClient``) connect through HAProxy. As websockets'
``data_received`` does, a node only feeds the sans-I/O glue and carries out what it
returns: ``("send", conn, f)`` goes straight to the socket, ``("close", conn, code)``
closes it, and a writer task per connection drains ``take(conn)`` as fast as the socket
accepts (a slow reader makes ``send`` wait: backpressure reaches the glue's outbox).

The backplane (:class:`RedisBackplane`, one per node) is Redis: ``append`` runs one Lua
script (``HSETNX`` the id, ``RPUSH`` the entry, ``PUBLISH`` it: idempotent and in log
order); every node mirrors the log from its subscription and fills gaps with
``LRANGE``, so ``read``, ``latest`` and ``document`` answer at once from the mirror.
While Redis restarts, appends wait in order and are sent when it is back, and the
node calls ``reconnected``. The presence tracker is the one object ``make_presence``
returns, shared by the in-kernel nodes (module 10 showed the same as TTL keys in Redis).

Faults follow the simulator's :class:`~rtlab.topics.capstone.sim.Fault` entries. A
half-open link and a vanished tab are emulated in the tab (it stops reading and
writing, the TCP connection stays up); a slow client reads ``SLOW_RATE`` bytes/s.
:class:`Account` keeps what the lesson prints: edits lost, messages lost or duplicated,
ghosts, flicker, time to recover after each fault, and the dashboard's series.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from rtlab.live import LiveServer
from rtlab.live.parts import HAProxy, RedisServer, missing
from rtlab.live.registry import forget, raise_collected, register
from rtlab.topics.capstone.interface import CapstoneModule
from rtlab.topics.capstone.sim import PROXY_IDLE, ROOM, SLOW_RATE, Fault

__all__ = ["Account", "App", "AppNode", "LiveTab", "RedisBackplane", "bench_capstone_live",
           "missing_parts", "run_schedule", "start_app"]

DOWN = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, OSError)
FAULT_GRACE = 30.0  # seconds the faults may still run once the schedule has ended
APPEND = """
if redis.call('HSETNX', KEYS[2], ARGV[1], 1) == 0 then return 0 end
local seq = redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[3], 'log ' .. seq .. ' ' .. ARGV[2])
return seq
"""
LOG, IDS, CHANNEL = "cap:log", "cap:ids", "cap:events"
TICK = 0.1


def missing_parts() -> str | None:
    """None when redis-server and haproxy are installed, else how to install them."""
    return missing("redis-server", "haproxy")


def _redis(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, decode_responses=True, socket_timeout=1.0,
                                   socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))


class RedisBackplane:
    """One node's view of the backplane: Redis, with the log mirrored in memory."""

    def __init__(self, url: str, presence: Any, on_entry: Any, on_event: Any) -> None:
        self.url, self.presence = url, presence
        self.entries: list[dict[str, Any]] = []
        self._on_entry, self._on_event = on_entry, on_event
        self._outgoing: deque[tuple[str, str]] = deque()  # ("append"|"publish", data)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.up = True

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._send_loop()), loop.create_task(self._listen())]

    # -- the glue's side (synchronous) -------------------------------------------
    def append(self, message: dict[str, Any]) -> None:
        self._outgoing.append(("append", json.dumps(message)))
        self._wake.set()

    def read(self, after: int) -> list[dict[str, Any]]:
        return [{**e} for e in self.entries[max(0, int(after)):]]

    def latest(self) -> int:
        return len(self.entries)

    def document(self) -> list[str]:
        return [str(e["id"]) for e in self.entries if e.get("kind") == "edit"]

    def publish(self, message: dict[str, Any]) -> None:
        self._outgoing.append(("publish", json.dumps(message)))
        self._wake.set()

    # -- Redis's side ------------------------------------------------------------
    async def _send_loop(self) -> None:
        redis = _redis(self.url)
        script = redis.register_script(APPEND)
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._outgoing:
                    kind, data = self._outgoing[0]
                    try:
                        if kind == "append":
                            await script(keys=[LOG, IDS, CHANNEL],
                                         args=[json.loads(data)["id"], data])
                        else:
                            await redis.publish(CHANNEL, "event " + data)
                    except DOWN:
                        await asyncio.sleep(0.1)  # Redis restarting: keep it, in order
                        continue
                    self._outgoing.popleft()
        finally:
            await redis.aclose()

    async def _listen(self) -> None:
        while True:
            redis = _redis(self.url)
            try:
                pubsub = redis.pubsub()
                await pubsub.subscribe(CHANNEL)
                await self._catch_up(redis)
                if not self.up:
                    self.up = True
                    self._on_event(None)  # back: the node calls reconnected()
                while True:
                    item = await pubsub.get_message(ignore_subscribe_messages=True,
                                                    timeout=1.0)
                    if item is None:
                        continue
                    kind, _, rest = str(item["data"]).partition(" ")
                    if kind == "log":
                        seq, _, data = rest.partition(" ")
                        if int(seq) == len(self.entries) + 1:
                            self._add(data)
                        elif int(seq) > len(self.entries):
                            await self._catch_up(redis)
                    else:
                        self._on_event(json.loads(rest))
            except DOWN:
                self.up = False
                await asyncio.sleep(0.1)
            finally:
                with contextlib.suppress(Exception):
                    await redis.aclose()

    async def _catch_up(self, redis: aioredis.Redis) -> None:
        for data in await redis.lrange(LOG, len(self.entries), -1):
            self._add(str(data))

    def _add(self, data: str) -> None:
        entry = {**json.loads(data), "seq": len(self.entries) + 1}
        self.entries.append(entry)
        self._on_entry(entry)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task


class AppNode:
    """One app server: a LiveServer whose connections feed an ``AppServer``."""

    def __init__(self, name: str, module: CapstoneModule, redis_url: str, presence: Any,
                 account: Account) -> None:
        self.name, self.module, self.redis_url = name, module, redis_url
        self.presence, self.account = presence, account
        self.server: LiveServer | None = None
        self.backplane: RedisBackplane | None = None
        self.glue: Any = None
        self.conns: dict[str, ServerConnection] = {}
        self.ready: dict[str, asyncio.Event] = {}  # conn -> "take() may have something"
        self.errors: list[BaseException] = []
        self.count = 0
        self._ticker: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, name: str, module: CapstoneModule, redis_url: str, presence: Any,
                    account: Account) -> AppNode:
        node = cls(name, module, redis_url, presence, account)
        node.server = await LiveServer.start(f"capstone-{name}", node._serve, ping_interval=None,
                                             max_size=2**20)
        await node._boot()
        return node

    async def _boot(self) -> None:
        self.backplane = RedisBackplane(self.redis_url, self.presence, self._entry,
                                        self._event)
        self.backplane.start()
        await asyncio.sleep(0.05)  # subscribed and caught up before the first client
        self.glue = self.module.AppServer(self.name, self.backplane, self.account.now())
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def _do(self, what: str, call: Any) -> None:
        """Call the glue and carry out its actions; an error is kept for check()."""
        if self.glue is None:
            return
        try:
            actions = call(self.glue)
        except Exception as error:
            self.errors.append(RuntimeError(f"{self.name}: AppServer.{what} raised "
                                            f"{type(error).__name__}: {error}"))
            return
        for action in actions or []:
            ws = self.conns.get(action[1])
            if ws is None:
                continue
            if action[0] == "send":
                self.account.sent_bytes += len(action[2])
                asyncio.get_running_loop().create_task(_quiet_send(ws, action[2]))
            elif action[0] == "close":
                asyncio.get_running_loop().create_task(ws.close(int(action[2])))
        for event in self.ready.values():
            event.set()

    def _entry(self, entry: dict[str, Any]) -> None:
        self._do("published", lambda g: g.published(entry, self.account.now()))

    def _event(self, message: dict[str, Any] | None) -> None:
        if message is None:
            self._do("reconnected", lambda g: g.reconnected(self.account.now()))
        else:
            self._do("published", lambda g: g.published(message, self.account.now()))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self._do("tick", lambda g: g.tick(self.account.now()))

    async def _serve(self, ws: ServerConnection) -> None:
        query = ws.request.path.partition("?")[2] if ws.request else ""
        user = dict(p.partition("=")[::2] for p in query.split("&") if p).get("user", "?")
        self.count += 1
        conn = f"{user}@{self.name}#{self.count}"
        self.conns[conn] = ws
        ready = self.ready[conn] = asyncio.Event()
        writer = asyncio.get_running_loop().create_task(self._write(conn, ws, ready))
        self._do("opened", lambda g: g.opened(conn, user, self.account.now()))
        try:
            async for frame in ws:
                self._do("received", lambda g, f=frame: g.received(conn, f, self.account.now()))
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            self.conns.pop(conn, None)
            self.ready.pop(conn, None)
            self._do("closed", lambda g: g.closed(conn, self.account.now()))

    async def _write(self, conn: str, ws: ServerConnection, ready: asyncio.Event) -> None:
        while True:
            await ready.wait()
            ready.clear()
            while self.glue is not None:
                try:
                    frame = self.glue.take(conn)
                except Exception as error:
                    self.errors.append(error)
                    return
                if frame is None:
                    break
                self.account.sent_bytes += len(frame)
                await ws.send(frame)  # waits while the reader is slow: that is the point

    def queued(self) -> int:
        """Bytes the glue holds for its connections (from its outboxes, if it has them)."""
        room = getattr(self.glue, "room", None)
        boxes = getattr(room, "outboxes", {}) or {}
        return sum(int(getattr(box, "size", 0)) for box in boxes.values())

    async def crash(self, downtime: float, graceful: bool = False) -> None:
        """Die without a word (or redeploy: 1001 to everyone), come back as a new process."""
        assert self.server is not None
        glue, self.glue = self.glue, None
        if self._ticker is not None:
            self._ticker.cancel()
        if self.backplane is not None:
            await self.backplane.stop()
        if graceful:
            for conn, ws in list(self.conns.items()):
                await ws.close(1001, "deploy")
                with contextlib.suppress(Exception):
                    glue.closed(conn, self.account.now())
            await self.server.restart(downtime)
        else:
            # Cut the links first, in this turn: refuse_for waits for every handler to
            # end, and a tab that has gone silent (half-open, quit) never ends its own.
            for ws in list(self.conns.values()):
                ws.transport.abort()
            await self.server.refuse_for(downtime)
        await asyncio.sleep(downtime)
        await self._boot()

    def check(self) -> None:
        errors, self.errors = self.errors, []
        if self.server is not None:
            self.server.check()
        raise_collected(errors, f"node {self.name!r}")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self.backplane is not None:
            await self.backplane.stop()
        if self.server is not None:
            await self.server.stop()


async def _quiet_send(ws: Any, frame: Any) -> None:
    with contextlib.suppress(ConnectionClosed):
        await ws.send(frame)


@dataclass
class Account:
    """What the run did, for the dashboard and the end-of-run account."""

    t0: float = field(default_factory=time.monotonic)
    posted: dict[str, tuple[float, str, str]] = field(default_factory=dict)  # id -> t, tab, kind
    shown: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # tab -> (seq, id)
    latency: list[float] = field(default_factory=list)  # s, chat shown to tabs online when sent
    connects: list[float] = field(default_factory=list)
    leaves: list[tuple[float, str]] = field(default_factory=list)
    faults: list[tuple[Fault, float, float | None]] = field(default_factory=list)
    series: list[dict[str, float]] = field(default_factory=list)
    sent_bytes: int = 0

    def now(self) -> float:
        return time.monotonic() - self.t0


class LiveTab:
    """One browser tab, live: an ``AppClient`` on a real WebSocket through HAProxy."""

    def __init__(self, name: str, module: CapstoneModule, url: str, account: Account,
                 seed: int) -> None:
        self.name, self.url, self.account = name, url, account
        self.glue = module.AppClient(name, ROOM, random.Random(f"{seed}-{name}"), account.now())
        self.ws: ClientConnection | None = None
        self.mute = False  # half-open: nothing in, nothing out
        self.gone = False  # vanished for good
        self.slow_until = 0.0
        self.healthy_at: float | None = None
        self.task: asyncio.Task[None] | None = None
        self.errors: list[BaseException] = []

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    def _act(self, actions: Any) -> None:
        for action in actions or []:
            if action[0] == "send" and self.ws is not None and not self.mute:
                asyncio.get_running_loop().create_task(_quiet_send(self.ws, action[1]))
            elif action[0] == "show":
                message = action[1]
                self.account.shown.setdefault(self.name, []).append(
                    (int(message.get("seq", -1)), str(message.get("id"))))
                posted = self.account.posted.get(str(message.get("id")))
                if posted is not None and self.healthy_at is not None \
                        and self.healthy_at <= posted[0]:  # live delivery, not a catch-up
                    self.account.latency.append(self.account.now() - posted[0])
            elif action[0] == "close" and self.ws is not None:
                self.ws.transport.abort()

    async def _run(self) -> None:
        while not self.gone:
            self.account.connects.append(self.account.now())
            try:
                async with connect(f"{self.url}/?user={self.name}", ping_interval=None,
                                   open_timeout=2, close_timeout=0.5) as ws:
                    self.ws, self.mute = ws, False
                    self._act(self.glue.connected(self.account.now()))
                    poller = asyncio.get_running_loop().create_task(self._poll())
                    try:
                        async for frame in ws:
                            if self.gone:
                                await asyncio.Event().wait()  # vanished: hold the socket
                            if self.mute:
                                continue
                            if self.healthy_at is None:
                                self.healthy_at = self.account.now()
                            if self.slow_until > self.account.now():
                                await asyncio.sleep(len(frame) / SLOW_RATE)
                            self._act(self.glue.received(frame, self.account.now()))
                    finally:
                        poller.cancel()
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError):
                pass  # refused, cut, or HAProxy's 503 while no server is up: try again
            except Exception as error:  # the glue raised: keep it, keep the tab alive
                self.errors.append(error)
            self.ws, self.healthy_at = None, None
            if self.gone:
                return
            await asyncio.sleep(float(self.glue.disconnected(self.account.now())))

    async def _poll(self) -> None:
        while True:  # muted too: the network is dead, not the tab
            await asyncio.sleep(0.2)
            if not self.gone:
                self._act(self.glue.poll(self.account.now()))

    def post(self, kind: str, ident: str, body: str) -> None:
        if self.gone:
            return
        self.account.posted[ident] = (self.account.now(), self.name, kind)
        self._act(self.glue.post(kind, ident, body, self.account.now()))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


@dataclass
class App:
    """Everything one live run started: Redis, HAProxy, the nodes, the tabs."""

    module: CapstoneModule
    redis: RedisServer
    proxy: HAProxy
    nodes: dict[str, AppNode]
    presence: Any
    account: Account
    tabs: dict[str, LiveTab] = field(default_factory=dict)
    name: str = "capstone"

    def open_tab(self, name: str, seed: int = 0) -> LiveTab:
        tab = self.tabs[name] = LiveTab(name, self.module, self.proxy.url, self.account, seed)
        tab.start()
        return tab

    def online(self) -> set[str]:
        return set(self.presence.online())

    def check(self) -> None:
        errors = [e for tab in self.tabs.values() for e in tab.errors]
        for node in self.nodes.values():
            node.check()
        raise_collected(errors, "the tabs")

    async def stop(self) -> None:
        forget(self.name, self)
        for tab in self.tabs.values():
            await tab.stop()
        for node in self.nodes.values():
            await node.stop()
        await self.proxy.stop()
        await self.redis.stop()


async def start_app(module: CapstoneModule, servers: int = 2) -> App:
    """Redis, ``servers`` nodes and HAProxy in front of them (its idle timeout PROXY_IDLE)."""
    account = Account()
    redis = await RedisServer.start("capstone-redis")
    presence = module.make_presence()
    nodes = {f"s{i + 1}": await AppNode.start(f"s{i + 1}", module, redis.url, presence,
                                              account) for i in range(servers)}
    proxy = await HAProxy.start("capstone-haproxy", {n: node.port for n, node in nodes.items()},
                                idle=PROXY_IDLE)
    app = App(module, redis, proxy, nodes, presence, account)
    await register(app.name, app)
    return app


async def _presence_loop(app: App) -> None:
    while True:
        await asyncio.sleep(TICK)
        now = app.account.now()
        for event, user in app.presence.tick(now):
            if event == "leave":
                app.account.leaves.append((now, user))
            for node in app.nodes.values():
                if node.backplane is not None:
                    node.backplane.publish({"type": "presence", "event": event, "user": user})
                    break


async def _users(app: App, until: float, idle: list[tuple[float, float]], seed: int) -> None:
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    while app.account.now() < until:
        await asyncio.sleep(rng.expovariate(len(app.tabs) * 0.95 or 1.0))
        now = app.account.now()
        if any(a <= now < b for a, b in idle) or not app.tabs:
            continue
        tab = rng.choice(list(app.tabs.values()))
        pick = rng.random()
        if pick < 0.5 and tab.ws is not None:
            tab._act(tab.glue.cursor(rng.randrange(1000), rng.randrange(800), now))
        else:
            kind = "chat" if pick < 0.65 else "edit"
            n = counts[tab.name] = counts.get(tab.name, 0) + 1
            tab.post(kind, f"{tab.name}-{n}", f"{tab.name} {kind} {n}".ljust(
                60 if kind == "chat" else 1500, "."))


async def _fault(app: App, fault: Fault) -> None:
    account = app.account
    start = account.now()
    tabs = [app.tabs[n] for n in fault.target.split() if n in app.tabs]
    if fault.kind in ("restart", "deploy"):
        await app.nodes[fault.target].crash(fault.seconds, graceful=fault.kind == "deploy")
    elif fault.kind == "outage":
        await asyncio.gather(*(n.crash(fault.seconds) for n in app.nodes.values()))
        for i in range(fault.storm):
            app.open_tab(f"t{len(app.tabs)}", i)
    elif fault.kind == "redis-restart":
        await app.redis.restart(fault.seconds)
    elif fault.kind == "half-open":
        for tab in tabs:
            tab.mute, tab.healthy_at = True, None
    elif fault.kind == "blip":
        for tab in tabs:
            if tab.ws is not None:
                tab.healthy_at = None
                tab.ws.transport.abort()
    elif fault.kind == "quit":
        for tab in tabs:
            tab.gone = tab.mute = True
    elif fault.kind == "slow-client":
        for tab in tabs:
            tab.slow_until = start + fault.seconds
    if fault.kind in ("idle", "slow-client"):
        await asyncio.sleep(fault.seconds)
    await asyncio.sleep(0.3)
    deadline = start + fault.seconds + 10
    while account.now() < deadline:  # recovered: every tab still there heard its server
        if all(t.healthy_at is not None for t in app.tabs.values() if not t.gone):
            account.faults.append((fault, start, account.now() - start - (
                fault.end - fault.at)))
            return
        await asyncio.sleep(0.05)
    account.faults.append((fault, start, None))


def _rss_mib() -> float:
    """This process's resident memory now (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def sample(app: App) -> dict[str, float]:
    """One point of the dashboard's series."""
    a = app.account
    now = a.now()
    docs = [t.glue.document() for t in app.tabs.values() if not t.gone]
    edits = {i for i, (_, _, k) in a.posted.items() if k == "edit"}
    converged = sum(1 for d in docs if edits <= d) / max(len(docs), 1)
    recent = a.latency[-200:]
    point = {"t": now, "online": float(len(app.online())), "converged": converged,
             "p50_ms": 1000 * statistics.median(recent) if recent else 0.0,
             "p99_ms": 1000 * sorted(recent)[int(0.99 * (len(recent) - 1))] if recent else 0.0,
             "connects_per_s": float(sum(1 for c in a.connects if c > now - 1.0)),
             "queued_kib": sum(n.queued() for n in app.nodes.values()) / 1024,
             "kernel_mib": _rss_mib()}
    a.series.append(point)
    return point


async def run_schedule(app: App, faults: list[Fault], *, tabs: int, seconds: float,
                       settle: float = 4.0, on_sample: Any = None, seed: int = 7) -> Account:
    """Open ``tabs`` tabs, run ``faults`` (times from now) while users type, then settle."""
    for i in range(tabs):
        app.open_tab(f"t{i}", seed)
    loop = asyncio.get_running_loop()
    t0 = app.account.now()
    idle = [(t0 + f.at, t0 + f.end) for f in faults if f.kind == "idle"]
    helpers = [loop.create_task(_presence_loop(app)),
               loop.create_task(_users(app, t0 + seconds, idle, seed))]
    pending: list[tuple[Fault, asyncio.Task[None]]] = []
    try:
        for fault in sorted(faults, key=lambda f: f.at):
            await asyncio.sleep(max(0.0, t0 + fault.at - app.account.now()))
            pending.append((fault, loop.create_task(_fault(app, fault))))
        while app.account.now() < t0 + seconds + settle:
            point = sample(app)
            if on_sample is not None:
                on_sample(app, point)
            await asyncio.sleep(0.5)
        try:  # every fault gives up on its own within 10 s of its end: this never waits long
            await asyncio.wait_for(asyncio.gather(*(t for _, t in pending)), FAULT_GRACE)
        except TimeoutError:
            stuck = [f.describe() for f, t in pending if not t.done()]
            raise RuntimeError(f"the live run's faults were still running {FAULT_GRACE:g} s "
                               f"after the schedule ended: {stuck}") from None
    finally:
        for task in helpers:
            task.cancel()
    app.check()
    return app.account


def account_of(app: App) -> dict[str, Any]:
    """The end-of-run account: what was lost, duplicated, left behind, and recovery times."""
    a = app.account
    live = [t for t in app.tabs.values() if not t.gone]
    logged = set()
    for node in app.nodes.values():
        if node.backplane is not None:
            logged |= {str(e["id"]) for e in node.backplane.entries}
    edits = {i for i, (_, tab, k) in a.posted.items() if k == "edit"
             and not app.tabs[tab].gone}
    chats = {i for i, (_, tab, k) in a.posted.items() if k == "chat"}
    edits_lost = len(edits - logged) + sum(len(edits & logged - t.glue.document()) for t in live)
    log = next((n.backplane.entries for n in app.nodes.values() if n.backplane), [])
    lost = dup = 0
    for tab in live:
        shown = a.shown.get(tab.name, [])
        ids = [i for _, i in shown]
        dup += len(ids) - len(set(ids))
        if shown:
            first = min(seq for seq, _ in shown)
            expected = {str(e["id"]) for e in log if e["seq"] >= first and e["kind"] == "chat"}
            lost += len(expected - set(ids))
    gone = {t.name for t in app.tabs.values() if t.gone}
    flicker = sum(1 for _, user in a.leaves if user not in gone)
    return {"tabs": len(app.tabs), "edits": len(edits), "chat messages": len(chats & logged),
            "edits lost": edits_lost, "messages lost": lost, "messages duplicated": dup,
            "ghosts": len(gone & app.online()), "flicker events": flicker,
            "recovery": [(f.describe(), None if r is None else round(max(r, 0.0), 2))
                         for f, _, r in sorted(a.faults, key=lambda x: x[1])]}


async def bench_live_run(seconds: float = 12.0) -> dict[str, Any]:
    from rtlab import course
    from rtlab.learner import load_module

    module: Any = load_module(course.load().exercise("capstone").solution_path, "capstone_live")
    app = await start_app(module, servers=2)
    faults = [Fault(2.0, "restart", "s1", 1.0), Fault(4.5, "redis-restart", "", 1.0),
              Fault(6.5, "half-open", "t2"), Fault(8.0, "quit", "t3"),
              Fault(9.0, "outage", "", 1.0, storm=4)]
    try:
        await run_schedule(app, faults, tabs=12, seconds=seconds, settle=6.0)
        latency = sorted(app.account.latency) or [0.0]
        return {**account_of(app), "p50_ms": round(1000 * statistics.median(latency), 1),
                "p99_ms": round(1000 * latency[int(0.99 * (len(latency) - 1))], 1),
                "sent_kib": round(app.account.sent_bytes / 1024),
                "kernel_mib": round(_rss_mib())}
    finally:
        await app.stop()


def bench_capstone_live() -> None:
    """``make bench``: one live schedule behind HAProxy with Redis, and its account."""
    reason = missing_parts()
    if reason:
        print(f"  capstone live: skipped ({reason})")
        return
    result = asyncio.run(bench_live_run())
    for key, value in result.items():
        print(f"  {key}: {value}")


class Dashboard:
    """An ipywidgets dashboard of a live run: figures as text, and a plot redrawn every
    ``redraw`` seconds while the run goes (online users, document convergence, message
    latency p50/p99, connects per second, queued bytes, the kernel's memory)."""

    def __init__(self, redraw: float = 2.0) -> None:
        import ipywidgets

        self.text = ipywidgets.HTML("<i>waiting for the first sample</i>")
        self.image = ipywidgets.Image(format="png")
        self.widget = ipywidgets.VBox([self.text, self.image])
        self.redraw, self.drawn = redraw, -redraw

    def __call__(self, app: App, point: dict[str, float]) -> None:
        faults = ", ".join(f.kind for f, start, _ in app.account.faults[-3:])
        self.text.value = (
            f"<b>t={point['t']:.1f} s</b> &nbsp; online {point['online']:.0f} &nbsp; "
            f"converged {point['converged']:.0%} &nbsp; latency p50 {point['p50_ms']:.0f} ms, "
            f"p99 {point['p99_ms']:.0f} ms &nbsp; connects/s {point['connects_per_s']:.0f} "
            f"&nbsp; queued {point['queued_kib']:.1f} KiB &nbsp; "
            f"kernel {point['kernel_mib']:.0f} MiB &nbsp; faults done: {faults or '-'}")
        if point["t"] - self.drawn >= self.redraw:
            self.drawn = point["t"]
            self.image.value = plot_series(app.account)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]


def plot_series(account: Account) -> bytes:
    """The dashboard's figure as PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = account.series
    t = [p["t"] for p in series]
    fig, axes = plt.subplots(1, 4, figsize=(12, 2.4))
    panels = [("online users", ["online"]), ("converged (share)", ["converged"]),
              ("latency ms", ["p50_ms", "p99_ms"]), ("connects/s, queued KiB",
                                                     ["connects_per_s", "queued_kib"])]
    for ax, (title, keys) in zip(axes, panels, strict=True):
        for key in keys:
            ax.plot(t, [p[key] for p in series], label=key)
        for _fault, start, _ in account.faults:
            ax.axvline(start, color="grey", alpha=0.3)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
        if len(keys) > 1:
            ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72)
    plt.close(fig)
    return buffer.getvalue()
