"""A live presence service in the kernel: a tracker behind a real WebSocket server,
a crowd of flaky users on loopback, observers, and a roster widget.

The server is the thin I/O shell around a sans-I/O presence tracker (the
exercise's ``PresenceTracker``, or any
:class:`~rtlab.topics.presence.interface.Tracker`). Its protocol, in JSON text frames:

- a user's connection sends ``{"hello": "ada"}`` first, then ``{"hb": 1}``
  every heartbeat interval: ``connect`` on hello, ``heartbeat`` per frame,
  ``disconnect`` when the connection closes (cleanly or not);
- an observer sends ``{"watch": true}`` and receives ``{"roster": [...]}``
  (from ``tracker.online()``), then ``{"event": "join"|"leave", "user": ...}``
  as the tracker announces them;
- a task calls ``tracker.tick(now)`` every ``tick_every`` seconds.

A first frame that is neither (not JSON, nested deeper than 4, over 1 KiB, a
user name that is not a string of 1-100 characters) closes that connection
with 1008 (policy violation) and the reason; a frame over ``MAX_FRAME`` (4 KiB)
is closed by websockets with 1009. The tracker never sees either.

Time is seconds since the server started (``server.now()``), shared with the
crowd and the observers so one plot can show all three.

A :class:`Crowd` plays seeded plans of users (steady, blippers, multi-tab
users, mobile handoffs, real leavers, crashed tabs that stop sending
heartbeats but never close) as real WebSocket clients. Errors raised by the
tracker are collected and raised by ``check()`` and ``stop()``, like
``LiveServer``'s (background errors are invisible to nbval otherwise).
"""

from __future__ import annotations

import asyncio
import html
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import broadcast
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from rtlab.live.registry import forget, raise_collected, register
from rtlab.live.server import LiveServer
from rtlab.topics.presence.interface import Event, Tracker
from rtlab.wire.bounded_json import JSONRefused, loads_bounded
from rtlab.wire.websocket import close_reason

__all__ = [
    "Crowd",
    "LiveRun",
    "PresenceServer",
    "RosterView",
    "Watcher",
    "crowd_plans",
    "roster_demo",
]

Clock = Callable[[], float]
NAMES = (
    "ada", "alan", "anna", "arlo", "beth", "bo", "cai", "cleo", "cy", "dana", "dev", "di",
    "ed", "eli", "ema", "eve", "fay", "flo", "gus", "hal", "ian", "ines", "ivy", "jay", "jo",
    "jun", "kai", "kim", "lea", "leo", "liv", "lou", "mai", "max", "mia", "nia", "noa", "ola",
    "oli", "pam", "per", "pia", "raj", "ren", "rio", "rosa", "sam", "sia", "tam", "tess",
    "theo", "uma", "val", "vic", "wen", "xia", "yan", "yui", "zac", "zoe",
)
ROLES = (  # share of the crowd
    ("steady", 0.30), ("blipper", 0.27), ("multitab", 0.10), ("handoff", 0.10),
    ("leaver", 0.115), ("crasher", 0.115),
)
STAYING = frozenset({"steady", "blipper", "multitab", "handoff"})  # never really leave
POLICY_VIOLATION = 1008  # a first frame that is not a hello or a watch
MAX_FRAME = 4 * 1024  # hellos and heartbeats are a few bytes
MAX_HELLO_BYTES = 1024
MAX_USER_LENGTH = 100


# -- the server ------------------------------------------------------------------------


