"""Scaffolding of the connection-health lesson (``notebooks/05-connection-health.py``).

The lesson shows the ideas and runs the experiments; the plumbing lives here:

- :class:`Wired`, the few lines of I/O that drive one sans-I/O heartbeat on a real
  ``websockets`` connection (the live counterpart of ``sim.Endpoint``);
- the live demos: a ghost that nobody notices (:func:`watch_ghost`), the
  ``websockets`` keepalive catching a stall (:func:`keepalive_demo`), a server that
  reaps and clients that reconnect (:func:`reaper_demo`), quiet clients behind an
  idle-cutting proxy (:func:`behind_idle_proxy`), each with its plot and a check of
  the lesson's claims on the run;
- the simulated experiments: detection time (:func:`detection`), false alarms on a
  slow but healthy link (:func:`false_alarms_per_hour`), overhead.

:class:`PongDeadline` is the rule of the ``websockets`` keepalive written as a
sans-I/O heartbeat (a ping every interval, each pong due within timeout): the
experiments measure it. It is a correct answer to the exercise, so the lesson
shows what it does, not its code.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace

from websockets.asyncio.client import connect
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from rtlab.learner import describe_error, load_exercise
from rtlab.live import FaultProxy, LiveServer
from rtlab.live.proxy import Tunnel, unsent_bytes
from rtlab.plots import client_timeline
from rtlab.sim import Latency, SimConnection, SimLoop, SimServer
from rtlab.topics.connection_health.interface import (
    Action,
    Heartbeat,
    HeartbeatClass,
    HeartbeatCode,
    learner_code,
)
from rtlab.topics.connection_health.sim import (
    Run,
    Settings,
    detection_times,
    half_open_scenario,
    overhead,
    scenario,
)

__all__ = ["PING", "PONG", "GhostWatch", "PongDeadline", "Reaping", "Wired",
           "behind_idle_proxy", "check_cuts", "check_detection", "check_false_alarms",
           "count_cuts", "count_updates", "detection", "false_alarms_per_hour",
           "ghost_in_simulation", "idle_overhead", "keepalive_demo", "plot_choices",
           "push_updates", "reaper_demo", "report_reaping", "show_cuts", "show_reaping",
           "watch_ghost", "your_heartbeat"]

PING, PONG = "ping", "pong"
MakeHeartbeat = Callable[[float], Heartbeat]  # now -> a fresh heartbeat for one side


# -- the websockets keepalive rule, sans-I/O ----------------------------------------------


class PongDeadline:
    """A ping every ``interval``; each ping's pong due within ``timeout`` (pongs come
    back in order, since TCP keeps it). What ``websockets`` does with protocol pings."""

    def __init__(self, interval: float = 0.2, timeout: float = 0.4, *, side: str = "client",
                 now: float = 0.0) -> None:
        self.interval, self.timeout, self.side = interval, timeout, side
        self.next_ping = now + interval
        self.waiting: list[float] = []  # send times of the pings not answered yet
        self.dead = False

    def on_sent(self, now: float) -> None:
        pass  # a fixed schedule: what else is sent does not matter

    def on_received(self, message: str | bytes, now: float) -> list[Action]:
        if message == PING:
            return [("send", PONG)]
        if message == PONG and self.waiting:
            self.waiting.pop(0)
        return []

    def poll(self, now: float) -> list[Action]:
        if self.dead:
            return []
        if self.waiting and now - self.waiting[0] >= self.timeout:
            self.dead = True
            return [("close", f"no pong within {self.timeout:g} s")]
        if now >= self.next_ping:
            self.next_ping = now + self.interval
            self.waiting.append(now)
            return [("send", PING)]
        return []

    def next_wakeup(self, now: float) -> float | None:
        if self.dead:
            return None
        return min([self.next_ping] + [sent + self.timeout for sent in self.waiting[:1]])


# -- one heartbeat on one real connection --------------------------------------------------


class Wired:
    """One sans-I/O heartbeat, driving one real ``websockets`` connection.

    ``run()`` reads messages until the next wakeup (``asyncio.timeout`` around
    ``recv()``; cancelling ``recv()`` loses nothing in ``websockets``), polls, and
    carries out the actions. The application sends through :meth:`send`, so the
    heartbeat hears of every message.
    """

    def __init__(self, ws: Connection, heartbeat: Heartbeat) -> None:
        self.ws, self.hb = ws, heartbeat
        self.declared_dead: float | None = None  # time.monotonic() when it gave up

    async def send(self, message: str) -> None:
        await self.ws.send(message)
        self.hb.on_sent(time.monotonic())

    async def act(self, actions: Sequence[Action] | None) -> None:
        for verb, argument in actions or []:
            if verb == "send":
                await self.send(argument)
            elif verb == "close":
                self.declared_dead = time.monotonic()
                await self.ws.close(1011, "heartbeat timeout")  # waits at most close_timeout
                return

    async def run(self) -> None:
        """Serve the heartbeat until the connection ends."""
        try:
            while self.declared_dead is None:
                await self.act(self.hb.poll(time.monotonic()))
                if self.declared_dead is not None:
                    break
                wake = self.hb.next_wakeup(time.monotonic())
                wait = None if wake is None else max(0.0, wake - time.monotonic())
                try:
                    async with asyncio.timeout(wait):  # None: no timeout
                        message = await self.ws.recv()
                except TimeoutError:
                    continue
                await self.act(self.hb.on_received(message, time.monotonic()))
        except ConnectionClosed:
            pass  # ended by the other side or by the network


# -- a ghost that nobody notices -------------------------------------------------------------


async def push_updates(conn: ServerConnection) -> None:
    """The application: an update of 1 KiB every 20 ms; what the client sends is ignored.
    Fresh random bytes each time: websockets compresses, and repeats would shrink."""

    async def drain() -> None:
        try:
            async for _ in conn:
                pass
        except ConnectionClosed:
            pass

    reader = asyncio.create_task(drain())
    try:
        while not reader.done():
            await conn.send(os.urandom(1024))
            await asyncio.sleep(0.02)
    finally:
        reader.cancel()


async def count_updates(ws: Connection, got: dict[str, int], name: str) -> None:
    try:
        async for _ in ws:
            got[name] += 1
    except ConnectionClosed:
        pass


@dataclass
class GhostWatch:
    """What each side of a stalled link believed, sampled every quarter second."""

    client_state: str = ""
    server_state: str = ""
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # s, bytes, updates

    def report(self) -> None:
        print(f"{self.samples[-1][0]:.0f} s after the stall:  the client's connection is "
              f"{self.client_state}, the server's is {self.server_state}")
        print(f"updates the client received since the stall: {self.samples[-1][2]}")
        print(f"bytes the server holds for the client: {self.samples[0][1]:,} -> "
              f"{self.samples[-1][1]:,}")
        assert self.client_state == "OPEN" and self.server_state == "OPEN", "both believe"
        assert self.samples[-1][2] == 0, "nothing gets through a stalled link"
        middle = self.samples[len(self.samples) // 2][1]
        assert self.samples[-1][1] > middle > 0, "the server's backlog keeps growing"

    def plot(self) -> None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 2.6))
        ax.plot([t for t, _, _ in self.samples], [b / 1024 for _, b, _ in self.samples],
                marker="o")
        ax.set_xlabel("seconds since the link went half-open")
        ax.set_ylabel("KiB held for the client")
        ax.set_ylim(bottom=0)
        ax.set_title("The server's memory for a ghost: both ends still say OPEN", fontsize=10,
                     loc="left")
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        plt.show()


async def watch_ghost(client: Connection, server_side: ServerConnection, tunnel: Tunnel,
                      got: dict[str, int], name: str, seconds: float = 3.0) -> GhostWatch:
    """Stall ``tunnel`` both ways; for ``seconds``, the client keeps sending and we sample
    what the server holds for it and what it receives."""
    tunnel.stall()
    await asyncio.sleep(0.2)  # an update already past the proxy may still land: count from here
    before = got[name]
    watch = GhostWatch()
    stalled_at = time.monotonic()
    while (elapsed := time.monotonic() - stalled_at) < seconds:
        await client.send("are you there?")  # succeeds: into a buffer, and no further
        watch.samples.append((elapsed, unsent_bytes(server_side.transport), got[name] - before))
        await asyncio.sleep(0.25)
    watch.client_state, watch.server_state = client.state.name, server_side.state.name
    return watch


def ghost_in_simulation(seed: int, hours: float = 1.0) -> tuple[bool, int, int]:
    """One client whose link stalls after a minute; the server sends it an update every
    second; no heartbeat. Returns (client's connection closed?, server's connection
    count, updates sent into the void) after ``hours`` simulated hours."""
    loop = SimLoop(seed)
    conns: list[SimConnection] = []

    async def tick_every_second(conn: SimConnection) -> None:
        while True:
            await conn.send("update")
            await loop.sleep(1.0)

    server = SimServer(loop, latency=Latency(0.03, 0.02), handler=tick_every_second)

    async def sit_there() -> None:
        conns.append(await server.connect("alice"))
        await conns[0].wait_closed()

    def stall() -> None:
        link = server.link_of("alice")
        assert link is not None
        link.stall()

    loop.spawn(sit_there(), "alice")
    loop.call_at(60, stall)
    loop.run(3600 * hours)
    link = server.link_of("alice")
    assert link is not None
    result = conns[0].closed, server.connections, link.buffered["server"]
    loop.close()
    return result


# -- the websockets keepalive on a stalled link -------------------------------------------------


async def keepalive_demo(interval: float, timeout: float, close_timeout: float,
                         slack: float, quiet: float = 2.0) -> None:
    """Keepalive on both ends through the proxy: measure an idle connection's bytes,
    stall the link, and time each side's close. Prints and checks what it saw."""
    server = await LiveServer.start(  # greets, then holds the line
        "health-server", ping_interval=interval, ping_timeout=timeout,
        close_timeout=close_timeout)
    proxy = await FaultProxy.start("health-proxy", server.port)
    try:
        client = await connect(proxy.url, proxy=None, ping_interval=interval,
                               ping_timeout=timeout, close_timeout=close_timeout)
        assert await client.recv() == "welcome"
        (server_side,) = server.connections
        tunnel = proxy.tunnels[-1]
        up, down = tunnel.bytes["up"], tunnel.bytes["down"]
        await asyncio.sleep(quiet)
        per_round = (tunnel.bytes["up"] - up + tunnel.bytes["down"] - down) / (quiet / interval)
        print(f"idle for {quiet:g} s: about {per_round:.0f} B per ping interval "
              "(both sides ping)")
        tunnel.stall()
        stalled_at = time.monotonic()
        closed: dict[str, float] = {}

        async def note_close(name: str, ws: Connection) -> None:
            await ws.wait_closed()
            closed[name] = time.monotonic() - stalled_at

        async with asyncio.timeout(5):
            await asyncio.gather(note_close("client", client), note_close("server", server_side))
        for name, ws in (("client", client), ("server", server_side)):
            sent = ws.protocol.close_sent
            assert sent is not None
            print(f"{name}: closed {closed[name]:.2f} s after the stall; sent {sent.code} "
                  f"({sent.reason}); received no close frame, so close_code = {ws.close_code}")
            assert sent.code == 1011
            assert closed[name] <= interval + timeout + close_timeout + slack, closed
        assert 20 <= per_round <= 40, "two pings and two pongs: 32 bytes per interval"
    finally:
        await proxy.stop()
        await server.stop()


