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
# # Backpressure and fan-out: slow clients, bounded outboxes, broadcast cost, cursors
#
# *About 35 minutes to read, run and try things; the exercise after it takes 45-90 more.*
#
# A real-time server's memory is decided by its slowest client, and its CPU by its
# busiest room. A phone on 2G, a browser tab the OS has paused, a client stopped in a
# debugger: each falls behind by any amount, and whatever you queue for it stays in your
# process. One message to a room of 10,000 can cost 10,000 serialisations and 10,000
# database queries. A mouse sends 120 positions a second. In this lesson you will:
#
# - watch a feed fill the server's memory for one client that stopped reading, with
#   `websockets.broadcast()`, and watch `await send()` stall everyone instead;
# - bound each client's outbox in bytes, with a policy per kind of message;
# - measure the cost of a broadcast against room size, with SQLite as the store;
# - measure cursor traffic and lag, unthrottled and throttled.
#
# It covers [backpressure-oom](../references/sharp_edges.md#backpressure-oom),
# [unbounded-message-queue](../references/validations.md#unbounded-message-queue),
# [broadcast-amplification](../references/sharp_edges.md#broadcast-amplification),
# [broadcast-n-queries](../references/validations.md#broadcast-n-queries) and
# [cursor-high-frequency](../references/validations.md#cursor-high-frequency); at the end
# you write a room in [exercises/backpressure.py](../exercises/backpressure.py).
#
# Everything runs in this kernel: real WebSocket servers and clients on `127.0.0.1`,
# and seeded simulations in virtual time.

# %%
# %matplotlib inline
from IPython.display import display

import rtlab
import rtlab.live
from rtlab.learner import describe_error, load_exercise
from rtlab.topics.backpressure import lesson
from rtlab.topics.backpressure.live import fanout_cost, feed_demo, plot_fanout, plot_memory
from rtlab.topics.backpressure.sim import NaiveRoom, cursor_traffic, run_costs

MiB = 2**20

# %% [markdown]
# ## A stopped reader and a busy feed
#
# The feed below sends 200 messages a second of 8 KB each (1.6 MB/s) to five fast
# clients and to one more client whose link stops carrying data after the handshake (a
# fault proxy stalls it: nothing is closed, nothing fails, exactly like a paused tab).
# The server hands every message to every connection, two ways:
#
# - `websockets.broadcast(connections, message)` writes to each socket and **never
#   waits**: what the stalled client cannot take piles up in the server's write buffer;
# - `for ws in connections: await ws.send(message)` **waits** once a socket holds more
#   than `write_limit` (32 KiB by default): backpressure, but for the whole loop.
#
# (On the client side, `max_queue`, 16 frames by default, is how much a client buffers
# before it stops reading its socket: that is how a slow client pushes back.) The demo
# samples what the server holds unsent, its memory (tracemalloc and RSS), and the fast
# clients' latency.

# %% tags=["nbval-ignore-output"]
broadcast = await feed_demo("broadcast", seconds=2.0)
send_loop = await feed_demo("send-loop", seconds=2.0)
print(broadcast.summary())
print(send_loop.summary())
print(lesson.describe_backlog(broadcast))
assert broadcast.growth()[2] > 2 * MiB, "the stalled client's backlog grows in our memory"
assert broadcast.received == 5 * broadcast.published, "the fast clients got everything"
assert send_loop.published < 0.3 * broadcast.published, "one stalled reader stopped the feed"

# %% [markdown]
# Two failures, one cause. With `broadcast()` the fast clients are fine, but the server
# holds a growing backlog for the stalled one, at the rate printed on the last line, for
# as long as the connection stays open (with websockets' default ping interval and
# timeout, up to 40 s; a crowd of such clients and the OOM killer comes). With the
# `send()` loop memory stays flat, but the first `send()` to the stalled client waits
# forever, and the fast clients get nothing more either. `broadcast()` does not protect you from a slow peer;
# it only promises not to wait for it.

# %% [markdown]
# **Try it**: set `seconds=4.0` in the `broadcast` line and predict the unsent bytes
# before you run it (the feed offers 200 x 8 KB = 1.6 MB a second, so about twice the
# figure above, near 6 MiB, if the backlog keeps up with it). Then make the feed
# lighter (`rate=20.0`): the backlog rate drops tenfold, so how long would the stalled
# client take to cost the server 100 MB now? (About ten minutes: a slow leak is still
# a leak.)

# %% [markdown]
# ## Bounded outboxes and a policy per kind
#
# The cure is an **outbox per client, bounded in bytes**, written by its own task: the
# feed puts a frame in each outbox and never waits; each writer sends as fast as its
# socket takes. When an outbox is full, a policy decides:
#
# | kind of message | when full | why |
# |---|---|---|
# | live data (prices, positions) | drop the **oldest** | only the newest value matters |
# | cursors, counters | **coalesce**: keep the newest per key | the old positions are worthless |
# | events (chat, edits) | **disconnect** with a 4000-4999 code | a hole in the history is worse: the client reconnects and resyncs |
#
# A bound in messages is not a bound in memory (1,000 messages of 100 bytes or of
# 1 MB?): count bytes. Here the same feed, with one policy for everything, first
# dropping the oldest, then disconnecting with 4000:

