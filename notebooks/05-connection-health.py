# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Connection health: heartbeats, half-open ghosts and idle proxies
#
# A connection can die without anyone being told. A NAT box forgets its mapping, a
# laptop goes to sleep, a phone walks out of Wi-Fi range: no FIN, no RST, no close
# frame. Both ends still say `OPEN`. Sends "succeed", into a buffer. The server keeps
# the user in its rooms and goes on sending updates that never arrive, while the user
# stares at a page that stopped moving without saying so. And when nothing is wrong at
# all, a corporate proxy may cut a perfectly healthy connection because it was quiet
# for 30 seconds.
#
# In this lesson you will:
#
# - put a fault-injecting proxy between real WebSocket clients and a server in this
#   kernel, turn a link half-open, and watch nothing notice;
# - see the keepalive pings of the `websockets` library catch it, then build an
#   application-level heartbeat that does the same on both ends: the server reaps dead
#   clients, and clients whose pongs stop reconnect;
# - keep quiet connections alive through a proxy that cuts idle ones;
# - choose the interval and the timeout from measurements: how fast a dead link is
#   noticed, how often a slow link raises a false alarm, and what it costs in bytes.
#
# It covers [half-open-connection-ghost](../references/sharp_edges.md#half-open-connection-ghost),
# [missing-heartbeat](../references/validations.md#missing-heartbeat) and
# [websocket-proxy-timeout](../references/sharp_edges.md#websocket-proxy-timeout), the
# pattern [Heartbeat with Server Confirmation](../references/patterns.md#heartbeat-with-server-confirmation)
# and the anti-pattern [Trusting Connection State](../references/patterns.md#trusting-connection-state).
# At the end you write your own heartbeat in [exercises/heartbeat.py](../exercises/heartbeat.py).

# %% [markdown]
# Everything runs in this kernel: the live demos on real sockets on `127.0.0.1`, the
# long experiments in the simulation's virtual time. **Live, time is scaled down**:
# where production pings every 20 s and waits 10-20 s for the answer, the demos ping
# every 0.2 s and wait 0.4 s, and their proxy cuts after 0.6 s of silence instead of
# 30-60 s. The shapes are the same; only the clock is faster.

# %%
# %matplotlib inline
import asyncio
import math
import os
import random
import statistics
import time
from types import SimpleNamespace

import matplotlib.pyplot as plt
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

import rtlab
import rtlab.live
from rtlab.live import FaultProxy, LiveServer
from rtlab.live.proxy import unsent_bytes
from rtlab.plots import client_timeline
from rtlab.sim import Latency, SimLoop, SimServer
from rtlab.topics.connection_health.sim import Settings, detection_times, overhead, scenario
from rtlab.wire.websocket import frame_size

SEED = 5  # every random draw of the simulations is seeded

# The scaled-down world of the live demos (seconds).
INTERVAL, TIMEOUT = 0.2, 0.4  # heartbeat: ping after this much silence; the pong is due within
CLOSE_TIMEOUT = 0.2  # how long a closing side waits for the peer's close frame
PROXY_IDLE = 0.6  # the corporate proxy cuts connections silent for this long
SLACK = 1.0  # extra time the live checks allow, for a busy machine


# %% [markdown]
# ## A fault proxy on loopback
#
# To break a real connection on purpose, the lesson puts a proxy in the middle:
# `FaultProxy` (from `rtlab.live.proxy`) listens on `127.0.0.1`, and every client that
# connects to it gets a *tunnel* to the real server. Each tunnel does, on command:
#
# | fault | what it does | what the ends see |
# |---|---|---|
# | `tunnel.stall()` | stops forwarding, in one direction (`"up"`, `"down"`) or both; closes nothing | no data, no FIN, no RST: a **half-open** link |
# | `tunnel.latency = 0.5` | delays every byte, keeping the order | a slow link |
# | `idle_timeout=...` | cuts tunnels through which nothing passed for that long | a corporate proxy: an abrupt close (1006) |
# | `tunnel.cut()` | ends the connection now (`reset=True` for a RST) | an abrupt close (1006) |
#
# A stall does what a dead path does: the proxy stops *reading* from the sender, so the
# sender's bytes pile up in its own socket buffers, its writes keep succeeding until
# those are full, and the receiver simply waits. The proxy has its own tests, with real
# sockets, that a stall sends neither FIN nor RST (`tests/test_proxy.py`).
#
# Start a server that pushes a 1 KiB update every 20 ms to each client, a proxy in front
# of it, and one client, Alice, who connects through the proxy. Keepalive pings are
# switched off on both ends (`ping_interval=None`): for now, nobody checks anything.

# %% tags=["nbval-ignore-output"]
async def push_updates(conn):
    # The application: an update of 1 KiB every 20 ms; what the client sends is read and ignored.
    # Fresh random bytes each time: websockets compresses, and repeats would shrink to nothing.
    async def drain():
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