class PresenceServer:
    """A named presence service on a :class:`LiveServer`, driving ``tracker``."""

    def __init__(self, name: str, tracker: Tracker, tick_every: float) -> None:
        self.name = name
        self.tracker = tracker
        self.tick_every = tick_every
        self.t0 = time.monotonic()
        self.events: list[tuple[float, str, str]] = []  # (now, kind, user) as announced
        self.calls = 0
        self.errors: list[BaseException] = []
        self.watchers: set[ServerConnection] = set()
        self.server: LiveServer | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._conns = 0

    @classmethod
    async def start(
        cls, name: str, tracker: Tracker, *, tick_every: float = 0.05
    ) -> PresenceServer:
        """Serve presence on 127.0.0.1 (a free port); re-running replaces ``name``."""
        service = cls(name, tracker, tick_every)
        await register(name, service)
        service.server = await LiveServer.start(name, service._handle, max_size=MAX_FRAME)
        service._ticker = asyncio.get_running_loop().create_task(service._tick_loop())
        return service

    def now(self) -> float:
        """Seconds since the server started: the tracker's clock."""
        return time.monotonic() - self.t0

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    # -- calling the tracker ---------------------------------------------------
    def _call(self, method: Callable[[float], list[Event]]) -> None:
        """Call ``method(now)``: one tracker method, its other arguments bound."""
        if self.errors:
            return  # a broken tracker is reported once, at check() or stop()
        now = self.now()
        self.calls += 1
        try:
            result = method(now)
            events = [(str(kind), str(user)) for kind, user in (result or [])]
        except Exception as error:
            self.errors.append(error)
            return
        for kind, user in events:
            self.events.append((now, kind, user))
        if events and self.watchers:
            for kind, user in events:
                broadcast(self.watchers, json.dumps({"event": kind, "user": user, "t": now}))

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_every)
            self._call(lambda now: self.tracker.tick(now))

    async def _handle(self, ws: ServerConnection) -> None:
        hello, why = parse_hello(await ws.recv())
        if hello is None:
            await ws.close(POLICY_VIOLATION, close_reason(why))
            return
        if hello.get("watch"):
            try:
                roster = sorted(self.tracker.online())
            except Exception as error:
                self.errors.append(error)
                roster = []
            await ws.send(json.dumps({"roster": roster, "t": self.now()}))
            self.watchers.add(ws)
            try:
                await ws.wait_closed()
            finally:
                self.watchers.discard(ws)
            return
        user = str(hello["hello"])
        self._conns += 1
        conn = f"{user}#{self._conns}"
        # lambdas, not bound methods: a tracker lacking one raises inside _call, collected
        tracker = self.tracker
        self._call(lambda now: tracker.connect(user, conn, now))
        try:
            async for _ in ws:
                self._call(lambda now: tracker.heartbeat(user, conn, now))
        finally:
            self._call(lambda now: tracker.disconnect(user, conn, now))

    # -- observing and stopping ------------------------------------------------
    def counts(self) -> tuple[int, int]:
        """(joins, leaves) announced so far."""
        joins = sum(1 for _, kind, _ in self.events if kind == "join")
        return joins, len(self.events) - joins

    def check(self) -> None:
        """Raise the errors the tracker raised (and forget them)."""
        errors, self.errors = self.errors, []
        raise_collected(errors, f"presence server {self.name!r}")
        if self.server is not None:
            self.server.check()

    async def stop(self) -> None:
        """Stop ticking and serving; raise any error the tracker or a handler hit."""
        forget(self.name, self)
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        if self.server is not None:
            await self.server.stop()
        self.check()

    def __repr__(self) -> str:
        joins, leaves = self.counts()
        return (f"<PresenceServer {self.name!r}: {type(self.tracker).__name__}, "
                f"{joins} joins, {leaves} leaves>")


# -- observers -------------------------------------------------------------------------


