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
# # Reconnection: backoff, jitter and the thundering herd
#
# Every connection drops sooner or later: a deploy restarts the server, a phone
# changes networks, a proxy cuts an idle link. Coming back is easy. Coming back
# *together with everyone else* is what takes servers down. In this lesson you will:
#
# - watch 200 real WebSocket clients knock over a freshly restarted server in this
#   kernel, then see which delay policies stop that, live and at 10,000 clients in
#   simulation;
# - learn the three details that decide whether a backoff works in production:
#   **reset** after a success, a **cap** on the delay, and **when to stop** trying.
#
# It covers [websocket-thundering-herd](../references/sharp_edges.md#websocket-thundering-herd),
# [reconnect-without-jitter](../references/validations.md#reconnect-without-jitter) and
# [missing-reconnection-logic](../references/validations.md#missing-reconnection-logic);
# at the end you write your own policy in
# [exercises/reconnection.py](../exercises/reconnection.py).

# %% [markdown]
# Everything below runs in this kernel: the live demos on real sockets on
# `127.0.0.1`, the simulations in virtual time. **Time is scaled down** so that each
# live demo takes a few seconds: where production code waits 1 s, 30 s or 2 min,
# the demos wait 0.5 s or 1.5 s. The shapes are the same; only the clock is faster.

# %%
# %matplotlib inline
import asyncio
import gc
import random
import statistics
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from websockets.exceptions import ConnectionClosed

import rtlab
import rtlab.live
from rtlab.live import LiveServer
from rtlab.plots import arrival_histograms, peak_in_window
from rtlab.sim import Latency, SimLoop, SimServer
from rtlab.topics.reconnection.live import Fleet

SEED = 7  # every random draw below is seeded: live fleets, simulations, examples

# The scaled-down world of the demos (seconds, except where it says otherwise).
CLIENTS = 200  # live clients, each a real WebSocket connection
CAPACITY = 60  # handshakes per 100 ms the freshly restarted server survives
DOWNTIME = 1.2  # a restart: connections refused for this long
CRASH_DOWNTIME = 0.7  # after falling over: refused for this long
OBSERVE = 2.8  # how long each live demo watches after the restart
BASE, CAP = 0.5, 1.5  # backoff: first delay ceiling, longest delay
FIXED = 0.5  # the fixed-delay policy's pause


# %% [markdown]
# ## The thundering herd
#
# A deploy or a crash drops every connection at the same instant, and every client
# notices at the same instant. If they all reconnect at once, the new process (cold
# caches, nothing warmed up) faces its whole user base within the same second. Each
# handshake costs CPU, memory, often an authentication lookup and a state load; taken
# together they overwhelm it, it falls over, drops everyone again, and the next wave
# arrives just as synchronised. That is the
# [thundering herd](../references/sharp_edges.md#websocket-thundering-herd).
#
# Here is a client loop that stays connected. It has the shape of the one you will
# write in the exercise: it is handed `connect`, a `backoff` policy and `sleep`, and
# only asks the policy how long to wait. Every demo in this lesson runs this same loop;
# only the policy changes.

# %%
async def reconnect_forever(connect, backoff, sleep):
    # Keep one connection open, forever (the task is cancelled to stop it).
    while True:
        try:
            conn = await connect()
        except OSError:  # refused: the server is down or restarting
            await sleep(backoff.next_delay())
            continue
        backoff.reset()  # connected: the next outage starts with small delays again
        try:
            async for _message in conn:
                pass
        except ConnectionClosed:  # an error close (1006, 1011...); 1000 and 1001 just end the loop
            pass
        await sleep(backoff.next_delay())  # dropped: wait, then go round again


class Immediate:
    # Anti-pattern: no pause at all. Same constructor as the exercise's Backoff.
    def __init__(self, base=BASE, cap=CAP, rng=None):
        self.base, self.cap, self.rng = base, cap, rng

    def next_delay(self):
        return 0.0

    def reset(self):
        pass


# %% [markdown]
# Start a live server and 200 clients that use the `Immediate` policy. The clients
# connect within 0.1 s (the server is still warm: this is not the test yet). `Fleet` runs
# `reconnect_forever` once per client, on real sockets, with `asyncio.sleep` as its
# `sleep`, and records every connection attempt.