server = await LiveServer.start("health-server", push_updates, ping_interval=None,
                                close_timeout=CLOSE_TIMEOUT)
proxy = await FaultProxy.start("health-proxy", server.port)
alice = await connect(proxy.url, proxy=None, ping_interval=None, close_timeout=CLOSE_TIMEOUT)
got = {"alice": 0}


async def count_updates(ws, name):
    try:
        async for _ in ws:
            got[name] += 1
    except ConnectionClosed:
        pass


counter = asyncio.create_task(count_updates(alice, "alice"))
await asyncio.sleep(0.5)
tunnel = proxy.tunnels[-1]
print(f"{proxy}\n{tunnel}")
print(f"Alice received {got['alice']} updates in 0.5 s")
assert got["alice"] >= 5, "updates should flow through the proxy"

# %% [markdown]
# ## A ghost that nobody notices
#
# Now the link goes half-open: the tunnel stalls in both directions. For three seconds,
# Alice keeps sending ("are you there?") and the server keeps pushing updates. Watch what
# each side believes, and how much the server holds for Alice: `unsent_bytes` adds up
# the connection's user-space write buffer and the kernel's send queue (`SIOCOUTQ`),
# that is, everything the server has written to Alice that Alice has not acknowledged.

# %% tags=["nbval-ignore-output"]
(server_side,) = server.connections  # the server's end of Alice's connection
tunnel.stall()
await asyncio.sleep(0.2)  # an update already past the proxy may still land: count from here
before = got["alice"]
samples = []  # (seconds since the stall, bytes the server holds for Alice, updates Alice got)
stalled_at = time.monotonic()
while (elapsed := time.monotonic() - stalled_at) < 3.0:
    await alice.send("are you there?")  # succeeds: the bytes go into a buffer, and no further
    samples.append((elapsed, unsent_bytes(server_side.transport), got["alice"] - before))
    await asyncio.sleep(0.25)

print(f"3 s after the stall:  Alice's connection is {alice.state.name}, "
      f"the server's is {server_side.state.name}")