# %% tags=["nbval-ignore-output"]
drop = await feed_demo("outbox-drop-oldest", seconds=2.0, max_bytes=256 * 1024)
cut = await feed_demo("outbox-disconnect", seconds=2.0, max_bytes=256 * 1024)
print(drop.summary())
print(cut.summary())
display(plot_memory([broadcast, send_loop, drop, cut]))
assert drop.growth()[2] < 0.8 * MiB and cut.growth()[2] < 0.8 * MiB, "bounded"
assert drop.received == 5 * drop.published, "nobody else waited"
assert cut.stalled_close == 4000, "the stalled client was told to resync"
lesson.stop_tracing_memory()  # the memory demos are over; tracing would slow what follows

# %% [markdown]
# Flat lines: the stalled client costs at most its outbox (256 KiB here) plus the socket
# buffers, and the fast clients are not slowed. The grader of this module measures the
# same thing in virtual time, in 200 seeded rooms with slow, paused, stopped and
# vanishing clients. Here is one of them (seed 8003) through a naive room: a list per
# client, `encode()` and a permission query per recipient, every cursor move sent:

# %%
print(run_costs(NaiveRoom, 8003))

# %% [markdown]
# Every number there is a problem you will fix: serialisations and store queries per
# broadcast (the exercise allows one of each), the bytes the room holds (the exercise
# allows `max_bytes`, 4-8 KiB, per client that is behind), what the slowest client is
# owed at once, and the cursor frames a fast viewer gets each second (the exercise
# allows one per 50-100 ms).

# %% [markdown]
# **Try it**: run `run_costs(NaiveRoom, seed)` for seeds 8000 to 8011. Predict first:
# which number stays put and which swings from room to room? (For those twelve: 4.8-7.3
# serialisations per broadcast, 39-224 KB held, 29-65 KB owed to the slowest client,
# 38-128 cursor frames a second.) Once your room runs, give it the same test:
# `run_costs(load_exercise("backpressure").Room, 8003)`. A working room prints at most
# 1.0 serialisations per broadcast (0.3 for seed 8003: throttled cursor moves are not
# formatted at all), next to no store queries, and a few KiB owed at most.

# %% [markdown]
# ## Broadcast cost against room size
#
# Each message of a room goes to every member who may read it. Done naively, that is one
# permission query and one `json.dumps` per member, per message: the cost of a message
# grows with the room. Done right, it is one query (a cached permission per user, or one
# query for all readers) and one serialisation, then the same bytes for everyone. Below,
# both against a real SQLite store, for rooms of 10 to 10,000 members:

# %% tags=["nbval-ignore-output"]
SIZES = [10, 100, 1000, 10000]
costs = [fanout_cost(n, how) for n in SIZES for how in ("per recipient", "once")]
for c in costs:
    print(f"{c.members:>6} members, {c.how:<13}: {c.ms_per_broadcast:8.2f} ms, "
          f"{c.queries_per_broadcast:6.0f} queries, {c.encodes_per_broadcast:6.0f} dumps")
display(plot_fanout(costs))
print(lesson.describe_fanout(costs))
naive, once = costs[-2], costs[-1]
assert naive.queries_per_broadcast == 10000 and once.queries_per_broadcast == 1
assert naive.ms_per_broadcast > 2 * once.ms_per_broadcast, "once is cheaper, by far"

# %% [markdown]
# At the largest size the naive broadcast makes one query per member and one
# serialisation per member who may read (nine in ten here), for one message; at ten
# messages a second, multiply by ten, from one room. Once is once, whatever the size:
# the remaining cost is the loop itself, which grows with the room but only by a
# dictionary lookup and an append per member. A
# permission cache must be refreshed when a permission changes, or a revoked user keeps
# reading the room: the grader checks both.

# %% [markdown]
# **Try it**: change `SIZES` to `[10, 30, 100, 300, 1000]` and predict the per-member
# cost on the last line before you run it: is it the same at every size (a straight
# line on the plot) or does it grow? Compare with the figure printed above for 10,000.

# %% [markdown]
# ## Cursors at 120 Hz
#
# A mouse fires a move event up to 120 times a second, more on fast screens. Sent as they
# come, a cursor costs every viewer 120 messages a second per person moving. Products
# throttle: one position per 50-100 ms (Liveblocks' default is 100 ms), or one per
# animation frame. A throttle must do two things right: send the **first** move after a
# pause at once (no lag when someone starts moving), and always send the **last**
# position (or the cursor stops short of where the mouse stopped). Here is one seeded
# mouse, five seconds of bursts, to one viewer:

# %%
INTERVAL = 0.05
rows = [cursor_traffic(policy, interval=INTERVAL)
        for policy in ("every move", "sample every interval", "drop inside interval")]
print(*rows, sep="\n")
print(lesson.describe_cursors(rows))