class Watcher:
    """An observer: starts from the server's roster, then applies every event it gets."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.roster: set[str] = set()
        self.joined_at = clock()
        self.events: list[tuple[float, str, str]] = []
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, url: str, clock: Clock) -> Watcher:
        watcher = cls(clock)
        watcher.ws = await connect(url, proxy=None, ping_interval=None, close_timeout=0.5)
        await watcher.ws.send(json.dumps({"watch": True}))
        first = json.loads(await watcher.ws.recv())
        watcher.roster = set(first["roster"])
        watcher.task = asyncio.get_running_loop().create_task(watcher._read())
        return watcher

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for message in self.ws:
                data = json.loads(message)
                self.events.append((self.clock(), data["event"], data["user"]))
                if data["event"] == "join":
                    self.roster.add(data["user"])
                else:
                    self.roster.discard(data["user"])
        except ConnectionClosed:
            pass

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.ws is not None:
            await self.ws.close()


# -- the crowd -------------------------------------------------------------------------


@dataclass
class Plan:
    """What one simulated user does: ``(at, action, tab)`` steps, seconds after the start.

    Actions: ``open`` a tab (a new connection), ``close`` it cleanly, ``drop`` it
    (the network dies: no close frame), ``crash`` it (the tab freezes: no more
    heartbeats, and the connection is never closed).
    """

    user: str
    role: str
    steps: list[tuple[float, str, int]] = field(default_factory=list)


def crowd_plans(
    seed: int, users: int = 60, *, duration: float = 3.5, blip: tuple[float, float] = (0.1, 0.6)
) -> list[Plan]:
    """Seeded plans for ``users`` users over ``duration`` seconds (all arrive in 0.3 s).

    Roles: steady, blipper (1-3 drops, back after ``blip`` s), multitab (two tabs,
    one closes), handoff (a new connection, then the old one drops: Wi-Fi to
    cellular), leaver (closes or drops, for good) and crasher (stops heartbeating
    and never closes). Times are scaled down: meant for a grace period near 1 s.
    """
    rng = random.Random(seed)
    counts = [round(users * share) for _, share in ROLES]
    counts[0] += users - sum(counts)
    roles = [role for (role, _), n in zip(ROLES, counts, strict=True) for _ in range(n)]
    rng.shuffle(roles)
    names = list(NAMES)
    while len(names) < users:
        names += [f"{n}{len(names) // len(NAMES) + 1}" for n in NAMES]
    plans = []
    for name, role in zip(sorted(names[:users]), roles, strict=True):
        plan = Plan(name, role)
        start = rng.uniform(0, 0.3)
        plan.steps.append((start, "open", 0))
        if role == "blipper":
            times: list[float] = []
            for _ in range(rng.randint(1, 3)):
                t = rng.uniform(0.5, duration - 1.2)
                if all(abs(t - u) > 0.9 for u in times):
                    times.append(t)
            for tab, t in enumerate(sorted(times)):
                plan.steps.append((t, rng.choice(("close", "drop")), tab))
                plan.steps.append((t + rng.uniform(*blip), "open", tab + 1))
        elif role == "multitab":
            plan.steps.append((start + rng.uniform(0.1, 0.5), "open", 1))
            plan.steps.append((rng.uniform(1.0, duration - 1.0), "close", rng.randrange(2)))
        elif role == "handoff":
            t = rng.uniform(0.8, duration - 1.3)
            plan.steps.append((t, "open", 1))
            plan.steps.append((t + rng.uniform(0.0, 0.15), "drop", 0))
        elif role == "leaver":
            plan.steps.append((rng.uniform(0.4, 1.5), rng.choice(("close", "drop")), 0))
        elif role == "crasher":
            plan.steps.append((rng.uniform(0.3, 1.0), "crash", 0))
        plan.steps.sort()
        plans.append(plan)
    return plans


class _Tab:
    def __init__(self, ws: ClientConnection, opened: float) -> None:
        self.ws = ws
        self.opened = opened
        self.ended: float | None = None
        self.how = "open"
        self.beating: asyncio.Task[None] | None = None


class Crowd:
    """Simulated users on real sockets, each following its :class:`Plan`."""

    def __init__(self, name: str, plans: Sequence[Plan], clock: Clock, heartbeat: float) -> None:
        self.name = name
        self.plans = list(plans)
        self.clock = clock
        self.heartbeat = heartbeat
        self.started_at = clock()
        self.tabs: dict[str, list[_Tab]] = {p.user: [] for p in plans}
        self.tasks: list[asyncio.Task[None]] = []
        self.errors: list[BaseException] = []

    @classmethod
    async def start(
        cls, url: str, plans: Sequence[Plan], *, clock: Clock, heartbeat: float = 0.2,
        seed: int = 0, name: str = "crowd",
    ) -> Crowd:
        """Start every user's plan now; re-running replaces the crowd of that ``name``."""
        crowd = cls(name, plans, clock, heartbeat)
        await register(name, crowd)
        loop = asyncio.get_running_loop()
        for i, plan in enumerate(crowd.plans):
            task = loop.create_task(crowd._live(url, plan, random.Random(seed * 7919 + i)))
            task.add_done_callback(crowd._done)
            crowd.tasks.append(task)
        return crowd

    def _done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]

    async def _live(self, url: str, plan: Plan, rng: random.Random) -> None:
        tabs: dict[int, _Tab] = {}
        for at, action, k in plan.steps:
            delay = self.started_at + at - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if action == "open":
                ws = await connect(url, proxy=None, ping_interval=None, close_timeout=0.5,
                                   open_timeout=10)
                await ws.send(json.dumps({"hello": plan.user}))
                tab = tabs[k] = _Tab(ws, self.clock())
                self.tabs[plan.user].append(tab)
                tab.beating = asyncio.get_running_loop().create_task(self._beat(tab, rng))
                continue
            tab = tabs[k]
            tab.ended, tab.how = self.clock(), "crash" if action == "crash" else "close"
            if tab.beating is not None:
                tab.beating.cancel()
            if action == "close":
                await tab.ws.close()
            elif action == "drop":
                tab.ws.transport.abort()  # no close frame: the server sees 1006
            # "crash": the tab is frozen; its connection stays open, silent

    async def _beat(self, tab: _Tab, rng: random.Random) -> None:
        try:
            while True:
                await asyncio.sleep(self.heartbeat * rng.uniform(0.8, 1.2))
                await tab.ws.send('{"hb": 1}')
        except ConnectionClosed:
            pass

    # -- observing ------------------------------------------------------------
    def present(self) -> set[str]:
        """Users with at least one tab open and alive right now: the truth."""
        return {user for user, tabs in self.tabs.items() if any(t.how == "open" for t in tabs)}

    def roles(self) -> dict[str, str]:
        return {p.user: p.role for p in self.plans}

    def spans(self) -> dict[str, list[tuple[float, float | None, str]]]:
        """Per user: (opened, ended, how) of each tab, on the shared clock."""
        return {user: [(t.opened, t.ended, t.how) for t in tabs]
                for user, tabs in self.tabs.items()}

    def check(self) -> None:
        errors, self.errors = self.errors, []
        raise_collected(errors, f"crowd {self.name!r}")

    async def stop(self) -> None:
        """Cancel every plan and heartbeat; close every connection (crashed tabs too)."""
        forget(self.name, self)
        beating = [t.beating for tabs in self.tabs.values() for t in tabs if t.beating]
        for task in [*self.tasks, *beating]:
            task.cancel()
        await asyncio.gather(*self.tasks, *beating, return_exceptions=True)
        await asyncio.gather(
            *(t.ws.close() for tabs in self.tabs.values() for t in tabs),
            return_exceptions=True,
        )
        self.check()

    def __repr__(self) -> str:
        return f"<Crowd {self.name!r}: {len(self.plans)} users, {len(self.present())} present>"


