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
# **About 40 minutes**: 15 to read, 5 to run every cell (under a minute of computing in
# all), 20 for the four **Try it** prompts. The exercise at the end takes another 45-60.
#
# Everything below runs in this kernel: the live demos on real sockets on
# `127.0.0.1`, the simulations in virtual time. **Time is scaled down** so that each
# live demo takes a few seconds: where production code waits 1 s, 30 s or 2 min,
# the demos wait 0.5 s or 1.5 s. The shapes are the same; only the clock is faster.

# %%
# %matplotlib inline
import random
import statistics

import rtlab
import rtlab.live
from rtlab.learner import load_working
from rtlab.topics.reconnection import lesson
from rtlab.topics.reconnection.lesson import LiveWorld, describe, restart_storm, show

SEED = 7  # every random draw below is seeded: live fleets, simulations, examples
CLIENTS = 200  # live clients, each a real WebSocket connection
CAPACITY = 60  # handshakes per 100 ms the freshly restarted server survives
BASE, CAP = 0.5, 1.5  # backoff: first delay ceiling, longest delay (s)
FIXED = 0.5  # the fixed-delay policy's pause (s)
LIVE = LiveWorld(clients=CLIENTS, capacity=CAPACITY, base=BASE, cap=CAP, seed=SEED)
print(LIVE)

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
# Every demo below runs the same client loop, `stay_connected(connect, backoff, sleep)`,
# once per client: it connects, calls `backoff.reset()` once a connection opens, and
# after a refused connect or a dropped connection sleeps `backoff.next_delay()` and
# tries again. Writing that loop is half of your exercise, so the lesson borrows a
# working one and shows only what it does. What changes from demo to demo is the
# policy, and the first is the one nobody means to write:

# %%
working = load_working("reconnection")  # a working exercise: run here, not shown
stay_connected = working.stay_connected


class Immediate:
    # Anti-pattern: no pause at all. Same constructor as the exercise's Backoff.
    def __init__(self, base=BASE, cap=CAP, rng=None):
        self.base, self.cap, self.rng = base, cap, rng

    def next_delay(self):
        return 0.0

    def reset(self):
        pass


# %% [markdown]
# `restart_storm` starts a live server and 200 clients that use the policy (they connect
# within 0.1 s: the server is still warm, this is not the test yet). Then it restarts the
# server the way a deploy does: every connection is closed with code 1001 (going away),
# and connections are refused for `LIVE.downtime` = 1.2 s. From the restart on, the
# server is *cold*: it survives `CAPACITY` = 60 handshakes in any 100 ms. One more and
# it falls over: every connection is cut without a close frame and it refuses everyone
# for `LIVE.crash_downtime` = 0.7 s before it listens again. It watches for 2.8 s and
# stops everything.

# %% tags=["nbval-ignore-output"]
herd = await restart_storm("reconnect immediately", Immediate, stay_connected, LIVE)
print(f"while the server was restarting: {herd.during_restart():,} attempts, "
      f"{herd.during_restart() / CLIENTS:.0f} per client")
print(f"crashes after the restart: {len(herd.crashes)}; "
      f"connected at the end: {herd.connected} of {CLIENTS}")
lesson.check_herd(herd, CAPACITY)  # the claims below, checked on this run

# %% [markdown]
# Plot the attempts per 100 ms. Light bars are all attempts, dark bars the ones that got
# a connection; the dashed line is what the cold server survives; grey is the restart,
# red the time the server spent on the floor after each crash.

# %% tags=["nbval-ignore-output"]
show([herd], f"{CLIENTS} live clients, reconnecting at once", capacity=CAPACITY,
     crash_downtime=LIVE.crash_downtime, end=LIVE.observe)

# %% [markdown]
# What you are looking at:
#
# - **During the restart** (grey) the clients did not wait at all: each refused attempt
#   was followed by the next one, as fast as the event loop could go. The count printed
#   above is thousands of attempts in 1.2 s from only 200 clients, each client burning
#   a CPU core while it is offline.
# - **When the server came back**, far more than 60 clients knocked within 100 ms. It
#   accepted the first 60, fell over on the next one, and dropped those 60 again.
# - **After each crash** (red) the same thing happened, because nothing in the clients
#   had changed: the server never stays up while the herd keeps coming.
#
# Real servers fall over for the same reason with bigger numbers: the classic case is
# 10,000 clients reconnecting in the same second. The cure is on the client side: wait
# before retrying, longer after each failure, and at random.

