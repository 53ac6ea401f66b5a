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
# # Capstone: one app, every fault at once
#
# *About 40 minutes to read, run and try things; the exercise after it takes 1-3 hours.*
#
# Each module fixed one way real-time apps break. Production breaks them all in the same
# afternoon: a deploy while Redis restarts, a phone on a dying link, a proxy that cuts
# quiet sockets, a slow reader, then every server down and everyone back at once. Here
# the course's parts run together as one collaborative board (a room with chat, edits and
# cursors): your **Backoff** (module 04), **Heartbeat** (05), **PresenceTracker** (06),
# ordering **Client** (07), backpressure **Room** (08), behind 2-3 servers that share
# a Redis backplane (10). In this lesson you will:
#
# - read and edit a **chaos schedule**, and replay it in virtual time with dozens of tabs;
# - swap one part for its sharp-edged twin and see which account goes wrong;
# - run the same glue live: in-kernel servers behind a real HAProxy with a real
#   `redis-server`, a dashboard updating while it runs, and the account at the end.
#
# The grade is end to end: every ID of the earlier modules, judged on what users saw.

# %% tags=["nbval-ignore-output"]
import random

import rtlab
import rtlab.live
from rtlab.learner import load_working
from rtlab.plots import peak_in_window
from rtlab.topics.capstone.live import Dashboard, account_of, missing_parts, run_schedule, start_app
from rtlab.topics.capstone.sim import Fault, Schedule, account, assemble, print_account, run

LONG_RUN = False  # True: a 60 s live run with 30 tabs (about 80 s in all)
working = load_working("capstone")  # the course's assembly: its behaviour, not its code
absent = missing_parts()
print(absent or "redis-server and haproxy are installed: the live run happens below")

# %% [markdown]
# ## The chaos schedule
#
# A schedule is a list of `Fault` entries: when, what, to whom, for how long. Every kind
# the grader uses is here once. Tabs are `t0`, `t1`...; servers `s1`, `s2`. The proxy
# in front cuts any link silent for 3 s, and the outage ends with a join storm.

# %%
SCHEDULE = [
    Fault(3.0, "restart", "s1", seconds=1.5),       # crash: no goodbye, back 1.5 s later
    Fault(6.5, "redis-restart", seconds=1.0),       # announcements lost, the log kept
    Fault(7.0, "slow-client", "t5", seconds=8.0),   # reads 1 KiB/s
    Fault(10.0, "half-open", "t2 t3"),              # links go silent, nobody told
    Fault(13.5, "idle", seconds=4.0),               # nobody types: only heartbeats flow
    Fault(18.0, "deploy", "s2", seconds=1.0),       # 1001 going away, new version
    Fault(21.5, "blip", "t6 t7"),                   # links drop, both ends told
    Fault(25.0, "quit", "t8 t9"),                   # tabs vanish without a goodbye
    Fault(28.5, "outage", seconds=1.5, storm=8),    # every server down, then 8 newcomers
]
for fault in SCHEDULE:
    print(fault.describe())

# %% [markdown]
# ## Replay it in virtual time
#
# The simulator runs the same `AppServer` and `AppClient` objects the live servers run,
# on a seeded virtual network: 16 tabs, 2 servers, 40 s, in well under a second. The
# account counts what users would notice.

# %%
SEED, TABS = 7, 16
schedule = Schedule(SEED, ["s1", "s2"], TABS, SCHEDULE, until=40.0)
result = account(run(working, schedule))
print_account(result)

# %% [markdown]
# Zero everywhere that matters: no edit or chat message lost or shown twice, no ghost, no
# flicker, no link cut by the idle proxy. The recovery column is the time after a fault
# *ended* until every tab it dropped heard its server again: 0 when they found the other
# server before the fault was over. The half-open tabs needed the heartbeat's 2 s to
# notice, and the outage's tabs their jittered backoff.

# %% [markdown]
# **Try it**: add `Fault(33.0, "restart", "s2", seconds=3.0)` to `SCHEDULE` and re-run both
# cells. Predict first: does any tab lose an edit made while it was reconnecting? (It keeps
# unconfirmed posts and sends them again; the log ignores an id it already has.)

# %% [markdown]
# ## One sharp edge at a time
#
# `assemble` swaps a name of the assembly. First module 06's sharp edge, a presence
# tracker without a grace period; then module 04's, a backoff whose random source always
# returns the top of its range (jitter gone).

# %%
presence_part = working.presence_part
no_grace = assemble(working, make_presence=lambda: presence_part.PresenceTracker(0.0, 4.0))
print("flicker events without a grace period:",
      account(run(no_grace, schedule))["flicker events"])

