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
# # Ordering and rooms: sequence numbers, backfill on join, vector clocks
#
# *About 30 minutes to read, run and try things; the exercise after it takes 20-30 more.*
#
# "It's TCP, so it's ordered" holds inside one connection and nowhere else. A room
# with many members is many connections, messages that cross servers, members who
# reconnect, and newcomers who join while others are talking. Chat, notification
# and game servers mostly solve this the plain way, with **sequence numbers** handed
# out by the room; peers without a central server need **vector clocks** (or a CRDT,
# module 09). In this lesson you will:
#
# - watch 50 members join a room during a burst, on real WebSockets in this kernel,
#   and count the messages they lose or see twice, then fix the order of the join;
# - see two server hops and a reconnect reorder messages, and put them back in order
#   with a pending buffer;
# - follow three peers without a server through their vector clocks, and see which
#   messages had to wait, and why.
#
# It covers [room-join-race-condition](../references/sharp_edges.md#room-join-race-condition),
# [join-without-backfill](../references/validations.md#join-without-backfill),
# [message-ordering-race](../references/sharp_edges.md#message-ordering-race),
# [missing-message-ordering](../references/validations.md#missing-message-ordering),
# [reconnection-state-loss](../references/sharp_edges.md#reconnection-state-loss) and
# [Message Ordering with Vector Clocks](../references/patterns.md#message-ordering-with-vector-clocks);
# at the end you write the room and the client in [exercises/ordering.py](../exercises/ordering.py).

# %%
# %matplotlib inline
from functools import partial

import rtlab
import rtlab.live
from rtlab.learner import load_exercise
from rtlab.topics.ordering_and_rooms.lesson import describe_loss
from rtlab.topics.ordering_and_rooms.live import (
    ArrivalClient,
    DemoRoom,
    InOrderClient,
    RoomServer,
    join_race,
)
from rtlab.topics.ordering_and_rooms.sim import plan_of_kind, race_summary, run

# %% [markdown]
# ## A room that numbers its messages
#
# The room server in this kernel is a thin shell around a **room**: a plain object
# that numbers each message (`seq` 1, 2, 3...), keeps it in a bounded log, and tells
# the server whom to send it to. Members speak JSON:
#
# ```text
# member -> room   {"type": "join", "room": "lobby", "since": null}       a fresh join
#                  {"type": "join", "room": "lobby", "since": 41}         "I have up to 41"
# room -> member   {"type": "joined", "room": "lobby", "after": 21}       history follows
#                  {"type": "msg", "room": "lobby", "seq": 22, "id": "ann-7", ...}
# ```
#
# A fresh join gets a **backfill**, the last 20 messages, so the newcomer sees the
# conversation it walks into. The log lives in a store that takes `READ_DELAY`
# seconds to read, like a database, and the room keeps talking meanwhile. The
# question of this section: in which order should a join **subscribe** the member to
# live messages and **read** the history?

# %% [markdown]
# ## Joining during a burst
#
# First the order that reads naturally: load the history, then subscribe. Fifty
# members join at seeded moments while one sender publishes 300 messages at 400 per
# second. Each member drops duplicates (by `seq`) and shows what arrives. We count,
# per joiner, the messages published *after its join began* that it never showed.
# The constants below are the ones to play with:

# %%
SEED = 7
JOINERS = 50  # members joining during the burst
MESSAGES = 300  # messages in the burst
RATE = 400  # messages per second
READ_DELAY = 0.05  # seconds a history read takes (a database query)

# %% tags=["nbval-ignore-output"]
history_first = partial(DemoRoom, subscribe_first=False)
server = await RoomServer.start("rooms", history_first, read_delay=READ_DELAY)
race = await join_race(server, lambda room: ArrivalClient(room, dedupe=True),
                       joiners=JOINERS, messages=MESSAGES, rate=RATE, seed=SEED)