# %% [markdown]
# **Try it**: Is the herd only a problem for a weak server? Set `CAPACITY = 250` in the
# first code cell (more handshakes per 100 ms than there are clients), run it and the two
# cells above, and predict before you look: does the immediate herd still crash the
# server, and does it still make thousands of attempts during the restart? (Here: no
# crash and everyone back, but still 3,000-7,000 attempts in the 1.2 s restart, 15-35 per
# client, depending on how fast the machine is: the capacity saves the server, not the
# clients' CPUs or the network.) Put it back to 60.

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
#
# Two of them are broken in a way you can read in a few lines:

# %%
class Fixed(Immediate):
    # The same pause every time: no growth, no randomness.
    def next_delay(self):
        return FIXED


class Exponential(Immediate):
    # Doubling up to the cap, identical for every client (y-websocket's shape).
    def __init__(self, base=BASE, cap=CAP, rng=None):
        super().__init__(base, cap, rng)
        self.doublings = 0

    def next_delay(self):
        delay = min(self.cap, self.base * 2.0 ** self.doublings)
        self.doublings = min(self.doublings + 1, 64)  # 2**64 is plenty: no float overflow
        return delay

    def reset(self):
        self.doublings = 0


# %% [markdown]
# The three jittered ones are correct answers to your exercise, so they stay out of
# sight: full jitter is the working `Backoff` borrowed above, equal and decorrelated
# jitter come from the lesson's helpers. Here are the first six delays of two clients
# whose connections failed together:

# %%
POLICIES = {
    "reconnect immediately": Immediate, f"fixed {FIXED} s": Fixed,
    "exponential, no jitter": Exponential, "full jitter": working.Backoff,
    "equal jitter": lesson.EqualJitter, "decorrelated jitter": lesson.DecorrelatedJitter,
}
print(f"{'':24}{'client A':>30}   {'client B':>30}")
for name, policy in POLICIES.items():
    a, b = (policy(base=BASE, cap=CAP, rng=random.Random(SEED + i)) for i in range(2))
    row = [" ".join(f"{p.next_delay():4.2f}" for _ in range(6)) for p in (a, b)]
    print(f"{name:24}{row[0]:>30}   {row[1]:>30}")


# %% [markdown]
# Without jitter, clients A and B wait exactly as long as each other, at every step:
# if they failed together, they retry together, forever. Exponential growth alone does
# not help them: it only makes the herd come back less often. With jitter each client
# draws its own delays, so a crowd that failed at the same moment spreads out.
#
# Same live test for three more policies: the same 200 clients, the same restart, the
# same cold server. Server and fleet names are fixed, so re-running a cell replaces them
# instead of leaking ports or tasks.

# %% tags=["nbval-ignore-output"]
live = [herd]
for label in (f"fixed {FIXED} s", "exponential, no jitter", "full jitter"):
    live.append(await restart_storm(label, POLICIES[label], stay_connected, LIVE))
for storm in live:
    print(describe(storm))
lesson.check_live_storms(lockstep=live[:-1], jittered=live[-1], capacity=CAPACITY)

# %% tags=["nbval-ignore-output"]
show(live, f"The same restart, {CLIENTS} live clients, four policies", capacity=CAPACITY,
     crash_downtime=LIVE.crash_downtime, end=LIVE.observe)

# %% [markdown]
# The fixed delay turns the herd into a metronome: everyone knocks every 0.5 s, and
# every knock that finds the server up knocks it over. Exponential backoff without
# jitter knocks less often, but every knock is still the whole crowd. Full jitter turns
# the same 200 clients into a drizzle that stays under the line, and the clients are back
# without a single crash (the last cell checked all three claims on this run).
#
# ### The same at 10,000 clients, in simulation
#
# Two hundred clients is what one kernel can drive for real. The simulation in
# `rtlab.sim` runs the same `stay_connected` and the same policy classes against a
# simulated server, in virtual time, with 20-50 ms of network latency each way. The
# server is scaled with the crowd: 10,000 clients, a cold server that survives 3,000
# handshakes per 100 ms, the same restart. Each client starts at the moment the
# restart closed its connection.
#
# Two policies are left out on purpose. Simulating them is expensive for the same
# reason running them is: the simulator does work for every attempt, and these two
# make the most (reconnecting immediately costs one attempt per client per round trip;
# a fixed delay 10,000 attempts every 0.5 s for as long as the server is down). You saw
# both fail live.