# -- a server that reaps, clients that reconnect --------------------------------------------------


@dataclass
class Reaping:
    """What :func:`reaper_demo` saw: times in seconds since it started."""

    events: dict[str, list[tuple[float, str]]]  # client -> (time, "open"/"closed")
    reaped: dict[str, float]  # client -> when the server's heartbeat gave up on it
    victims: list[str]
    stall_at: float
    end: float
    connected: int


async def _stop_clients(stopping: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    """Ask the client loops to stop, cancel them, and make sure they did."""
    stopping.set()
    for task in tasks:
        task.cancel()
    done, pending = await asyncio.wait(tasks, timeout=5)
    assert not pending, f"{len(pending)} client tasks did not stop"
    errors = [t.exception() for t in done if not t.cancelled() and t.exception() is not None]
    assert not errors, errors


async def reaper_demo(heartbeat: HeartbeatClass, *, interval: float, timeout: float,
                      close_timeout: float, clients: int = 10, stalled: int = 4,
                      watch: float = 1.6) -> Reaping:
    """``clients`` clients connect through the proxy, each under its own name; the server
    pushes an update every 50 ms to each; both ends run ``heartbeat``. Then the links of
    ``stalled`` of them go half-open, and we watch for ``watch`` seconds."""
    t0 = time.monotonic()
    events: dict[str, list[tuple[float, str]]] = {f"client-{i}": [] for i in range(clients)}
    current: dict[str, Connection] = {}
    reaped: dict[str, float] = {}
    stopping = asyncio.Event()

    def make(side: str) -> Heartbeat:
        return heartbeat(interval, timeout, side=side, now=time.monotonic())

    async def serve_one(conn: ServerConnection) -> None:
        name = conn.request.path.strip("/") if conn.request else "?"
        wired = Wired(conn, make("server"))

        async def push() -> None:
            try:
                while True:
                    await wired.send("update")
                    await asyncio.sleep(0.05)
            except ConnectionClosed:
                pass

        pusher = asyncio.create_task(push())
        try:
            await wired.run()
        finally:
            pusher.cancel()
        if wired.declared_dead is not None:
            reaped[name] = wired.declared_dead - t0

    async def stay_connected(name: str) -> None:
        while not stopping.is_set():
            try:
                ws = await connect(f"{proxy.url}/{name}", proxy=None, ping_interval=None,
                                   close_timeout=close_timeout, open_timeout=2)
            except (OSError, InvalidHandshake):
                await asyncio.sleep(0.1)
                continue
            current[name] = ws
            events[name].append((time.monotonic() - t0, "open"))
            wired = Wired(ws, make("client"))
            await wired.run()
            ended = wired.declared_dead or time.monotonic()  # when it gave up, not closed
            events[name].append((ended - t0, "closed"))
            await asyncio.sleep(0.05)  # then back (a real client backs off: see lesson 04)

    server = await LiveServer.start("health-server", serve_one, ping_interval=None,
                                    close_timeout=close_timeout)
    proxy = await FaultProxy.start("health-proxy", server.port)
    tasks = [asyncio.create_task(stay_connected(name)) for name in events]
    try:
        async with asyncio.timeout(10):
            while len(server.connections) < clients or len(current) < clients:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        victims = list(events)[:stalled]
        stall_at = time.monotonic() - t0
        for name in victims:
            peer = current[name].local_address
            next(t for t in proxy.open_tunnels if t.peer == peer).stall()
        await asyncio.sleep(watch)
        server.check()
        proxy.check()
        return Reaping(events, reaped, victims, stall_at, time.monotonic() - t0,
                       len(server.connections))
    finally:
        await _stop_clients(stopping, tasks)
        await asyncio.gather(*(ws.close() for ws in current.values()), return_exceptions=True)
        await proxy.stop()
        await server.stop()


def report_reaping(demo: Reaping, bound: float, slack: float) -> None:
    """Print when each stalled client gave up, was reaped and came back; check each did
    within ``bound`` (interval + timeout) plus ``slack``, and that everyone is back."""
    print(f"links of {', '.join(demo.victims)} stalled at t={demo.stall_at:.2f} s "
          f"(interval + timeout = {bound:g} s)")
    print(f"{'':10}{'client gave up':>16}{'server reaped':>15}{'back':>8}")
    for name in demo.victims:
        events = demo.events[name]
        gave_up = next(t for t, kind in events if kind == "closed" and t > demo.stall_at)
        back = next(t for t, kind in events if kind == "open" and t > gave_up)
        reaped = demo.reaped[name]
        print(f"{name:10}{gave_up - demo.stall_at:>14.2f} s{reaped - demo.stall_at:>13.2f} s"
              f"{back - demo.stall_at:>6.2f} s")
        assert gave_up - demo.stall_at <= bound + slack, f"{name}: the client noticed too late"
        assert reaped - demo.stall_at <= bound + slack, f"{name}: the server reaped too late"
    print(f"connected at the end: {demo.connected} of {len(demo.events)}")
    assert demo.connected == len(demo.events), "every client is back"


def show_reaping(demo: Reaping, title: str, bound: float) -> None:
    import matplotlib.pyplot as plt

    marks = {f"{len(demo.victims)} links stall": demo.stall_at,
             "+ interval + timeout": demo.stall_at + bound}
    fig = client_timeline(demo.events, start=0, end=demo.end, title=title, marks=marks)
    fig.axes[0].set_xlabel("time (s)   green: connected")
    plt.show()


# -- quiet clients behind an idle-cutting proxy ------------------------------------------------


async def behind_idle_proxy(groups: Mapping[str, MakeHeartbeat], *, proxy_idle: float,
                            close_timeout: float, per_group: int = 4,
                            watch: float = 2.5) -> tuple[dict[str, list[tuple[float, str]]],
                                                          float]:
    """``per_group`` quiet clients per group behind a proxy that cuts after ``proxy_idle``
    s of silence; each reconnects whenever its connection ends. The server answers pings,
    nothing else. Returns each client's (time, "open"/"closed ...") and the time watched."""

    async def answer_pings(conn: ServerConnection) -> None:
        async for message in conn:
            if message == PING:
                await conn.send(PONG)

    server = await LiveServer.start("health-server", answer_pings, ping_interval=None,
                                    close_timeout=close_timeout)
    proxy = await FaultProxy.start("health-proxy", server.port, idle_timeout=proxy_idle)
    t0 = time.monotonic()
    events: dict[str, list[tuple[float, str]]] = {
        f"{group}: {i}": [] for group in groups for i in range(per_group)}
    stopping = asyncio.Event()

    async def quiet_client(name: str, make_heartbeat: MakeHeartbeat) -> None:
        while not stopping.is_set():
            try:
                ws = await connect(proxy.url, proxy=None, ping_interval=None,
                                   close_timeout=close_timeout, open_timeout=2)
            except (OSError, InvalidHandshake):
                await asyncio.sleep(0.05)
                continue
            events[name].append((time.monotonic() - t0, "open"))
            await Wired(ws, make_heartbeat(time.monotonic())).run()
            events[name].append((time.monotonic() - t0, f"closed {ws.close_code}"))

    tasks = [asyncio.create_task(quiet_client(name, groups[name.split(":")[0]]))
             for name in events]
    try:
        await asyncio.sleep(watch)
        proxy.check()
        server.check()
        return events, time.monotonic() - t0
    finally:
        await _stop_clients(stopping, tasks)
        await proxy.stop()
        await server.stop()


def count_cuts(events: Mapping[str, Sequence[tuple[float, str]]],
               groups: Sequence[str]) -> dict[str, list[int]]:
    """Times each client's connection ended, per group."""
    return {group: [sum(kind.startswith("closed") for _, kind in events[name])
                    for name in events if name.startswith(f"{group}:")] for group in groups}


def check_cuts(cuts: Mapping[str, list[int]], intervals: Mapping[str, float | None], *,
               proxy_idle: float) -> None:
    """The section's claims, per group's ping interval (None: no heartbeat): silent
    clients are cut again and again, an interval above the proxy's timeout is cut too, and
    one well under it (half or less) keeps every connection open. In between, no claim."""
    for group, every in intervals.items():
        if every is None:
            assert all(n >= 2 for n in cuts[group]), f"{group}: cut every {proxy_idle} s"
        elif every > proxy_idle:
            assert all(n >= 1 for n in cuts[group]), f"{group}: above the proxy's timeout"
        elif every <= proxy_idle / 2:
            assert sum(cuts[group]) == 0, f"{group}: well under the proxy's timeout"


def show_cuts(events: Mapping[str, Sequence[tuple[float, str]]], watched: float,
              title: str) -> None:
    import matplotlib.pyplot as plt

    fig = client_timeline(events, start=0, end=watched, title=title)
    fig.axes[0].set_xlabel("time (s)   green: connected   gaps: cut, reconnecting")
    plt.show()


# -- simulated experiments ------------------------------------------------------------------


def _as_code(heartbeat: HeartbeatClass) -> HeartbeatCode:
    code: HeartbeatCode = SimpleNamespace(Heartbeat=heartbeat)
    return code


def detection(heartbeat: HeartbeatClass, interval: float, timeout: float, *, runs: int = 40,
              seed: int = 5) -> list[float]:
    """Seconds from a stall to each side's verdict, for ``runs`` links that stall at moments
    spread evenly over one ping interval (a minute after opening)."""
    code = _as_code(heartbeat)
    found: list[Run] = []
    for i in range(runs):
        stall_at = 60 + interval * (i + 0.5) / runs

        def configure(run: Run, stall_at: float = stall_at) -> None:
            run.marks["stall"] = stall_at

            def stall() -> None:
                assert run.server is not None
                link = run.server.link_of("client")
                assert link is not None
                link.stall()

            run.loop.call_at(stall_at, stall)

        found.append(scenario(code, "stall", seed * 1000 + i, Settings(interval, timeout, False),
                              stall_at + interval + timeout + 5, latency=Latency(0.03, 0.02),
                              configure=configure))
    times = detection_times(found, "stall")
    return times["client"] + times["server"]


NORMAL = Latency(0.03, 0.03)  # the mobile link's normal one-way latency: 30-60 ms


def false_alarms_per_hour(heartbeat: HeartbeatClass, timeout: float, *, spike_rtt: float,
                          interval: float = 20.0, connections: int = 16, minutes: int = 20,
                          seed: int = 5) -> float:
    """False alarms per hour of healthy connection on a slow mobile link: a latency spike
    every two minutes on average, lasting 1-20 s, during which the round trip jumps to a
    log-normal value around ``spike_rtt`` seconds. Nothing is ever lost."""
    code = _as_code(heartbeat)

    def slow_but_healthy(run: Run) -> None:
        rng = random.Random(run.seed)

        def set_latency(latency: Latency) -> None:
            assert run.server is not None
            link = run.server.link_of("client")
            if link is not None:
                link.latency = latency

        t = rng.expovariate(1 / 120)
        while t < run.until:
            length = rng.uniform(1, 20)
            rtt = rng.lognormvariate(math.log(spike_rtt), 0.8)
            run.loop.call_at(t, set_latency, Latency(rtt / 2, 0.0))
            run.loop.call_at(t + length, set_latency, NORMAL)
            t += length + rng.expovariate(1 / 120)

    alarms, hours = 0, 0.0
    for i in range(connections):
        run = scenario(code, "slow link", seed * 1000 + i, Settings(interval, timeout, False),
                       minutes * 60, latency=NORMAL, configure=slow_but_healthy)
        verdicts = [e.declared_at for e in run.ends() if e.declared_at is not None]
        alarms += bool(verdicts)
        hours += (min(verdicts) if verdicts else run.until) / 3600  # healthy time observed
    return alarms / hours


def check_detection(detected: Mapping[tuple[float, float], list[float]]) -> None:
    """The table's claims: worst case interval + timeout, median about timeout + interval / 2
    (the last ping before the stall may have just left, or the next is a whole interval away)."""
    for (interval, timeout), times in detected.items():
        assert max(times) <= interval + timeout + 0.2, (interval, timeout, max(times))
        middle = timeout + interval / 2
        assert abs(statistics.median(times) - middle) <= 0.05 * (interval + timeout) + 0.5, (
            interval, timeout, statistics.median(times))


def check_false_alarms(alarm_rate: Mapping[float, float]) -> None:
    """The prose's claims for the lesson's link: a timeout of 1-2 s raises several false
    alarms an hour, 5 s rarely (under one an hour), anything longer none here."""
    assert alarm_rate[1] >= 3 and alarm_rate[2] >= 3, alarm_rate
    assert 0 < alarm_rate[5] < 1, alarm_rate
    assert all(rate == 0 for t, rate in alarm_rate.items() if t > 5), alarm_rate


def idle_overhead(heartbeat: HeartbeatClass, interval: float, *, timeout: float = 10.0,
                  seed: int = 5) -> tuple[float, float]:
    """Heartbeat frames and frame bytes per minute on an idle simulated connection, both
    ends running ``heartbeat``, over 10 minutes."""
    run = scenario(_as_code(heartbeat), "idle", seed, Settings(interval, timeout, False), 600.0,
                   latency=Latency(0.03, 0.02))
    return overhead(run)


def plot_choices(detected: Mapping[tuple[float, float], list[float]],
                 alarm_rate: Mapping[float, float], *, intervals: Sequence[float],
                 timeouts: Sequence[float], interval: float = 20.0) -> None:
    """Detection time against interval (per timeout), and false alarms against timeout."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for colour, t in zip(("#0969da", "#1a7f37", "#8250df"), timeouts, strict=False):
        left.plot(intervals, [max(detected[i, t]) for i in intervals], "o-", color=colour,
                  label=f"timeout {t:g} s: worst")
        left.plot(intervals, [statistics.median(detected[i, t]) for i in intervals], "o--",
                  color=colour, alpha=0.6, label=f"timeout {t:g} s: median")
    left.set_xlabel("ping interval (s)")
    left.set_ylabel("ghost detected after (s)")
    left.set_title("Detection time (simulated stalls)", fontsize=10, loc="left")
    left.legend(fontsize=7, frameon=False)
    right.plot(list(alarm_rate), list(alarm_rate.values()), "o-", color="#cf222e")
    right.set_xlabel(f"timeout (s), ping every {interval:g} s")
    right.set_ylabel("false alarms per hour")
    right.set_title("False alarms on a slow but healthy link", fontsize=10, loc="left")
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    plt.show()


# -- the learner's own heartbeat ---------------------------------------------------------------


def your_heartbeat(interval: float, timeout: float) -> ModuleType | str:
    """The learner's exercise module if its Heartbeat survives a quick simulated stall
    (so unfinished code gets a message instead of a hung demo); else why not."""
    try:
        module = load_exercise("heartbeat")  # re-read on every run
        code = learner_code(module)
        if code is None:
            return "exercises/heartbeat.py has no class named Heartbeat yet."
        # The same stall in simulated seconds, scaled up to production-like settings.
        trial = half_open_scenario(code, 5001, Settings(interval * 100, timeout * 100, False))
        problem = trial.error
    except Exception as error:  # a syntax error, a failing import...
        problem = describe_error(error)
    if problem:
        return (f"Your heartbeat is not ready for the live demo yet:\n  {problem}\n"
                "Keep going in exercises/heartbeat.py, then run this cell again.")
    return module