# %%
class NoJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b  # always the ceiling: every dropped tab waits exactly as long


def no_jitter_tab(user, room, rng, now):
    return working.AppClient(user, room, NoJitter(), now)


trace = run(assemble(working, AppClient=no_jitter_tab), schedule)
outage = [t for t, tab in trace.attempts if 28.5 <= t < 30.5]
print(f"attempts in the outage's busiest 50 ms: {peak_in_window(outage, 0.05)}")

# %% [markdown]
# Without grace, every blip, deploy and crash announces people gone and back. Without
# jitter, the tabs the outage dropped retry in lockstep: the same instant, every round.

# %% [markdown]
# **Try it**: give the tracker `grace=1.0` instead of 0: which faults still flicker, and
# why does a crash (server gone, presence kept until the TTL) behave unlike a blip?

# %% [markdown]
# ## Live: HAProxy, Redis, two servers, a dashboard
#
# Now on real sockets: `redis-server` and `haproxy` started by the course on loopback,
# two in-kernel servers behind HAProxy (its tunnel timeout is the 3 s idle proxy), and
# tabs that type. The short run takes about 20 s; set `LONG_RUN = True` above for 60 s.

# %% tags=["nbval-ignore-output"]
LIVE = [Fault(2.0, "restart", "s1", 1.0), Fault(4.0, "redis-restart", "", 1.0),
        Fault(6.0, "half-open", "t2"), Fault(7.0, "idle", "", 3.5),
        Fault(8.0, "quit", "t3"), Fault(11.0, "outage", "", 1.0, storm=4)]
seconds, tabs = (60.0, 30) if LONG_RUN else (13.0, 12)
app = await start_app(working, servers=2) if absent is None else None
dashboard = Dashboard()
dashboard

# %% tags=["nbval-ignore-output"]
if app is not None:
    await run_schedule(app, LIVE, tabs=tabs, seconds=seconds, settle=5.0, on_sample=dashboard)
    live = account_of(app)
    print_account({**live, "error": None})
    assert live["edits lost"] == live["messages lost"] == live["messages duplicated"] == 0
    assert live["ghosts"] == 0, live
    assert all(r is not None and r < 8.0 for _, r in live["recovery"]), live["recovery"]
else:
    print(f"The live run needs redis-server and haproxy: {absent}")

# %% [markdown]
# The live figures move from run to run (that is why this cell checks its claims rather
# than its printout): in the short run typically 40-80 posts from 16 tabs, zero lost,
# zero shown twice, no ghost, and every fault healed a few seconds after its end (about
# 2-3 s here; the cell checks under 8 s). A restart costs the dropped tabs
# one round trip to the other server; the outage costs the jittered backoff.

# %% [markdown]
# ## Your turn
#
# **Build** the glue in [exercises/capstone.py](../exercises/capstone.py): pick your
# parts (`use("presence", "mine")` or `"reference"` for one you skipped), then write
# `make_presence`, `AppServer` and `AppClient`, sans-I/O, as their docstrings say.
#
# **Pass criteria**, as the grader measures them over 60 seeded chaos schedules (2-3
# servers, 10-14 tabs plus a join storm of 6-8, every fault of this lesson in each):
#
# - zero edits and zero chat messages lost, none shown twice or out of order;
# - a first join shows some history; a message reaches other servers' tabs **within 1 s**;
# - nobody announced gone **less than 2 s** after a working link; a vanished tab off the
#   list **within 8 s**; a half-open link replaced **within 5 s**; no idle-proxy cut;
# - of the tabs dropped together, **at most 80%** try again within the same 50 ms;
# - a slow reader costs a server **at most 32 KiB**; every tab back **within 5 s** of
#   each fault's end.
#
# **Run** `python -m rtlab check capstone` in a terminal, or `await rtlab.check("capstone")`
# below (about 5-10 s); a failure names the seed (`--seed N` replays it), the earlier
# module's ID and a timeline across all servers. `python -m rtlab hint capstone` helps.
#
# **Time**: 1-3 hours.

# %% tags=["nbval-ignore-output"]
report = await rtlab.check("capstone")
report

# %% [markdown]
# **What comes next.** That is the course. Keep the chaos schedule: it is a test you can
# point at your own app.
#
# Before you leave: every server, proxy and Redis this notebook started is stopped here.

# %%
errors = await rtlab.live.stop_all()
assert not errors, errors
assert not rtlab.live.running(), f"still running: {rtlab.live.running()}"
print("nothing left running")