# %%
SIM_CLIENTS = 10_000
SIM_CAPACITY = 3_000  # handshakes per 100 ms: the same ratio to clients as live
SIM_CAP = CAP  # the longest delay the simulated clients draw
SIM_UNTIL = 4.0  # simulated seconds after the restart
world = LiveWorld(capacity=SIM_CAPACITY, base=BASE, cap=SIM_CAP, seed=SEED)
simulated = [
    lesson.simulate_storm(label, POLICIES[label], stay_connected, clients=SIM_CLIENTS,
                          capacity=SIM_CAPACITY, until=SIM_UNTIL, world=world)
    for label in ("exponential, no jitter", "full jitter", "equal jitter", "decorrelated jitter")
]
for storm in simulated:
    print(describe(storm))

# %%
show(simulated, f"The same restart, {SIM_CLIENTS:,} simulated clients", capacity=SIM_CAPACITY,
     crash_downtime=world.crash_downtime, end=SIM_UNTIL)
if SIM_CAP == CAP:  # the claims below hold for the lesson's settings; try others
    lesson.check_simulated(no_jitter=simulated[0], jittered=simulated[1:], cap=SIM_CAP)

# %% [markdown]
# Read the table as the server's bill. Without jitter the whole crowd lands in the same
# 100 ms, the server takes its 3,000 and falls over, and the next wave of 10,000 arrives
# in lockstep: the most attempts, the most crashes, and not one client back after 4 s.
# Nor will they ever be: the only thing that could pull the crowd apart is the
# network's 20-50 ms of jitter, well inside one 100 ms window. The jittered crowds were
# all back within about `SIM_CAP` of the server being up (the last cell checked it), and
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
# **Try it**: Jitter spreads a crowd over at most the cap. Set `SIM_CAP = 0.5` in the
# simulation cell and predict, from 10,000 clients spread over 0.5 s against a server that
# survives 3,000 per 100 ms: does full jitter still get everyone back? Re-run the two
# cells (this one takes longer: a crashing crowd makes many more attempts). Here full
# jitter then crashed the server 4 times and had nobody back after 4 s, with about
# 120,000 attempts. A cap is also the width of the spread: size it to the crowd, not
# only to the user's patience. Put `SIM_CAP` back to `CAP`.

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
# blip). How long until each is back? `NoReset` is the working `Backoff` with one bug:

# %%
class NoReset(working.Backoff):
    def reset(self):
        pass  # forgot: the failure count survives the success


BLIP_CAP = 30.0  # the backoff's cap in this section (s)
back = {}
for label, policy in (("with reset()", working.Backoff), ("without reset()", NoReset)):
    back[label] = lesson.blip_after_outage(policy, stay_connected, cap=BLIP_CAP, seed=SEED)
print(f"{'back after the blip':22}{'median':>8}{'slowest':>9}")
for label, times in back.items():
    print(f"{label:22}{statistics.median(times):>7.1f}s{max(times):>8.1f}s")

# %% [markdown]
# With the reset, every client is back within a second (the last cell's table): its
# first delay is drawn below 0.5 s again. Without it, the outage three minutes earlier
# still counts, every client draws from the full cap, and a user stares at a frozen
# screen for up to half a minute after a hiccup that lasted one round trip. Call
# `reset()` when a connection *opens*, not when it closes.

# %% [markdown]
# **Try it**: Predict the "without reset()" row for `BLIP_CAP = 5.0`, then set it and
# re-run. (Here: median 2.4 s, slowest 5.0 s. The bug costs up to one cap per blip,
# whatever the cap is; the row "with reset()" does not move.)

# %% [markdown]
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
# Same simulation, a 10-minute outage, 100 clients, the working `Backoff` with and
# without its 30 s cap:

# %%
class Uncapped(working.Backoff):
    def __init__(self, base=0.5, cap=30.0, rng=None):
        super().__init__(base, float("inf"), rng)  # forgot the cap


def minutes(seconds):
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


OUTAGE = 600.0  # seconds
print(f"{'back after the outage':28}{'median':>8}{'slowest':>9}")
for label, policy in (("cap 30 s", working.Backoff), ("no cap", Uncapped)):
    times = lesson.back_after_outage(policy, stay_connected, outage=OUTAGE, cap=30.0)
    print(f"{label:28}{minutes(statistics.median(times)):>8}{minutes(max(times)):>9}")


# %% [markdown]
# ### Refused connections: the server is down
#
# A refused connection (`ConnectionRefusedError`, an `OSError`) means nobody is
# listening: the server is restarting or gone. It is a failure like any other, so it
# gets the same backoff. The tempting shortcut, `except OSError: continue`, turns every
# client into the live herd you saw above, hammering a server that cannot answer. One
# simulated client through an outage:

# %%
REFUSED_FOR = 60.0  # seconds the server is down
for label, policy in (("no pause after a refusal", Immediate),
                      ("full jitter, cap 30 s", working.Backoff)):
    tries = lesson.attempts_during_outage(policy, stay_connected, outage=REFUSED_FOR, seed=SEED)
    print(f"{label:26}{tries:>7,} attempts in {REFUSED_FOR:g} s")