# -- the roster widget -------------------------------------------------------------------


class RosterView:
    """An ipywidgets roster: one chip per user, green while an observer shows them online."""

    def __init__(self, users: Sequence[str], title: str = "") -> None:
        import ipywidgets

        self.users = list(users)
        self.title = title
        self.widget = ipywidgets.HTML()
        self.update(set(), 0.0, 0, 0)

    def update(self, roster: set[str], t: float, joins: int, leaves: int) -> None:
        chips = "".join(
            '<span style="display:inline-block;width:4.6em;margin:1px;padding:0 3px;'
            "border-radius:3px;font:11px/1.6 monospace;"
            + ("background:#aceebb;color:#0a3622" if u in roster
               else "background:#eaeef2;color:#8c959f;text-decoration:line-through")
            + f'">{html.escape(u)}</span>'
            for u in self.users
        )
        self.widget.value = (
            f'<div style="font:13px system-ui,sans-serif;max-width:44em">'
            f"<b>{html.escape(self.title)}</b> &nbsp; t = {t:4.1f} s &nbsp; "
            f"<b>{len(roster & set(self.users))}</b> online &nbsp; {joins} joins &nbsp; "
            f"{leaves} leaves<div style='margin-top:4px'>{chips}</div></div>"
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]


# -- one run of the live roster ------------------------------------------------------------