# %%
# backlog: how many not-yet-accepted connections the OS queues (asyncio's default: 100)
server = await LiveServer.start("herd-server", crash_downtime=CRASH_DOWNTIME, backlog=1024)
fleet = await Fleet.start(
    server.url, reconnect_forever, lambda rng: Immediate(rng=rng),
    count=CLIENTS, ramp=0.1, seed=SEED, name="herd-clients",
)
assert await fleet.wait_connected(timeout=15), f"only {fleet.connected} of {CLIENTS} connected"
print(f"{fleet.connected} clients connected")


# %% [markdown]
# Now restart the server, the way a deploy does: every connection is closed with code
# 1001 (going away), and connections are refused for 1.2 s. From the restart on, the
# server is *cold*: it survives 60 handshakes in any 100 ms. One more and it falls
# over: every connection is cut without a close frame and it refuses everyone for
# 0.7 s before it listens again.

# %%
@dataclass
class Storm:
    # One restart as seen from outside: times in seconds after the restart.
    label: str
    attempts: list  # every connection attempt, refused or not
    accepted: list  # the attempts that got a connection
    crashes: list  # when the server fell over
    clients: int
    connected: int  # clients connected when we stopped watching
    back_up: float = DOWNTIME  # when the restart was over

    def peak_after_back_up(self, window=0.1):
        # Most attempts in any `window` seconds once the server was listening again.
        return peak_in_window([t for t in self.attempts if t >= self.back_up], window)


async def restart_and_watch(label, server, fleet):
    # Restart the server, watch for OBSERVE seconds, return what happened from t = 0 on.
    # The server and the fleet keep separate clocks: read both at the restart.
    server.capacity = (CAPACITY, 0.1)  # cold from now on
    since_server, since_fleet = server.elapsed(), fleet.elapsed()
    # Pause Python's cyclic garbage collector while we watch: on a busy kernel one of its
    # passes can freeze the event loop for a few hundred ms, and every client timer that
    # falls due meanwhile fires at once afterwards: a small herd that is not the lesson's.
    gc.disable()
    try:
        await server.restart(downtime=DOWNTIME)  # returns once every connection is closed
        back_up = fleet.elapsed() - since_fleet + DOWNTIME
        await asyncio.sleep(OBSERVE)  # watch; never time.sleep() in a cell: it freezes the loop
    finally:
        gc.enable()
    return Storm(
        label,
        attempts=[a.time - since_fleet for a in fleet.attempts if a.time >= since_fleet],
        accepted=[a.time - since_fleet for a in fleet.attempts
                  if a.time >= since_fleet and a.outcome == "open"],
        crashes=[t - since_server for t in server.crashes if t >= since_server],
        clients=fleet.count,
        connected=fleet.connected,
        back_up=back_up,
    )


# %% tags=["nbval-ignore-output"]
assert fleet.connected == CLIENTS, "run the cell that starts the server and the clients first"
herd = await restart_and_watch("reconnect immediately", server, fleet)
await fleet.stop()
await server.stop()

during_restart = sum(t < herd.back_up for t in herd.attempts)
print(f"while the server was restarting: {during_restart:,} attempts, "
      f"{during_restart / CLIENTS:.0f} per client")
print(f"crashes after the restart: {len(herd.crashes)}; "
      f"connected at the end: {herd.connected} of {CLIENTS}")
assert herd.crashes, "the immediate herd should have knocked the cold server over"
assert herd.peak_after_back_up() > CAPACITY


# %% [markdown]
# Plot the attempts per 100 ms. Light bars are all attempts, dark bars the ones that got
# a connection; the dashed line is what the cold server survives; grey is the restart,
# red the time the server spent on the floor after each crash.