print(race.summary())
print(describe_loss(race, rate=RATE, read_delay=READ_DELAY))
assert sum(race.lost.values()) > 0, "history-then-subscribe should lose messages here"

# %% [markdown]
# Anything published between the moment the history query ran and the moment the
# member was subscribed is in neither: not in the history (too late for the query),
# not live (nobody was listening yet). The window lasts at least as long as the query's
# answer takes to come back (half of `READ_DELAY`), so on a quiet laptop every test
# passes, and in a busy room nearly every joiner loses a few messages, silently.
#
# Reverse the order: **subscribe first, then read the history**. Now the window
# produces overlap instead of gaps: what is published before the query runs arrives
# live *and* in the history. This member does not drop duplicates, to show them:

# %% tags=["nbval-ignore-output"]
server = await RoomServer.start("rooms", DemoRoom, read_delay=READ_DELAY)
race = await join_race(server, lambda room: ArrivalClient(room),
                       joiners=JOINERS, messages=MESSAGES, rate=RATE, seed=SEED)
print(race.summary())
assert sum(race.lost.values()) == 0 and sum(race.duplicated.values()) > 0

# %% [markdown]
# Nothing lost; duplicates, and messages out of order (the live ones arrived before
# the history that precedes them). Both are easy once every message carries its
# `seq`: drop a `seq` already shown, hold back one that came early. `InOrderClient`
# does exactly that (it is the `InOrder` class of the
# [sharp edges page](../references/sharp_edges.md#message-ordering-race)):

# %% tags=["nbval-ignore-output"]
server = await RoomServer.start("rooms", DemoRoom, read_delay=READ_DELAY)
race = await join_race(server, lambda room: InOrderClient(room),
                       joiners=JOINERS, messages=MESSAGES, rate=RATE, seed=SEED)
print(race.summary())
assert not any([*race.lost.values(), *race.duplicated.values(), *race.out_of_order.values()])

# %% [markdown]
# **Try it**: set `READ_DELAY = 0.005` (a database ten times faster) and re-run the
# cells of this section. Predict first: does history-then-subscribe stop losing
# messages, or lose fewer? Compare with the loss printed above at 0.05: on the machine
# that stored this notebook, 0.005 still lost 200-360 messages in total (4-7 per joiner)
# over two runs: a faster database narrows the window, the join's own round trip keeps
# it open.

# %% [markdown]
# **Try it**: once your `Room` and `Client` in [exercises/ordering.py](../exercises/ordering.py)
# run, put them in the cell just above, in place of `DemoRoom` and `InOrderClient`:
# `mine = load_exercise("ordering")`, then `RoomServer.start("rooms", mine.Room, ...)` and
# `lambda room: mine.Client(room)`. It should print the same three zeros: nothing lost,
# nothing twice, nothing out of order, for all 50 joiners.

# %% [markdown]
# ## The same race in virtual time
#
# Live runs differ a little each time. The grader replays joins in a seeded,
# virtual-time simulation instead: here is one of its schedules (a calm room, then a
# burst of 50-80 messages per second, five joiners, history reads of 40-400 ms),
# with the same three combinations. The numbers are exact, run after run.

# %%
plan = plan_of_kind("joins")
for label, room, client in [
    ("history, then subscribe", history_first, partial(ArrivalClient, dedupe=True)),
    ("subscribe, then history", DemoRoom, ArrivalClient),
    ("subscribe first, client in order", DemoRoom, InOrderClient),
]:
    print(f"{label}\n{race_summary(run(plan, room, client))}\n")

# %% [markdown]
# The same schedule with **your** `Room` and `Client` (until they are written, the
# run stops at the first TODO and says which):

# %% tags=["nbval-ignore-output"]
mine = load_exercise("ordering")
print(race_summary(run(plan, mine.Room, mine.Client)))

# %% [markdown]
# **Try it**: the grader plays 50 schedules like this one for the join checks. Set
# `plan = plan_of_kind("joins", 1)` (or 2, 3...) and re-run both cells: the burst rate
# and read times change, and so do the joiners who lose most. A passing room and client
# print 0 in the lost, twice and disorder columns for every joiner, on every schedule.