@dataclass
class LiveRun:
    """What a live run showed: events, truth, and the observers' rosters at the end."""

    label: str
    events: list[tuple[float, str, str]]
    spans: dict[str, list[tuple[float, float | None, str]]]
    roles: dict[str, str]
    present: set[str]  # the truth at the end
    rosters: list[set[str]]  # each observer's roster at the end (the first saw everything)
    online: set[str]  # tracker.online() at the end
    duration: float

    @property
    def joins(self) -> int:
        return sum(1 for _, kind, _ in self.events if kind == "join")

    @property
    def leaves(self) -> int:
        return len(self.events) - self.joins

    @property
    def flicker(self) -> int:
        """Events about users who never left, beyond their first join."""
        staying = {u for u, r in self.roles.items() if r in STAYING}
        return sum(1 for _, _, u in self.events if u in staying) - len(staying)

    @property
    def ghosts(self) -> set[str]:
        """Users some observer still shows, although they are gone."""
        return set().union(*self.rosters) - self.present

    @property
    def missing(self) -> set[str]:
        """Users who are here, but missing from some observer's roster."""
        if not self.rosters:
            return set()
        return self.present - set(self.rosters[0]).intersection(*self.rosters[1:])

    def summary(self) -> str:
        return (
            f"{self.label}: {self.joins} joins, {self.leaves} leaves; {self.flicker} of them "
            f"about users who never left; {len(self.ghosts)} ghosts, {len(self.missing)} "
            f"missing at the end ({len(self.present)} users really online)"
        )


async def roster_demo(
    tracker: Tracker,
    *,
    label: str = "",
    name: str = "presence",
    users: int = 60,
    seed: int = 0,
    duration: float = 3.5,
    heartbeat: float = 0.2,
    view: RosterView | None = None,
    settle: float = 0.0,
) -> LiveRun:
    """Run a crowd against ``tracker`` for ``duration`` s, updating ``view``; stop it all.

    One observer watches from the start; a second joins halfway, starting from the
    server's ``online()``. With ``settle``, keep watching (the crowd idle) for up to
    that many seconds more until every observer's roster equals the truth, so that a
    machine under load does not turn a late leave into a ghost. Raises what the
    tracker raised, if anything.
    """
    server = await PresenceServer.start(name, tracker)
    watchers: list[Watcher] = []
    crowd: Crowd | None = None
    try:
        watchers.append(await Watcher.start(server.url, server.now))
        plans = crowd_plans(seed, users, duration=duration)
        crowd = await Crowd.start(server.url, plans, clock=server.now, heartbeat=heartbeat,
                                  seed=seed, name=name)
        if view is not None:
            view.users = [p.user for p in plans]
        end = crowd.started_at + duration

        def converged() -> bool:
            return crowd is not None and all(w.roster == crowd.present() for w in watchers)

        while server.now() < end or (server.now() < end + settle and not converged()):
            await asyncio.sleep(0.1)
            if len(watchers) == 1 and server.now() > crowd.started_at + duration / 2:
                watchers.append(await Watcher.start(server.url, server.now))
            if view is not None:
                view.update(watchers[0].roster, server.now() - crowd.started_at,
                            *server.counts())
            server.check()
            crowd.check()
        await asyncio.sleep(0.05)  # let the last events reach the observers
        t0 = crowd.started_at
        return LiveRun(
            label or type(tracker).__name__,
            [(t - t0, kind, user) for t, kind, user in server.events],
            {u: [(a - t0, None if b is None else b - t0, how) for a, b, how in spans]
             for u, spans in crowd.spans().items()},
            crowd.roles(), crowd.present(), [set(w.roster) for w in watchers],
            set(tracker.online()), duration,
        )
    finally:
        for watcher in watchers:
            await watcher.stop()
        if crowd is not None:
            await crowd.stop()
        await server.stop()


def parse_hello(frame: str | bytes) -> tuple[dict[str, object] | None, str]:
    """A connection's first frame as ``{"hello": user}`` or ``{"watch": true}``, or None and why."""
    try:
        hello = loads_bounded(frame, max_depth=4, max_bytes=MAX_HELLO_BYTES, what="first frame")
    except JSONRefused as error:
        return None, str(error)
    if not isinstance(hello, dict):
        return None, 'the first frame must be {"hello": USER} or {"watch": true}'
    if hello.get("watch"):
        return hello, ""
    user = hello.get("hello")
    if not isinstance(user, str) or not 1 <= len(user) <= MAX_USER_LENGTH:
        return None, f'"hello" must be a user name of 1-{MAX_USER_LENGTH} characters'
    return hello, ""