# %% tags=["nbval-ignore-output"]
def show(storms, title, *, capacity=CAPACITY, start=-0.2, end=OBSERVE, clip=5):
    # One panel per storm: attempts per 100 ms (light), accepted (dark), capacity, outages.
    fig = arrival_histograms(
        {s.label: s.attempts for s in storms}, start=start, end=end, bin_width=0.1,
        title=title, capacity=capacity,
    )
    bins = [start + 0.1 * i for i in range(round((end - start) / 0.1) + 1)]
    for ax, storm in zip(fig.axes, storms, strict=True):
        for bars in ax.patches:
            bars.set_color("#9ecbff")
        accepted = np.array([t for t in storm.accepted if start <= t <= end])
        ax.hist(accepted, bins=bins, color="#0550ae", histtype="stepfilled", linewidth=0)
        # Outages: a band behind the bars, and a strip along the top that bars cannot hide.
        outages = [(0, storm.back_up, "#d0d7de", "#8c959f")]
        outages += [(c, c + CRASH_DOWNTIME, "#ffcecb", "#cf222e") for c in storm.crashes]
        for begin, end_, light, strong in outages:
            ax.axvspan(begin, end_, color=light, linewidth=0, zorder=0)
            ax.axvspan(begin, end_, ymin=0.95, color=strong, linewidth=0, zorder=3)
        heading = f"{storm.label}: peak {storm.peak_after_back_up():,} per 100 ms once back up"
        top = ax.get_ylim()[1]
        if top > clip * capacity:  # a wall of retries would flatten everything else
            ax.set_ylim(0, clip * capacity)
            heading += f" (bars cut off at {clip * capacity:,})"
        else:
            ax.set_ylim(0, max(top, 1.3 * capacity))
        ax.set_title(heading, fontsize=9, loc="left")
        ax.set_ylabel("attempts\nper 100 ms", fontsize=8)
        ax.set_xlim(start, end)
        if ax.get_legend():
            ax.get_legend().remove()  # replaced by the figure's legend below
    fig.legend(
        handles=[Patch(color="#9ecbff", label="connection attempts"),
                 Patch(color="#0550ae", label="got a connection"),
                 Line2D([], [], color="#cf222e", linestyle="--", label="server capacity"),
                 Patch(color="#8c959f", label="restarting"),
                 Patch(color="#cf222e", label="crashed")],
        fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=5, frameon=False,
    )
    plt.show()


show([herd], f"{CLIENTS} live clients, reconnecting at once")


# %% [markdown]
# What you are looking at:
#
# - **During the restart** (grey) the clients did not wait at all: each refused attempt
#   was followed by the next one, as fast as the event loop could go. That is thousands
#   of attempts in 1.2 s from only 200 clients, and a client burning a CPU core while
#   it is offline.
# - **When the server came back**, far more than 60 clients knocked within 100 ms. It
#   accepted the first 60, fell over on the next one, and dropped those 60 again.
# - **After each crash** (red) the same thing happened, because nothing in the clients
#   had changed: the server never stays up while the herd keeps coming.
#
# Real servers fall over for the same reason with bigger numbers: the classic case is
# 10,000 clients reconnecting in the same second. The cure is on the client side: wait
# before retrying, longer after each failure, and at random.

# %% [markdown]
# ## Backoff and jitter
#
# A *backoff* policy decides how long to wait before each retry. These are the usual
# suspects, each with the same three methods as the exercise's `Backoff`:
#
# | policy | n-th delay (n = 0, 1, 2...) | seen in |
# |---|---|---|
# | fixed | always the same | many hand-written clients; a browser's `EventSource` (3 s in Chromium, 5 s in Firefox) |
# | exponential, no jitter | min(cap, base × 2ⁿ) | y-websocket: min(2ⁿ × 100 ms, 2,500 ms) |
# | full jitter | random between 0 and min(cap, base × 2ⁿ) | Brooker (AWS, 2015); `jittered_backoff` in the [references](../references/patterns.md#exponential-backoff-with-jitter) |
# | equal jitter | half of that, plus a random half | Brooker (AWS, 2015) |
# | decorrelated jitter | random between base and 3 × the previous delay, capped | Brooker (AWS, 2015) |
#
# Real defaults sit in between. gRPC's connection backoff starts at 1 s, multiplies
# by 1.6 and adds ±20 % jitter, up to 120 s. The `websockets` client (`async for ws in
# connect(uri)`) waits a random 0-5 s before its first retry, as RFC 6455 (section
# 7.2.3) recommends, then 3.1 s growing ×1.618 up to 90 s. Watch one detail there: it
# spaces out *failed* attempts, but after a connection that was open closes, it
# reconnects at once (see
# [Reconnect Immediately](../references/patterns.md#reconnect-immediately)).

# %%
class Fixed(Immediate):
    # The same pause every time: no growth, no randomness.
    def next_delay(self):
        return FIXED


class Exponential(Immediate):
    # Doubling up to the cap, identical for every client (y-websocket's shape).
    def __init__(self, base=BASE, cap=CAP, rng=None):
        super().__init__(base, cap, rng)
        self.failures = 0

    def ceiling(self):
        ceiling = min(self.cap, self.base * 2 ** self.failures)
        self.failures = min(self.failures + 1, 64)  # 2**64 is plenty; avoid float overflow
        return ceiling

    def next_delay(self):
        return self.ceiling()

    def reset(self):
        self.failures = 0


class FullJitter(Exponential):
    def next_delay(self):
        return self.rng.uniform(0, self.ceiling())


class EqualJitter(Exponential):
    def next_delay(self):
        ceiling = self.ceiling()
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