# %% [markdown]
# ## Two hops and a reconnect reorder messages
#
# One connection delivers in order. A room that spans two servers does not: here
# every live message goes through one of two relays, each adding up to 30 ms. Two
# members listen, one showing messages as they arrive, one through `InOrderClient`:

# %% tags=["nbval-ignore-output"]
import asyncio

from rtlab.topics.ordering_and_rooms.live import Member, burst, tally

HOPS = 0.03  # the most a relay adds, in seconds
server = await RoomServer.start("rooms", DemoRoom, hops=HOPS, seed=SEED)
naive = await Member.start("naive", ArrivalClient("lobby"), server.url)
ordered = await Member.start("ordered", InOrderClient("lobby"), server.url)
await asyncio.sleep(0.2)  # both joined before the burst: only the relays reorder
await burst(server.url, 150, 500)
await asyncio.sleep(0.2)  # the last relayed messages
result = tally(server, [naive, ordered])
print(result.summary())
assert result.out_of_order["naive"] > 0 and result.out_of_order["ordered"] == 0

# %% [markdown]
# A reconnect does the same. This member talks to the room through the fault proxy;
# halfway through a burst the proxy cuts its connection. The client reconnects and
# resumes with `since` = the last seq it showed; the room answers with what came
# after, while new live messages already flow on the new connection:

# %% tags=["nbval-ignore-output"]
from rtlab.live import FaultProxy

server = await RoomServer.start("rooms", DemoRoom)
proxy = await FaultProxy.start("net", server.port)
naive = await Member.start("naive", ArrivalClient("lobby"), proxy.url)
ordered = await Member.start("ordered", InOrderClient("lobby"), proxy.url)
publisher = asyncio.create_task(burst(server.url, 200, 400))
await asyncio.sleep(0.25)
for tunnel in proxy.tunnels:
    tunnel.cut()
await publisher
await asyncio.sleep(0.3)
result = tally(server, [naive, ordered])
print(result.summary(), f"\nresumed with since={[j.since for j in server.joins[2:]]}")
assert result.lost["ordered"] == 0 and result.out_of_order["ordered"] == 0

# %% [markdown]
# Without `since`, the reconnected member would get a fresh backfill of 20 and lose
# whatever else was sent while it was away
# ([reconnection-state-loss](../references/sharp_edges.md#reconnection-state-loss)).
# With it, nothing is lost as long as the log still holds `since + 1`. When it does
# not, after a long absence, the honest answer is `{"type": "resync", "after": S}`:
# "messages up to S are gone; reload". The exercise's room gives that answer.

# %% [markdown]
# **Try it**: set `HOPS = 0.001` in the relay cell and predict how many messages the
# naive member still shows out of order, then try `0.1`. Compare with the count printed
# above for 0.03: on the machine that stored this notebook, 0.001 gave 8-21 and 0.1 gave
# 64-69 over two runs, and `InOrderClient` always 0: even a millisecond of difference
# between two paths reorders a burst.

# %% [markdown]
# ## Vector clocks: ordering without a sequencer
#
# A room's counter orders everything because every message passes through the room.
# Peers that talk directly (devices syncing with each other, servers in two regions
# that both accept writes) have no such place. Each keeps a **vector clock**, one
# counter per peer: increment your own entry before sending and attach the clock;
# show a message from `s` only when it is the next one from `s` and you have shown
# everything it had seen; then take the pointwise maximum. Three peers chat here;
# the link between A and C is slow, and a reply is sent right after its question
# was shown, so replies can overtake questions:

# %%
import matplotlib.pyplot as plt

from rtlab.topics.ordering_and_rooms.causal import causal_run
from rtlab.topics.ordering_and_rooms.lesson import causal_figure, describe_wait

SLOW = ("A", "C")  # the slow link
causal = causal_run(SEED, slow=SLOW)
print(causal.table())
print(describe_wait(causal))