# %% [markdown]
# One client, one minute: hundreds of attempts against a dozen. Multiply by your user
# count. The server side has a polite counterpart: when it is up but overloaded, it can
# refuse excess handshakes early with HTTP 503, which the `websockets` client treats as
# retryable, so clients back off instead of piling on (see the fix in
# [websocket-thundering-herd](../references/sharp_edges.md#websocket-thundering-herd)).

# %% [markdown]
# **Try it**: Set `REFUSED_FOR = 600.0` (a 10-minute outage) and predict both rows
# before you re-run: the first grows with the outage, the second with its logarithm
# until the cap, then by one attempt per 15 s on average. (Here: 8,587 against 50.)

# %% [markdown]
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
# The close code is in the exception:

# %%
from websockets.exceptions import ConnectionClosed, InvalidStatus

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


# %% [markdown]
# A live server that rejects a token with 1008:

# %%
from websockets.asyncio.client import connect

from rtlab.live import LiveServer


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
# **Build** `Backoff` and `stay_connected` in
# [exercises/reconnection.py](../exercises/reconnection.py):
#
# 1. `Backoff(base, cap, rng)` with `next_delay()` and `reset()`: exponential, capped,
#    jittered, drawing every random number from `self.rng`;
# 2. `stay_connected(connect, backoff, sleep)`: a loop that never returns, sleeps with
#    the `sleep` it is given (not `asyncio.sleep`: the grader runs it in virtual time),
#    backs off after refused connects *and* after dropped connections, and resets after
#    a success.
#
# **Pass criteria**, measured by the grader with `base=0.5`, `cap=30` in virtual time:
#
# - [missing-reconnection-logic](../references/validations.md#missing-reconnection-logic):
#   in 200 seeded scenarios of 4 clients (restarts, a long outage, drops with 1006, clean
#   closes with 1001), every client is back within 47 s (1.5 × cap + 2) of the server
#   being up, and within 5 s of a brief drop of a healthy connection; no wait is longer
#   than 46 s (1.5 × cap + 1); `stay_connected` never returns or raises.
# - [reconnect-without-jitter](../references/validations.md#reconnect-without-jitter):
#   in 3 herds of 300 clients, the delays before each of attempts 1-4 after a restart
#   spread by at least 10 % of their median (p90 − p10).
# - [websocket-thundering-herd](../references/sharp_edges.md#websocket-thundering-herd):
#   after a restart and after a long outage, at most 60 of the 300 clients (20 %)
#   connect in any 100 ms; during a 90-120 s outage at most 30 attempts per client on
#   average; never 5 attempts in a row each within 10 ms of a failure, never 100
#   attempts without a success.
#
# **Run** `await rtlab.check("reconnection")` below, or in a terminal
# `python -m rtlab check reconnection`. Each failure comes with the seed that replays it,
# a timeline and a hint; `python -m rtlab hint reconnection` gives more.
#
# **Time**: 45-60 minutes; the grader itself takes about 5 s.
#
# Hints, if you want them:
#
# - `min(cap, base * 2 ** failures)` is the ceiling; a random fraction of it is full
#   jitter. Stop counting at some point too: `base * 2 ** 1100` overflows a float.
# - `connect()` raises `OSError` when refused; reading a connection ends, or raises
#   `websockets.exceptions.ConnectionClosed`, when it goes away. Catch both, sleep, loop.
#
# Once the grader is happy (or before, to see what it sees), run your own code in the
# live storm of this lesson. The cell first tries it in a quick simulation, so code that
# is unfinished, raises or never awaits gets a message instead of hanging the kernel:

# %% tags=["nbval-ignore-output"]
mine = await lesson.storm_of_your_code(LIVE)
if isinstance(mine, str):  # not ready yet: what went wrong
    print(mine)
else:
    print(describe(mine))
    show([mine], f"Your Backoff and stay_connected, {CLIENTS} live clients", capacity=CAPACITY,
         crash_downtime=LIVE.crash_downtime, end=LIVE.observe)

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
# nothing arrives. The next module, [connection health](05-connection-health.ipynb),
# adds heartbeats so that a client finds out within seconds, and then this lesson's
# backoff takes over.
#
# Before you leave: every live server and client of this notebook is already stopped,
# and this cell makes sure.

# %%
errors = await rtlab.live.stop_all()
assert not errors, errors
assert not rtlab.live.running(), f"still running: {rtlab.live.running()}"
print("nothing left running")