class DecorrelatedJitter(Immediate):
    def __init__(self, base=BASE, cap=CAP, rng=None):
        super().__init__(base, cap, rng)
        self.delay = base

    def next_delay(self):
        self.delay = min(self.cap, self.rng.uniform(self.base, self.delay * 3))
        return self.delay

    def reset(self):
        self.delay = self.base


POLICIES = {
    "reconnect immediately": Immediate,
    f"fixed {FIXED} s": Fixed,
    "exponential, no jitter": Exponential,
    "full jitter": FullJitter,
    "equal jitter": EqualJitter,
    "decorrelated jitter": DecorrelatedJitter,
}

# The first six delays of two clients whose connections failed together.
print(f"{'':24}{'client A':>30}   {'client B':>30}")
for name, policy in POLICIES.items():
    a, b = (policy(rng=random.Random(SEED + i)) for i in range(2))
    row = [" ".join(f"{p.next_delay():4.2f}" for _ in range(6)) for p in (a, b)]
    print(f"{name:24}{row[0]:>30}   {row[1]:>30}")


# %% [markdown]
# Without jitter, clients A and B wait exactly as long as each other, at every step:
# if they failed together, they retry together, forever. Exponential growth alone does
# not help them: it only makes the herd come back less often. With jitter each client
# draws its own delays, so a crowd that failed at the same moment spreads out.
#
# Same live test for three more policies: the same 200 clients, the same restart, the
# same cold server. `restart_storm` packs the steps of the previous section into one
# function; server and fleet names are fixed, so re-running a cell replaces them instead
# of leaking ports or tasks.

# %%
async def restart_storm(label, policy, stay_connected=reconnect_forever):
    # Connect CLIENTS clients with `policy`, restart the server, watch, stop everything.
    server = await LiveServer.start("storm-server", crash_downtime=CRASH_DOWNTIME, backlog=1024)
    fleet = await Fleet.start(
        server.url, stay_connected, lambda rng: policy(base=BASE, cap=CAP, rng=rng),
        count=CLIENTS, ramp=0.1, seed=SEED, name="storm-clients",
    )
    try:
        if not await fleet.wait_connected(timeout=15):
            raise RuntimeError(f"only {fleet.connected} of {CLIENTS} clients connected")
        return await restart_and_watch(label, server, fleet)
    finally:
        await fleet.stop()  # raises what the clients' code raised, if anything
        await server.stop()


def describe(storm):
    back = "everyone back" if storm.connected == storm.clients else (
        f"{storm.connected} of {storm.clients} connected")
    return (f"{storm.label:24} crashes {len(storm.crashes)}   peak {storm.peak_after_back_up():4} "
            f"per 100 ms after the restart   attempts {len(storm.attempts):6,}   {back}")


# %% tags=["nbval-ignore-output"]
live = [herd]
for label in (f"fixed {FIXED} s", "exponential, no jitter", "full jitter"):
    live.append(await restart_storm(label, POLICIES[label]))
for storm in live:
    print(describe(storm))

*lockstep, jittered = live
for storm in lockstep:
    assert storm.crashes, f"{storm.label}: the herd should have crashed the cold server"
assert not jittered.crashes, f"full jitter crashed the server at {jittered.crashes}"
assert jittered.peak_after_back_up() < CAPACITY
assert jittered.connected >= 0.95 * CLIENTS, f"only {jittered.connected} back"

# %% tags=["nbval-ignore-output"]
show(live, f"The same restart, {CLIENTS} live clients, four policies")

# %% [markdown]
# The fixed delay turns the herd into a metronome: everyone knocks every 0.5 s, and
# every knock that finds the server up knocks it over. Exponential backoff without
# jitter knocks less often, but every knock is still the whole crowd. Full jitter turns
# the same 200 clients into a drizzle that stays under the line, and everyone is back
# without a single crash.
#
# ### The same at 10,000 clients, in simulation
#
# Two hundred clients is what one kernel can drive for real. The simulation in
# `rtlab.sim` runs the same `reconnect_forever` and the same policy classes against a
# simulated server, in virtual time, with 20-50 ms of network latency each way. The
# server is scaled with the crowd: 10,000 clients, a cold server that survives 3,000
# handshakes per 100 ms, the same restart. Each client starts at the moment the
# restart closed its connection, exactly where `reconnect_forever` sleeps after a
# drop.
#
# Two policies are left out on purpose. Simulating them is expensive for the same
# reason running them is: the simulator does work for every attempt, and these two
# make the most. Reconnecting immediately costs one attempt per client per round trip
# (about 140,000 attempts per simulated second here); a fixed delay costs 10,000
# attempts every 0.5 s for as long as the server is down. You saw both fail live.