# %%
causal_figure(causal, f"three peers, slow link {'-'.join(SLOW)} (seed {SEED})")
plt.show()

# %% [markdown]
# Each red bar is a message that arrived before something it depends on: the reply
# held until the question is shown. Without the clocks, those replies would appear
# above their questions. Vector clocks give **causal** order, not one total order:
# two notes sent without seeing each other are concurrent, and peers may show them
# in different orders, which is fine for chat and not for shared state (that is what
# a CRDT resolves, module 09).
#
# **When a per-room counter is enough:** whenever one server sequences the room. A
# reply is published after its author saw the question, so it gets a larger `seq`,
# and in-order delivery by `seq` is causal too. You need vector clocks (or a CRDT)
# once there is no single sequencer.

# %% [markdown]
# **Try it**: make the slow link B-C instead, `SLOW = ("B", "C")`, and re-run both cells.
# Predict which peer now holds messages back. (With seed 7: 5 of 18 deliveries wait,
# four of them at B.) Then `causal = causal_run(SEED, slow=SLOW, reply_chance=0.0)`, no
# replies at all: why does nothing wait now?

# %% [markdown]
# ## Your turn
#
# **Build** the room and the client in [exercises/ordering.py](../exercises/ordering.py):
# a `Room` that numbers messages, drops a sender's retried ids, answers a fresh join
# with the last 20 messages and a resume (`since=N`) with N+1 onwards, or with
# `resync` when its log no longer reaches; and a `Client` that shows each message
# once and in order, holds at most `max_pending` early messages, asks again while a
# gap stays open, and resumes after a reconnect.
#
# **Pass criteria**, as `python -m rtlab check ordering` measures them: 200 seeded
# schedules in virtual time, 50 per kind, with three senders each.
#
# - `missing-message-ordering` (relays add 80-200 ms of jitter): every client shows
#   every message exactly once, in seq order;
# - `message-ordering-race` (plus 8 % duplicates, 6 % drops, 8 % sender retries, one
#   cut per client, and a store that slows by 1.2 s during a 70 msg/s burst): the
#   same, a retried id is not a second message, and `pending()` never exceeds 16 (the
#   grader's `max_pending`) while a gap stays open for over a second;
# - `join-without-backfill` and `room-join-race-condition` (4-5 members join during
#   bursts of 50-80 messages per second, history reads take 40-400 ms): each shows the
#   last 20 messages sent before its join, the room itself sends it every message
#   published after the join began (in the answer or live), and it shows each once;
# - `reconnection-state-loss` (cuts of 0.1-0.5 s and 1.6-1.9 s, a 25-message log): each
#   resume `since=N` is answered `joined after=N` then N+1, N+2..., or `resync` exactly
#   when the log lost N+1; nothing is lost or shown twice except what a resync declared
#   gone; a `since` the room never gave out (in the future, negative, not an int)
#   raises `ValueError`.
#
# **Run** `python -m rtlab check ordering` in a terminal, or `await rtlab.check("ordering")`
# in the cell below. The whole check takes 1-2 s; a failure names the check, the seed
# (replay it with `--seed N`), what a member showed versus what it should have, and the
# timeline of the race. `python -m rtlab hint ordering` gives one hint at a time.
#
# **Time**: 20-30 minutes.

# %% tags=["nbval-ignore-output"]
report = await rtlab.check("ordering")
report

# %% [markdown]
# ## Summary
#
# - TCP orders one connection. Rooms need order information in every message: a
#   `seq` from the room, or vector clocks between peers.
# - Join by subscribing first, then reading history; drop the overlap by `seq`.
# - Resume with `since`; keep a bounded log and say `resync` when it no longer reaches.
# - Hold back early messages in a bounded buffer, and ask for the gap.
#
# Next: backpressure and fan-out, where a slow member must not hold up the room.

# %%
assert await rtlab.live.stop_all() == []