# %% [markdown]
# Sending every move costs every viewer a message per move (120 a second while the
# mouse moves) for no visible gain. Sampling every `INTERVAL` cuts that to a fraction
# (the last two lines), at a mean lag of about half the interval, and ends where the
# mouse ended. Dropping the moves that come inside the interval is as cheap, but the
# viewer's cursor freezes short of the real one: the final position never arrives. The
# exercise asks for the best of both: the first move at once, then at most one per
# interval, and the newest held-back position sent when the interval is over.

# %% [markdown]
# **Try it**: set `INTERVAL = 0.1`, then `INTERVAL = 1 / 60` (one per animation frame),
# and predict the messages per second and the mean lag of sampling each time. (This
# seeded mouse: 6.0 msg/s and 49 ms at 0.1; 32.8 msg/s and 8 ms at 1/60.) Which one would
# you choose for 200 viewers on mobile data?

# %% [markdown]
# ## Your turn
#
# **Build** the `Room` in [exercises/backpressure.py](../exercises/backpressure.py):
# `join`, `leave`, `publish`, `tick`, `permission_changed` and `take`. It is sans-I/O:
# the same object runs in this lesson's live server and in the grader's virtual time.
#
# **Pass criteria**, as the grader measures them over 200 seeded rooms (5-9 clients each:
# fast readers, 2G-slow ones, a paused one, a stopped one, one that vanishes, guests,
# late joiners; bursty chat, live feeds, cursor bursts at 120 Hz, permission changes):
#
# - [backpressure-oom](../references/sharp_edges.md#backpressure-oom): the room never
#   holds more than `max_bytes` (4-8 KiB) per client that is behind, frees a client's
#   outbox when it leaves, and gets every event to fast clients within **50 ms**;
# - [unbounded-message-queue](../references/validations.md#unbounded-message-queue): what
#   a client is sent later, of the frames queued for it at any instant, is at most
#   `max_bytes` **bytes**; no event is ever dropped silently; a client is disconnected
#   only with a code in **4000-4999** and only when its undelivered events exceed half of
#   `max_bytes`; live data ends on its newest value;
# - [cursor-high-frequency](../references/validations.md#cursor-high-frequency): the first
#   move of a burst goes out at once, then at most **one position per
#   `cursor_interval`** (50-100 ms) per cursor, the final position reaches fast clients
#   within the interval plus 30 ms, and every client ends on it;
# - [broadcast-amplification](../references/sharp_edges.md#broadcast-amplification):
#   **one** `encode()` per message;
# - [broadcast-n-queries](../references/validations.md#broadcast-n-queries): at most two
#   store queries per join and per permission change plus **one per broadcast**, whatever
#   the room size, and nothing reaches a user who may not read.
#
# **Run** `python -m rtlab check backpressure` in a terminal (it takes 2-5 s), or
# `await rtlab.check("backpressure")` in the last cell of this section; each failure comes
# with the seed that replays it (`--seed N`), what was expected and what happened, a
# timeline and a hint. Stuck? `python -m rtlab hint backpressure` gives one at a time.
#
# **Time**: 45-90 minutes.
#
# On the way, run your room live: five viewers, a publisher, a mouse at 120 Hz, a reader
# behind a stalled link, a flooder, an oversize frame and a garbage message.

# %% tags=["nbval-ignore-output"]
from rtlab.topics.backpressure.live import room_demo

try:
    learner = load_exercise("backpressure")
    demo = await room_demo(learner.Room, viewers=5)
    print(demo.summary())
    if demo.errors:
        print("Your room is not finished yet; keep going in exercises/backpressure.py.")
except Exception as error:  # a syntax error, a failing import...
    print("Your room could not run:", describe_error(error))

# %% [markdown]
# A finished room gives every viewer every event and the final cursor, and makes at most one
# serialisation per message and one store query per join. The server closes the
# stalled reader with 4000, the flooder with 4029, the oversize frame with 1009 (its
# `max_size`, 16 KiB here) and the garbage with 1007 (this course's convention for a
# frame that is not the protocol's JSON; RFC 6455 defines 1007 for data that does not
# match the message type, and 1008, policy violation, would do as well). And the grade:

# %% tags=["nbval-ignore-output"]
report = await rtlab.check("backpressure")
report

# %% [markdown]
# ## Summary
#
# - A slow client's backlog lives in **your** memory. `broadcast()` never waits (memory
#   grows); `await send()` in a loop waits for the slowest (everyone stalls). Give each
#   client an outbox **bounded in bytes**, drained by its own writer.
# - Decide per kind what happens when it is full: drop the oldest live data, coalesce
#   cursors per key, and disconnect with a 4000-4999 code when events no longer fit, so
#   the client resyncs. Never drop an event silently.
# - A broadcast formats **once** and asks the store **once** (or not at all, from a cache
#   you refresh on every permission change).
# - Throttle cursors to one per 50-100 ms per cursor, first move at once, last position
#   always.
#
# Before you leave, this cell makes sure nothing is left running:

# %%
errors = await rtlab.live.stop_all()
assert not errors, errors
assert not rtlab.live.running(), f"still running: {rtlab.live.running()}"
print("nothing left running")