# %%
SIM_CLIENTS = 10_000
SIM_CAPACITY = 3_000  # handshakes per 100 ms: the same ratio to clients as live


def spawn_dropped(loop, server, name, backoff):
    # A client whose connection a restart has just closed: reconnect_forever would now
    # sleep(backoff.next_delay()) and loop. Starting its task that much later does the
    # same, one coroutine frame cheaper (it adds up over 10,000 clients).
    connect = server.connector(name)
    loop.spawn(reconnect_forever(connect, backoff, loop.sleep), name,
               at=loop.now + backoff.next_delay())


SIM_UNTIL = 4.0  # simulated seconds after the restart


def simulate_storm(label, policy, clients=SIM_CLIENTS, capacity=SIM_CAPACITY, until=SIM_UNTIL):
    loop = SimLoop(SEED)
    server = SimServer(loop, latency=Latency(0.02, 0.03), capacity=(capacity, 0.1),
                       crash_downtime=CRASH_DOWNTIME)
    server.restart(DOWNTIME)  # t = 0: every connection is gone, refused until DOWNTIME
    rng = random.Random(SEED)  # one generator shared by all clients: every draw differs
    gc.disable()  # speed only: 10,000 new coroutines would make the collector rescan them
    try:
        for i in range(clients):
            name = f"client-{i}"
            backoff = policy(base=BASE, cap=CAP, rng=rng)
            spawn_dropped(loop, server, name, backoff)
        loop.run(until)
        attempts = server.attempts
        storm = Storm(
            label,
            attempts=[a.time for a in attempts],
            accepted=[a.time for a in attempts if a.outcome == "accepted"],
            crashes=list(server.crashes),
            clients=clients,
            connected=server.connections,
        )
        loop.close()
    finally:
        gc.enable()
    return storm


def back_after(storm):
    if storm.connected < storm.clients:
        return f"no: {storm.connected:,} of {storm.clients:,} connected"
    return f"yes, at {max(storm.accepted):.1f} s"


simulated = [
    simulate_storm(label, POLICIES[label])
    for label in ("exponential, no jitter", "full jitter", "equal jitter", "decorrelated jitter")
]
header = f"10,000 clients, {SIM_UNTIL:g} s"
print(f"{header:24}{'peak per 100 ms':>17}{'attempts':>10}{'crashes':>9}   everyone back?")
for storm in simulated:
    print(f"{storm.label:24}{storm.peak_after_back_up():>17,}{len(storm.attempts):>10,}"
          f"{len(storm.crashes):>9}   {back_after(storm)}")

no_jitter, *jittered_sims = simulated
assert len(no_jitter.crashes) >= 2 and no_jitter.connected < SIM_CLIENTS
assert all(not s.crashes and s.connected == SIM_CLIENTS for s in jittered_sims)
assert len(no_jitter.attempts) > max(len(s.attempts) for s in jittered_sims)

# %%
show(simulated, "The same restart, 10,000 simulated clients", capacity=SIM_CAPACITY,
     end=SIM_UNTIL)


# %% [markdown]
# Read the table as the server's bill. Without jitter the whole crowd lands in the same
# 100 ms, the server takes its 3,000 and falls over, and about every 1.6 s the next
# wave of 10,000 arrives in lockstep: the most attempts, the most crashes, and not one
# client back after 4 s. Nor will they ever be: the only thing that could pull the crowd
# apart is the network's 20-50 ms of jitter, well inside one 100 ms window. The
# jittered crowds were all back about 1.6 s after the server was, without a crash, and
# then made no more attempts at all.
#
# That is what Marc Brooker found in "Exponential Backoff And Jitter" (AWS Architecture
# Blog, 2015): of the strategies he compared, exponential backoff without jitter did by
# far the most work and took the longest. Among the jittered three the differences are
# small next to that gap, and depend on the workload. Here, equal jitter keeps half of
# every delay fixed, so its crowd stays bunched at the start of each window (the tallest
# peak of the three); full jitter can draw delays close to zero, so it knocks most often
# while the server is still down; decorrelated jitter never waits less than `base`, so
# it knocks least.
#
# Peak per 100 ms counts attempts from the moment the server was back. Attempts during
# the restart itself are refused by the operating system before they reach the
# server's code, which is why the light bars inside the grey band can pass the
# capacity line without harm.