print(f"updates Alice received since the stall: {samples[-1][2]}")
print(f"bytes the server holds for Alice: {samples[0][1]:,} -> {samples[-1][1]:,}")
assert alice.state.name == "OPEN" and server_side.state.name == "OPEN", "both ends still believe"
assert samples[-1][2] == 0, "nothing gets through a stalled link"
assert samples[-1][1] > samples[len(samples) // 2][1] > 0, "the server's backlog keeps growing"

fig, ax = plt.subplots(figsize=(8, 2.6))
ax.plot([t for t, _, _ in samples], [b / 1024 for _, b, _ in samples], marker="o")
ax.set_xlabel("seconds since the link went half-open")
ax.set_ylabel("KiB held for Alice")
ax.set_title("The server's memory for a ghost: both ends still say OPEN", fontsize=10, loc="left")
ax.spines[["top", "right"]].set_visible(False)
plt.show()


# %% [markdown]
# Both ends still say `OPEN`, Alice's sends "succeed", and the server's backlog for her
# grows by every update it pushes: about 50 KiB a second here, for one ghost. Multiply by
# the users who closed a laptop lid this hour. Checking `ws.state` before sending does not
# help either: it only says that nobody has *told* this end about a problem, which is the
# [Trusting Connection State](../references/patterns.md#trusting-connection-state)
# anti-pattern.
#
# How long until someone notices, with no heartbeat? The simulation answers for long
# stretches of time in an instant: one client whose link stalls after a minute, a server
# that sends it an update every second, one simulated hour.

# %%
async def tick_every_second(conn):
    while True:
        await conn.send("update")
        await loop.sleep(1.0)


loop = SimLoop(SEED)
sim_server = SimServer(loop, latency=Latency(0.03, 0.02), handler=tick_every_second)
ghosts = []


async def sit_there():
    ghosts.append(await sim_server.connect("alice"))
    await ghosts[0].wait_closed()


loop.spawn(sit_there(), "alice")
loop.call_at(60, lambda: sim_server.link_of("alice").stall())
loop.run(3600)
link = sim_server.link_of("alice")
print(f"after 1 simulated hour: Alice's connection closed? {ghosts[0].closed}; "
      f"the server counts {sim_server.connections} connection")
print(f"updates sent into the void since the stall: {link.buffered['server']:,}")
loop.close()

# %% [markdown]
# Nothing, ever, in the simulation. Real TCP does give up eventually, but only on a side
# that has unacknowledged data to send: Linux retransmits for about 15 minutes
# (`tcp_retries2 = 15`) before it reports an error. A side that only *listens* (Alice,
# waiting for the next update) never finds out: TCP keepalive is off by default, and when
# switched on it starts probing after 2 hours. That is the
# [half-open-connection-ghost](../references/sharp_edges.md#half-open-connection-ghost):
# the only cure is traffic that must be answered.

# %% tags=["nbval-ignore-output"]
counter.cancel()
await alice.close()  # waits at most CLOSE_TIMEOUT for an answer that cannot come
await proxy.stop()
await server.stop()

# %% [markdown]
# ## Keepalive pings in websockets
#
# WebSocket has control frames for this: a *ping* (opcode 0x9) must be answered with a
# *pong* (0xA) by the other end's WebSocket implementation, with no application code
# involved. The `websockets` library sends them on both sides, by default: a ping every
# `ping_interval=20` s, and if the pong is not back within `ping_timeout=20` s it gives up,
# sends a close frame with code **1011** ("keepalive ping timeout") and waits up to
# `close_timeout=10` s for the closing handshake before it drops the TCP connection. So a
# dead link is declared dead within 40 s and really closed within 50 s.
#
# Same server and proxy as before, now with the keepalive on both ends and our scaled
# numbers. First, what a healthy idle connection carries; then, a stall:

# %% tags=["nbval-ignore-output"]
KEEPALIVE = {"ping_interval": INTERVAL, "ping_timeout": TIMEOUT, "close_timeout": CLOSE_TIMEOUT}
server = await LiveServer.start("health-server", **KEEPALIVE)  # greets, then holds the line
proxy = await FaultProxy.start("health-proxy", server.port)
bob = await connect(proxy.url, proxy=None, **KEEPALIVE)
assert await bob.recv() == "welcome"
(server_side,) = server.connections
tunnel = proxy.tunnels[-1]

quiet = 2.0
up, down = tunnel.bytes["up"], tunnel.bytes["down"]
await asyncio.sleep(quiet)
up, down = tunnel.bytes["up"] - up, tunnel.bytes["down"] - down
rounds = quiet / INTERVAL
print(f"idle for {quiet:g} s: {up} B up, {down} B down: about {(up + down) / rounds:.0f} B "
      f"per ping interval (both sides ping)")

closed = {}
tunnel.stall()
stalled_at = time.monotonic()


async def note_close(name, ws):
    await ws.wait_closed()
    closed[name] = time.monotonic() - stalled_at


async with asyncio.timeout(5):
    await asyncio.gather(note_close("client", bob), note_close("server", server_side))
for name, ws in (("client", bob), ("server", server_side)):
    sent = ws.protocol.close_sent
    print(f"{name}: closed {closed[name]:.2f} s after the stall; sent {sent.code} "
          f"({sent.reason}); received no close frame, so close_code = {ws.close_code}")
    assert sent.code == 1011
    assert closed[name] <= INTERVAL + TIMEOUT + CLOSE_TIMEOUT + SLACK, closed
assert 20 <= (up + down) / rounds <= 40, "two pings and two pongs: 32 bytes per interval"
await proxy.stop()
await server.stop()


# %% [markdown]
# Both ends gave up on their own, each within `ping_interval + ping_timeout +
# close_timeout` (0.8 s here). Note the codes: each side *sent* 1011, but neither *received* a close
# frame (the link was dead), so `close_code`, which reports what was received, says 1006.
#
# The idle cost is small: a ping frame from the client is 10 bytes (2 of header, 4 of
# masking key, 4 of payload: `websockets` puts 4 random bytes in each ping), a pong from
# the server 6; the server's own pings and the client's pongs the same the other way.

# %% [markdown]
# ### Why an application-level heartbeat too
#
# Protocol pings are the first line of defence, and in Python you should keep them on.
# Three reasons to add heartbeats of your own, as ordinary messages:
#
# - **Browsers cannot send pings.** The JavaScript `WebSocket` API has no `ping()`. A
#   browser answers the server's pings, so the server can detect a dead browser, but the
#   browser cannot detect a dead server: the page needs messages it can send itself.
#   That is why Socket.IO and many others run their heartbeat in the application.
# - **A ping proves the path, not the program.** A pong comes from the other end's
#   WebSocket library, even while its application is stuck. An answer from the other
#   program's own code proves that it is alive and reading: the pattern
#   [Heartbeat with Server Confirmation](../references/patterns.md#heartbeat-with-server-confirmation).
# - **Proxies can answer pings themselves.** A proxy or CDN that terminates WebSocket
#   and opens its own connection upstream may answer your pings without your server.
#
# What each costs, frame bytes per minute on an idle connection (TCP/IP adds about 52
# bytes of headers per packet, more than any of these frames):

# %%
def per_minute(label, every, exchanges):
    # `exchanges`: (message, sent by) pairs, all repeated every `every` seconds
    size = sum(frame_size(message, side) for message, side in exchanges)
    print(f"{label:50}{size:3} B every {every} s = {size * 60 / every:4.0f} B/min")


ping4 = b"1234"  # websockets puts 4 random bytes in each ping; the pong echoes them
per_minute("websockets keepalive, both sides ping", 20,
           [(ping4, "client"), (ping4, "server"), (ping4, "server"), (ping4, "client")])
per_minute("text 'ping' from the client, 'pong' back", 20, [("ping", "client"), ("pong", "server")])
per_minute('JSON {"type":"ping"} from the client, and back', 20,
           [('{"type":"ping"}', "client"), ('{"type":"pong"}', "server")])
per_minute("Socket.IO: server sends '2', client answers '3'", 25, [("2", "server"), ("3", "client")])

# %% [markdown]
# ## An application-level heartbeat
#
# Here is a heartbeat written the way the exercise asks for: **sans-I/O**. It never
# touches a socket or a clock. It is told what happened (`on_received`, `on_sent`) and
# when (`now`), it is asked what to do (`poll`) and when to be asked again
# (`next_wakeup`), and it answers with actions: `("send", PING)`, `("send", PONG)` or
# `("close", reason)`. Because of that, the same object runs on real sockets here and in
# the simulation below, where an hour takes a millisecond.
#
# This one works like the `websockets` keepalive, with text messages: a ping every
# `interval`, and each ping's pong due within `timeout` (pongs come back in order, since
# TCP keeps it).

# %%
PING, PONG = "ping", "pong"


class Keepalive:
    def __init__(self, interval=INTERVAL, timeout=TIMEOUT, *, side="client", now=0.0):
        self.interval, self.timeout, self.side = interval, timeout, side
        self.next_ping = now + interval
        self.waiting = []  # send times of the pings not answered yet, oldest first
        self.dead = False

    def on_sent(self, now):
        pass  # a fixed schedule: what else is sent does not matter

    def on_received(self, message, now):
        if message == PING:
            return [("send", PONG)]  # the confirmation the other side waits for
        if message == PONG and self.waiting:
            self.waiting.pop(0)
        return []

    def poll(self, now):
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

    def next_wakeup(self, now):
        if self.dead:
            return None
        return min([self.next_ping] + [sent + self.timeout for sent in self.waiting[:1]])


# %% [markdown]
# And the few lines of I/O that run it on a real `websockets` connection. `run()` reads
# messages until the next wakeup (`asyncio.timeout` around `recv()`; cancelling `recv()`
# loses nothing in `websockets`), polls, and carries out the actions. The application
# sends through `Wired.send`, so the heartbeat hears of every message.

# %%
class Wired:
    # One sans-I/O heartbeat, driving one real websockets connection.
    def __init__(self, ws, heartbeat):
        self.ws, self.hb = ws, heartbeat
        self.declared_dead = None  # time.monotonic() when the heartbeat gave up, if it did

    async def send(self, message):
        await self.ws.send(message)
        self.hb.on_sent(time.monotonic())

    async def act(self, actions):
        for verb, argument in actions or []:
            if verb == "send":
                await self.send(argument)
            elif verb == "close":
                self.declared_dead = time.monotonic()
                await self.ws.close(1011, "heartbeat timeout")  # at most CLOSE_TIMEOUT
                return

    async def run(self, on_message=None):
        # Serve the heartbeat until the connection ends.
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
                if on_message is not None and message not in (PING, PONG):
                    on_message(message)
        except ConnectionClosed:
            pass  # ended by the other side or by the network


# %% [markdown]
# Now a server that **reaps** dead clients, and clients that **reconnect** when their
# pongs stop. Ten clients connect through the proxy, each under its own name; the server
# pushes an update every 50 ms to each. Then the links of four of them go half-open.
# `reaper_demo` takes the heartbeat class as an argument, so you can run it on yours at
# the end of the lesson.

# %% tags=["nbval-ignore-output"]
async def reaper_demo(heartbeat, clients=10, stalled=4, watch=1.6):
    t0 = time.monotonic()
    events = {f"client-{i}": [] for i in range(clients)}  # (seconds, "open"/"closed")
    current = {}  # client name -> its open websocket
    reaped = {}  # client name -> when the server's heartbeat gave up on it

    async def serve_one(conn):
        name = conn.request.path.strip("/")
        wired = Wired(conn, heartbeat(INTERVAL, TIMEOUT, side="server", now=time.monotonic()))

        async def push():
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

    async def stay_connected(name):
        while not stopping.is_set():
            try:
                ws = await connect(f"{proxy.url}/{name}", proxy=None, ping_interval=None,
                                   close_timeout=CLOSE_TIMEOUT, open_timeout=2)
            except (OSError, InvalidHandshake):
                await asyncio.sleep(0.1)
                continue
            current[name] = ws
            events[name].append((time.monotonic() - t0, "open"))
            wired = Wired(ws, heartbeat(INTERVAL, TIMEOUT, side="client", now=time.monotonic()))
            await wired.run()
            ended = wired.declared_dead or time.monotonic()  # when it gave up, not when closed
            events[name].append((ended - t0, "closed"))
            await asyncio.sleep(0.05)  # then back (a real client backs off: see the last lesson)

    stopping = asyncio.Event()
    server = await LiveServer.start("health-server", serve_one, ping_interval=None,
                                    close_timeout=CLOSE_TIMEOUT)
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
        return SimpleNamespace(events=events, reaped=reaped, victims=victims,
                               stall_at=stall_at, end=time.monotonic() - t0,
                               connected=len(server.connections))
    finally:
        await stop_clients(stopping, tasks)
        await asyncio.gather(*(ws.close() for ws in current.values()), return_exceptions=True)
        await proxy.stop()
        await server.stop()


async def stop_clients(stopping, tasks):
    # Ask the client loops to stop, cancel them, and make sure they did.
    stopping.set()
    for task in tasks:
        task.cancel()
    done, pending = await asyncio.wait(tasks, timeout=5)
    assert not pending, f"{len(pending)} client tasks did not stop"
    errors = [t.exception() for t in done if not t.cancelled() and t.exception() is not None]
    assert not errors, errors


def report_reaping(demo):
    bound = INTERVAL + TIMEOUT
    print(f"links of {', '.join(demo.victims)} stalled at t={demo.stall_at:.2f} s "
          f"(interval + timeout = {bound:g} s)")
    print(f"{'':10}{'client gave up':>16}{'server reaped':>15}{'back':>8}")
    for name in demo.victims:
        gave_up = next(t for t, kind in demo.events[name] if kind == "closed" and t > demo.stall_at)
        back = next(t for t, kind in demo.events[name] if kind == "open" and t > gave_up)
        reaped = demo.reaped[name]
        print(f"{name:10}{gave_up - demo.stall_at:>14.2f} s{reaped - demo.stall_at:>13.2f} s"
              f"{back - demo.stall_at:>6.2f} s")
        assert gave_up - demo.stall_at <= bound + SLACK, f"{name}: the client noticed too late"
        assert reaped - demo.stall_at <= bound + SLACK, f"{name}: the server reaped too late"
    print(f"connected at the end: {demo.connected} of {len(demo.events)}")
    assert demo.connected == len(demo.events), "every client is back"


def show_reaping(demo, title):
    marks = {"4 links stall": demo.stall_at, "+ interval + timeout": demo.stall_at + INTERVAL + TIMEOUT}
    fig = client_timeline(demo.events, start=0, end=demo.end, title=title, marks=marks)
    fig.axes[0].set_xlabel("time (s)   green: connected")
    plt.show()


demo = await reaper_demo(Keepalive)
report_reaping(demo)
show_reaping(demo, "Four links go half-open: both ends notice, the clients come back")


# %% [markdown]
# Each of the four noticed within about `interval + timeout` = 0.6 s, on *both* sides:
# the client closed and reconnected (through a fresh tunnel, so the new connection works),
# and the server let go of the ghost, with its buffers and its place in every room. The
# six healthy clients never noticed anything. Both sides must check: a server that only
# answers pings (and trusts the socket for the rest) keeps every ghost, and a client that
# does not check sits in front of a frozen page.

# %% [markdown]
# ## Idle proxies
#
# Between a browser and your server there are often proxies, firewalls and load
# balancers, and most of them close connections they consider idle: nginx's
# `proxy_read_timeout` defaults to 60 s, as does the idle timeout of an AWS Application
# Load Balancer; 30 s is common in corporate networks. The symptom is
# [websocket-proxy-timeout](../references/sharp_edges.md#websocket-proxy-timeout):
# disconnects at suspiciously regular intervals, on some networks only, with code 1006.
#
# A heartbeat is traffic: if it runs more often than the shortest idle timeout on the
# path, the proxy never sees an idle connection. Below, one proxy that cuts after
# `PROXY_IDLE` = 0.6 s of silence, and three groups of four quiet clients that reconnect
# whenever their connection ends: no heartbeat; a ping every 0.9 s (longer than the
# proxy's timeout); a ping every 0.2 s. The server answers pings, nothing else.

# %% tags=["nbval-ignore-output"]
class NoHeartbeat(Keepalive):
    def poll(self, now):
        return []  # trusts the connection

    def next_wakeup(self, now):
        return None


GROUPS = {
    "no heartbeat": lambda now: NoHeartbeat(now=now),
    "ping every 0.9 s": lambda now: Keepalive(0.9, TIMEOUT, now=now),
    "ping every 0.2 s": lambda now: Keepalive(0.2, TIMEOUT, now=now),
}


async def answer_pings(conn):
    async for message in conn:
        if message == PING:
            await conn.send(PONG)


async def behind_idle_proxy(per_group=4, watch=2.5):
    server = await LiveServer.start("health-server", answer_pings, ping_interval=None,
                                    close_timeout=CLOSE_TIMEOUT)
    proxy = await FaultProxy.start("health-proxy", server.port, idle_timeout=PROXY_IDLE)
    t0 = time.monotonic()
    events = {f"{group}: {i}": [] for group in GROUPS for i in range(per_group)}
    stopping = asyncio.Event()

    async def quiet_client(name, make_heartbeat):
        while not stopping.is_set():
            try:
                ws = await connect(proxy.url, proxy=None, ping_interval=None,
                                   close_timeout=CLOSE_TIMEOUT, open_timeout=2)
            except (OSError, InvalidHandshake):
                await asyncio.sleep(0.05)
                continue
            events[name].append((time.monotonic() - t0, "open"))
            await Wired(ws, make_heartbeat(time.monotonic())).run()
            events[name].append((time.monotonic() - t0, f"closed {ws.close_code}"))

    tasks = [asyncio.create_task(quiet_client(name, GROUPS[name.split(":")[0]]))
             for name in events]
    try:
        await asyncio.sleep(watch)
        proxy.check()
        server.check()
        return events, time.monotonic() - t0
    finally:
        await stop_clients(stopping, tasks)
        await proxy.stop()
        await server.stop()


events, watched = await behind_idle_proxy()
cuts = {group: [sum(kind.startswith("closed") for _, kind in events[name])
                for name in events if name.startswith(group)] for group in GROUPS}
for group, counts in cuts.items():
    print(f"{group:18} cut {sum(counts):2} times in {watched:.1f} s ({counts} per client)")
assert all(n >= 2 for n in cuts["no heartbeat"]), "silent clients are cut every PROXY_IDLE s"
assert all(n >= 1 for n in cuts["ping every 0.9 s"]), "an interval above the proxy's is too long"
assert sum(cuts["ping every 0.2 s"]) == 0, "a heartbeat under the proxy's timeout keeps it open"
fig = client_timeline(events, start=0, end=watched,
                      title=f"Behind a proxy that cuts after {PROXY_IDLE} s of silence")
fig.axes[0].set_xlabel("time (s)   green: connected   gaps: cut, reconnecting")
plt.show()

# %% [markdown]
# Without a heartbeat, every quiet client is cut every 0.6 s, like clockwork. With an
# interval longer than the proxy's timeout, exactly as often: each connection's first
# ping would leave after the proxy has already cut it. With a ping every 0.2 s, never. In production terms: with proxies that cut after 30 s, ping
# every 20-25 s, which is why `websockets` (20 s) and Socket.IO (25 s) chose those
# defaults. Keep some room below the timeout for latency.
#
# When you control the proxy, raise its timeouts too (for nginx: `proxy_read_timeout
# 3600s;` and `proxy_send_timeout 3600s;` for WebSocket locations); the heartbeat stays,
# for the networks you do not control.

# %% [markdown]
# ## Choosing interval and timeout
#
# Three numbers decide the settings, and they pull against each other:
#
# 1. **detection time**: how long a ghost lives; at most `interval + timeout`;
# 2. **false alarms**: a slow but healthy link whose round trip exceeds `timeout` gets
#    cut, and a false alarm costs a reconnect, a state resync, a "reconnecting..." flash;
# 3. **overhead**: messages per minute, on every connection, forever.
#
# Live demos cannot afford minutes, so here is the simulation, at production scale:
# the `Keepalive` class above, unchanged, on both ends of simulated connections
# (`scenario` is the harness the exercise's grader uses). First, detection: for each
# setting, 40 links stall at a random moment; how long until each side declares them
# dead?

# %%
LESSON = SimpleNamespace(Heartbeat=Keepalive)  # the harness takes anything with a Heartbeat


def stall_once(interval, timeout, i, runs):
    stall_at = 60 + interval * (i + 0.5) / runs  # spread evenly over one ping interval

    def configure(run):
        run.marks["stall"] = stall_at
        run.loop.call_at(stall_at, lambda: run.server.link_of("client").stall())

    return scenario(LESSON, "stall", SEED * 1000 + i, Settings(interval, timeout, yours=False),
                    stall_at + interval + timeout + 5, latency=Latency(0.03, 0.02),
                    configure=configure)


def detection(interval, timeout, runs=40):
    found = detection_times([stall_once(interval, timeout, i, runs) for i in range(runs)], "stall")
    return found["client"] + found["server"]


INTERVALS = (5, 10, 15, 20, 25, 30)
TIMEOUTS = (5, 10, 20)
detected = {(i, t): detection(i, t) for t in TIMEOUTS for i in INTERVALS}
print("seconds from the stall until a side declares the link dead: median / worst")
print(f"{'interval:':>13}" + "".join(f"{i:>10} s" for i in INTERVALS))
for t in TIMEOUTS:
    row = "".join(f"{statistics.median(detected[i, t]):6.1f} /{max(detected[i, t]):3.0f}"
                  for i in INTERVALS)
    print(f"timeout {t:>2} s {row}")

# %% [markdown]
# Worst case `interval + timeout`, median about `timeout + interval / 2`: the last ping
# before the stall may have just left, or the next one is a whole interval away. The
# `websockets` defaults (20 s, 20 s) leave a ghost for up to 40 s; 20 s and 10 s, 30 s.
#
# Now the other side of the scale. A mobile link whose one-way latency is normally
# 30-60 ms, but with a latency spike every two minutes on average, lasting 1-20 s, during
# which the round trip jumps to a random value around 1.5 s (log-normal: sometimes 5 s,
# rarely 10 s or more). Nothing is ever lost: every "dead" verdict is a false alarm. Ping
# every 20 s, and vary the timeout; 16 connections of 20 minutes each per setting:

# %%
NORMAL = Latency(0.03, 0.03)


def slow_but_healthy(run):
    rng = random.Random(run.seed)

    def set_latency(latency):
        link = run.server.link_of("client")
        if link is not None:
            link.latency = latency

    t = rng.expovariate(1 / 120)
    while t < run.until:
        length = rng.uniform(1, 20)
        rtt = rng.lognormvariate(math.log(1.5), 0.8)
        run.loop.call_at(t, set_latency, Latency(rtt / 2, 0.0))
        run.loop.call_at(t + length, set_latency, NORMAL)
        t += length + rng.expovariate(1 / 120)


def false_alarms_per_hour(timeout, interval=20.0, connections=16, minutes=20):
    alarms, hours = 0, 0.0
    for i in range(connections):
        run = scenario(LESSON, "slow link", SEED * 1000 + i, Settings(interval, timeout, False),
                       minutes * 60, latency=NORMAL, configure=slow_but_healthy)
        verdicts = [e.declared_at for e in run.ends() if e.declared_at is not None]
        alarms += bool(verdicts)
        hours += (min(verdicts) if verdicts else run.until) / 3600  # healthy time observed
    return alarms / hours


FA_TIMEOUTS = (1, 2, 3, 5, 8, 10, 15, 20)
alarm_rate = {t: false_alarms_per_hour(t) for t in FA_TIMEOUTS}
for t, rate in alarm_rate.items():
    print(f"timeout {t:>2} s: {rate:5.2f} false alarms per hour of connection")

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
for colour, t in zip(("#0969da", "#1a7f37", "#8250df"), TIMEOUTS, strict=True):
    left.plot(INTERVALS, [max(detected[i, t]) for i in INTERVALS], "o-", color=colour,
              label=f"timeout {t} s: worst")
    left.plot(INTERVALS, [statistics.median(detected[i, t]) for i in INTERVALS], "o--",
              color=colour, alpha=0.6, label=f"timeout {t} s: median")
left.set_xlabel("ping interval (s)")
left.set_ylabel("ghost detected after (s)")
left.set_title("Detection time (simulated stalls)", fontsize=10, loc="left")
left.legend(fontsize=7, frameon=False)
right.plot(FA_TIMEOUTS, [alarm_rate[t] for t in FA_TIMEOUTS], "o-", color="#cf222e")
right.set_xlabel("timeout (s), ping every 20 s")
right.set_ylabel("false alarms per hour")
right.set_title("False alarms on a slow but healthy link", fontsize=10, loc="left")
for ax in (left, right):
    ax.spines[["top", "right"]].set_visible(False)
fig.tight_layout()
plt.show()

# %% [markdown]
# A timeout of a second or two sounds responsive, and on this link it cuts a healthy
# connection several times an hour. From about 5 s false alarms become rare, and above
# that none happened here; but every second added to the timeout is a second added to
# each ghost's life. Measure the round trips of
# your own users (`websockets` keeps the last one in `ws.latency`) and set the timeout
# well above their slow tail, not above their average.
#
# Last, the overhead of the lesson's `Keepalive` on an idle connection, both ends pinging,
# measured in the simulation over 10 minutes (WebSocket frame bytes, both directions):

# %%
print(f"{'interval':>9}{'frames/min':>12}{'frame B/min':>13}{'with TCP/IP headers':>21}")
for interval in (5, 10, 20, 25):
    run = scenario(LESSON, "idle", SEED, Settings(interval, 10.0, False), 600.0,
                   latency=Latency(0.03, 0.02))
    frames, size = overhead(run)
    print(f"{interval:>7} s{frames:>12.1f}{size:>13.0f}{size + 52 * frames:>21.0f}")

# %% [markdown]
# A few hundred bytes per minute and connection: nothing for the network. The real
# cost is messages: with 100,000 connections and one ping every 20 s from each client,
# the server receives 5,000 pings a second and sends 5,000 pongs. Halve it by letting one side ping and the other only answer and watch
# (Socket.IO's server pings, its client checks that pings keep coming), or by skipping
# pings when other traffic already proves the link.
#
# ## Summary
#
# - A half-open connection tells nobody: both ends say `OPEN`, sends succeed into a
#   buffer, the server's memory for the ghost grows, and a side that only listens never
#   finds out. `ws.state` is not a health check.
# - Liveness needs traffic that must be answered, checked on **both** sides: the client
#   to reconnect, the server to reap the ghost.
# - `websockets` does it with protocol pings by default (20 s interval, 20 s timeout,
#   close code 1011, then up to `close_timeout` = 10 s for the closing handshake): keep it
#   on. Add an application-level heartbeat when a browser must detect a dead server, or
#   when you need the other program's own answer.
# - A dead link is noticed within `interval + timeout`; a timeout below the slow tail of
#   your users' round trips turns latency spikes into reconnect storms.
# - Proxies cut idle connections after 30-60 s: an interval of 20-25 s keeps them open.

# %% [markdown]
# ## Your turn
#
# Open [exercises/heartbeat.py](../exercises/heartbeat.py) and write `Heartbeat`, the
# sans-I/O liveness logic of one side of one connection, with the interface you saw
# above (`on_received`, `on_sent`, `poll`, `next_wakeup`), and choose its `INTERVAL` and
# `TIMEOUT`. It must:
#
# 1. send something at least every `interval` while the application is silent;
# 2. answer every `PING` with a `PONG` at once;
# 3. declare a connection dead within `interval + timeout` when nothing arrives any more,
#    on both the client and the server;
# 4. never declare a slow but healthy link dead (round trips below `timeout`);
# 5. come with settings that survive a proxy cutting after 30 s of silence, at a small
#    overhead.
#
# Grade it here with `await rtlab.check("heartbeat")`, or in a terminal with
# `python -m rtlab check heartbeat`. The grader runs both ends of 230 simulated
# connections: half-open stalls at random moments under different traffic
# ([half-open-connection-ghost](../references/sharp_edges.md#half-open-connection-ghost)),
# idle links, hung servers and slow links with latency spikes
# ([missing-heartbeat](../references/validations.md#missing-heartbeat)), and quiet
# connections behind a 30 s idle proxy
# ([websocket-proxy-timeout](../references/sharp_edges.md#websocket-proxy-timeout)).
# Each failure comes with the seed that replays it, a timeline and a hint.
#
# Hints, if you want them:
#
# - The simplest rule that keeps every promise: *anything* that arrives proves the link
#   alive; remember when it last did, and close once nothing has for
#   `interval + timeout`.
# - `next_wakeup` returns a time (`now + ...`), not a delay: the earliest of "time to
#   ping" and "time to give up".
# - Stuck? `python -m rtlab hint heartbeat`.
#
# Once your code passes (or before, to see what it does), run it in the live demo of this
# lesson: four half-open links among ten clients. The cell first tries it in a quick
# simulation, so unfinished code gets a message instead of a hung kernel.

# %% tags=["nbval-ignore-output"]
from rtlab import course
from rtlab.learner import describe_error, load_module
from rtlab.topics.connection_health.sim import half_open_scenario

exercise = course.load().exercise("heartbeat")
try:
    learner = load_module(exercise.path, "heartbeat")  # re-read on every run
    trial = half_open_scenario(learner, 5001, Settings(INTERVAL * 100, TIMEOUT * 100, False))
    problem = trial.error
except Exception as error:  # a syntax error, a failing import...
    problem = describe_error(error)

if problem:
    print("Your heartbeat is not ready for the live demo yet:")
    print(" ", problem)
    print("Keep going in exercises/heartbeat.py, then run this cell again.")
else:
    mine = await reaper_demo(learner.Heartbeat)
    report_reaping(mine)
    show_reaping(mine, "Your Heartbeat: four links go half-open")

# %% [markdown]
# And the grade. The report shows every check with what was expected and what happened;
# `print(report)` gives the same as text:

# %% tags=["nbval-ignore-output"]
report = await rtlab.check("heartbeat")
report

# %% [markdown]
# **What comes next.** A heartbeat tells you *that* a user is gone, and reconnection
# brings them back, often within a second. Showing that on screen is the job of
# presence: if "Alice left" is announced the moment her connection drops, a Wi-Fi blip
# makes her flicker out and in for everyone. The next module adds grace periods and
# tombstones.
#
# Before you leave: every live server, proxy and client of this notebook is already
# stopped, and this cell makes sure.

# %%
errors = await rtlab.live.stop_all()
assert not errors, errors
assert not rtlab.live.running(), f"still running: {rtlab.live.running()}"
print("nothing left running")