# %% [markdown]
# ## Reset, cap and giving up
#
# Three details decide whether a backoff that looks right in a demo also behaves in
# production. Back to realistic numbers for this section: the exercise's defaults,
# base 0.5 s and cap 30 s, in simulated time.

# %% [markdown]
# ### Reset after a success
#
# The delay grows with each failure *in a row*. Once a connection succeeds, the count
# must start again from zero. Otherwise a client that once sat through a long outage
# treats every later blip as if the outage were still going on.
#
# Below, 100 simulated clients live through a 2-minute outage. Three minutes after it
# ends, while the server is healthy, each of their connections is cut once (a Wi-Fi
# blip). How long until each is back?

# %%
class NoReset(FullJitter):
    def reset(self):
        pass  # forgot: the failure count survives the success


def cut_everyone(server, names):
    for name in names:
        link = server.link_of(name)
        assert link is not None, f"{name} should have been connected before the blip"
        link.drop()  # no close frame: each side sees 1006 after one network delay


def blip_after_outage(policy, clients=100):
    loop = SimLoop(SEED)
    server = SimServer(loop, latency=Latency(0.02, 0.03))
    rng = random.Random(SEED)
    names = [f"client-{i}" for i in range(clients)]
    for name in names:
        backoff = policy(base=0.5, cap=30.0, rng=rng)
        loop.spawn(reconnect_forever(server.connector(name), backoff, loop.sleep), name,
                   at=rng.uniform(0, 1))
    loop.call_at(5, server.go_down)  # a 2-minute outage...
    loop.call_at(125, server.go_up)
    blip = 305  # ...and, three minutes after it, one cut per connection
    loop.call_at(blip, cut_everyone, server, names)
    loop.run(blip + 120)
    back = {}
    for a in server.attempts:
        if a.outcome == "accepted" and a.time > blip:
            back.setdefault(a.client, a.time - blip)
    loop.close()
    assert len(back) == clients, "everyone comes back within two minutes of the blip"
    return sorted(back.values())


print(f"{'back after the blip':22}{'median':>8}{'slowest':>9}")
for label, policy in (("with reset()", FullJitter), ("without reset()", NoReset)):
    back = blip_after_outage(policy)
    print(f"{label:22}{statistics.median(back):>7.1f}s{max(back):>8.1f}s")

# %% [markdown]
# With the reset, every client is back within about half a second: its first delay is
# drawn below 0.5 s again. Without it, the outage three minutes earlier still counts,
# every client draws from the full 30 s, and a user stares at a frozen screen for a
# quarter of a minute or more after a hiccup that lasted one round trip. Call `reset()`
# when a connection *opens*, not when it closes.
#
# ### Cap the delay
#
# Doubling is fast. Without a cap, the ceiling after n failures is 0.5 s × 2ⁿ:

# %%
for n in (5, 10, 15, 20):
    ceiling = 0.5 * 2**n
    print(f"after {n:2} failures: up to {ceiling:>9,.0f} s = {ceiling / 3600:6.1f} h")


# %% [markdown]
# A 10-minute outage is about 11 failures in a row, enough to send a client to sleep for
# up to half an hour, and it does not wake up just because the server is back. The cap
# bounds that cost: once the server is up, no client waits much longer than the cap.
# Pick it from how long users may stare at a stale screen after a recovery: 30 s suits
# a chat or a dashboard; gRPC uses 120 s, `websockets` 90 s.
#
# Same simulation, a 10-minute outage, 100 clients with full jitter, with and without a
# 30 s cap:

# %%
class Uncapped(FullJitter):
    def __init__(self, base=BASE, cap=CAP, rng=None):
        super().__init__(base, float("inf"), rng)


def back_after_outage(policy, outage=600.0, clients=100):
    loop = SimLoop(SEED)
    server = SimServer(loop, latency=Latency(0.02, 0.03))
    rng = random.Random(SEED)
    for i in range(clients):
        backoff = policy(base=0.5, cap=30.0, rng=rng)
        spawn_dropped(loop, server, f"client-{i}", backoff)
    server.restart(outage)
    loop.run(outage + 24 * 3600)  # a day: nothing is left running by then
    back = {}
    for a in server.attempts:
        if a.outcome == "accepted":
            back.setdefault(a.client, a.time - outage)
    loop.close()
    return sorted(back.values())


def minutes(seconds):
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


print(f"{'back after a 10-min outage':28}{'median':>8}{'slowest':>9}")
for label, policy in (("cap 30 s", FullJitter), ("no cap", Uncapped)):
    back = back_after_outage(policy)
    print(f"{label:28}{minutes(statistics.median(back)):>8}{minutes(max(back)):>9}")


# %% [markdown]
# ### Refused connections: the server is down
#
# A refused connection (`ConnectionRefusedError`, an `OSError`) means nobody is
# listening: the server is restarting or gone. It is a failure like any other, so it
# gets the same backoff. The tempting shortcut, `except OSError: continue`, turns every
# client into the live herd you saw above, hammering a server that cannot answer. One
# simulated client through a 1-minute outage:

# %%
def attempts_during_outage(policy, outage=60.0):
    loop = SimLoop(SEED)
    server = SimServer(loop, latency=Latency(0.02, 0.03))
    backoff = policy(base=0.5, cap=30.0, rng=random.Random(SEED))
    spawn_dropped(loop, server, "client", backoff)
    server.restart(outage)
    loop.run(outage)
    loop.close()
    return len(server.attempts)


for label, policy in (("no pause after a refusal", Immediate),
                      ("full jitter, cap 30 s", FullJitter)):
    print(f"{label:26}{attempts_during_outage(policy):>6,} attempts in one minute")

# %% [markdown]
# One client, one minute: hundreds of attempts against a dozen. Multiply by your user
# count. The server side has a polite counterpart: when it is up but overloaded, it can
# refuse excess handshakes early with HTTP 503, which the `websockets` client treats as
# retryable, so clients back off instead of piling on (see the fix in
# [websocket-thundering-herd](../references/sharp_edges.md#websocket-thundering-herd)).
#
# ### Giving up, or not
#
# Should a client ever stop? It depends on why it failed, not on how many times:
#
# - **Temporary** failures: retry with backoff, forever. A dashboard or a chat must
#   never give up on its own: a user who comes back from lunch expects it to be live
#   again. Connection refused or reset, timeouts, HTTP 429 (too many requests: wait at
#   least its `Retry-After`) and 500/502/503/504, and the close
#   codes 1001 (going away: a restart or deploy), 1006 (abnormal closure: the link died
#   with no close frame), 1011 (internal error), 1012 (service restart) and 1013 (try
#   again later).
# - **Permanent** failures: stop, and tell the user. HTTP 401/403 (your token is bad or
#   expired: get a new one first), 404, and close code 1008 (policy violation, which
#   servers use for failed authentication). Retrying those only repeats the same answer,
#   politely backed off but forever.
#
# The `websockets` client draws nearly the same line: its reconnecting `connect()`
# retries network errors and HTTP 500, 502, 503 and 504, and raises everything else,
# 429 included (its `process_exception` argument lets you change that). While the
# client retries, *show it*: a "reconnecting…" banner, greyed-out controls, a queue of
# unsent messages. Silent retries look like a frozen app.
#
# The close code is in the exception. A live server that rejects a token with 1008:

# %%
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

TEMPORARY_CLOSE_CODES = {1001, 1006, 1011, 1012, 1013}
TEMPORARY_HTTP_STATUS = {429, 500, 502, 503, 504}  # 429: also honour its Retry-After


def retry_or_stop(error):
    # Decide from the error alone whether another attempt can succeed.
    if isinstance(error, InvalidStatus):  # the HTTP handshake was answered with an error
        return "retry" if error.response.status_code in TEMPORARY_HTTP_STATUS else "stop"
    if isinstance(error, ConnectionClosed):
        code = error.rcvd.code if error.rcvd else 1006  # no close frame: abnormal closure
        return "retry" if code in TEMPORARY_CLOSE_CODES else "stop"
    if isinstance(error, (OSError, TimeoutError)):  # refused, reset, unreachable
        return "retry"
    return "stop"  # a bug in our own code: retrying will not fix it


async def check_token(conn):
    await conn.close(1008, "invalid token")  # what an authenticating server does


bouncer = await LiveServer.start("bouncer", check_token)
try:
    async with connect(bouncer.url, proxy=None) as ws:
        await ws.recv()
except ConnectionClosed as closed:
    print(f"closed with {closed.rcvd.code} ({closed.rcvd.reason}): {retry_or_stop(closed)}")
finally:
    await bouncer.stop()

# %% [markdown]
# In the exercise every failure is temporary (the simulated server never rejects a
# token), so `stay_connected` simply retries forever, which is the right default.
#
# ## Summary
#
# - A restart drops everyone at once; clients that come straight back arrive as one
#   herd and knock the cold server over again and again.
# - Wait before every retry, refused connections included. Grow the wait after each
#   failure in a row (exponential), **randomise it** (jitter), **cap** it, and **reset**
#   the count once a connection opens.
# - Growth without randomness keeps the herd in lockstep: it just knocks less often.
#   Randomness without growth keeps hammering a server that is down. You need both.
# - Full jitter, min(cap, base × 2ⁿ) × a random fraction, is simple and among the best
#   (Brooker, AWS, 2015). Real defaults: gRPC 1 s × 1.6 ± 20 % up to 120 s; `websockets`
#   0-5 s, then × 1.618 up to 90 s; y-websocket min(2ⁿ × 100 ms, 2.5 s), no jitter.
# - Retry temporary failures forever and show "reconnecting…"; stop on authentication
#   and policy errors (HTTP 401/403, close code 1008).

# %% [markdown]
# ## Your turn
#
# Open [exercises/reconnection.py](../exercises/reconnection.py) and write:
#
# 1. `Backoff(base, cap, rng)` with `next_delay()` and `reset()`: exponential, capped,
#    jittered, drawing every random number from `self.rng`;
# 2. `stay_connected(connect, backoff, sleep)`: a loop that never returns, sleeps with
#    the `sleep` it is given (not `asyncio.sleep`: the grader runs it in virtual time),
#    backs off after refused connects *and* after dropped connections, and resets after
#    a success.
#
# Grade it here with `await rtlab.check("reconnection")`, or in a terminal with
# `python -m rtlab check reconnection`. The grader runs your code through 200 small
# seeded scenarios (restarts, a long outage, drops and clean closes) and three herds of
# 300 clients, and checks
# [missing-reconnection-logic](../references/validations.md#missing-reconnection-logic),
# [reconnect-without-jitter](../references/validations.md#reconnect-without-jitter) and
# [websocket-thundering-herd](../references/sharp_edges.md#websocket-thundering-herd).
# Each failure comes with the seed that replays it and a hint.
#
# Hints, if you want them:
#
# - `min(cap, base * 2 ** failures)` is the ceiling; `rng.uniform(0, ceiling)` is full
#   jitter. Stop counting at some point too: `base * 2 ** 1100` overflows a float.
# - `connect()` raises `OSError` when refused; reading a connection ends, or raises
#   `websockets.exceptions.ConnectionClosed`, when it goes away. Catch both, sleep, loop.
# - Stuck? `python -m rtlab hint reconnection`.
#
# Once the grader is happy (or before, to see what it sees), run your own code in the
# live storm of this lesson. The cell first tries it in a quick simulation, so code that
# is unfinished, raises or never awaits gets a message instead of hanging the kernel:

# %% tags=["nbval-ignore-output"]
from rtlab import course
from rtlab.learner import describe_error, load_module
from rtlab.topics.reconnection.sim import client_scenario

exercise = course.load().exercise("reconnection")
try:
    learner = load_module(exercise.path, "reconnection")  # re-read on every run
    trial = client_scenario(learner, seed=1000)  # 4 simulated clients, with a time limit
    errors = trial.client_errors()
    problem = trial.error or (describe_error(errors[0][1]) if errors else None)
except Exception as error:  # a syntax error, a failing import...
    problem = describe_error(error)

if problem:
    print("Your code is not ready for the live storm yet:")
    print(" ", problem)
    print("Keep going in exercises/reconnection.py, then run this cell again.")
else:
    try:
        mine = await restart_storm("your code", learner.Backoff, learner.stay_connected)
    except Exception as error:  # raised by your code while it ran live
        print("Your code raised while it ran live:", describe_error(error))
    else:
        print(describe(mine))
        show([mine], f"Your Backoff and stay_connected, {CLIENTS} live clients")

# %% [markdown]
# And the grade. The report shows every check with what was expected and what happened;
# `print(report)` gives the same as text:

# %% tags=["nbval-ignore-output"]
report = await rtlab.check("reconnection")
report

# %% [markdown]
# **What comes next.** Reconnecting assumes you *notice* that a connection is gone. A
# server restart tells you (code 1001), but a dead Wi-Fi link, a sleeping laptop or a
# proxy that silently dropped an idle connection do not: the socket looks open and
# nothing arrives. The next module, connection health, adds heartbeats so that a client
# finds out within seconds, and then this lesson's backoff takes over.
#
# Before you leave: every live server and client of this notebook is already stopped,
# and this cell makes sure.

# %%
errors = await rtlab.live.stop_all()
assert not errors, errors
assert not rtlab.live.running(), f"still running: {rtlab.live.running()}"
print("nothing left running")
