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
# # Start here
#
# Welcome to a hands-on course in **real-time engineering**: the parts of live,
# connected software that break in production. WebSockets and Server-Sent Events,
# presence ("who is online"), reconnection, heartbeats, message ordering,
# backpressure, and collaborative editing with CRDTs.
#
# Three things set it apart from reading about them:
#
# - **Live servers inside this kernel.** A real WebSocket server starts in one cell
#   and keeps serving while you run the next; clients reach it over real sockets
#   on `127.0.0.1`.
# - **Simulated clients by the thousand.** A seeded, virtual-time network drops,
#   delays and restarts on cue, so hundreds of clients sitting through minutes of
#   outages take seconds of real time, and go the same way every time.
# - **Your own code, graded under real failures.** Each module ends with an
#   exercise. A grader runs your code through hundreds of fault schedules and tells
#   you which one it did not survive, with the seed that replays it.
#
# About 20 minutes: fifteen to read, five for the two **Try it** prompts; its cells
# run in under thirty seconds. Run them from top to bottom with **Shift-Enter**.

# %% [markdown]
# ## Five principles
#
# The course keeps coming back to five ideas, one line each:
#
# 1. **Connections are fragile.** Every connection will drop (deploys, phones
#    switching networks, proxies cutting idle links), so plan the way back in
#    before anything else.
# 2. **Keeping state in sync is harder than moving bytes.** Getting a message from
#    A to B is easy; keeping A and B in agreement while both edit, links drop and
#    messages arrive out of order takes a CRDT (or OT).
# 3. **Presence is eventually consistent.** "Who is online" is always a little out
#    of date: design for that with grace periods, don't pretend it is exact.
# 4. **Backpressure matters.** A slow client must never be able to fill the
#    server's memory: every queue has a bound, and a plan for when it is full.
# 5. **SSE before WebSocket.** When data flows only from server to client, a plain
#    HTTP event stream is simpler and resumes by itself.

# %% [markdown]
# ## The course map
#
# Each module is a lesson notebook, an exercise, its reference solution, and the
# graders that check it. The IDs in the middle column are the course's vocabulary:
# each one has an entry in the references, and a failing check always names one.
#
# - [patterns.md](../references/patterns.md): how to build it (patterns, and the
#   anti-patterns that look fine on a laptop);
# - [sharp_edges.md](../references/sharp_edges.md): what breaks in production, how
#   to recognise it, and why it happens;
# - [validations.md](../references/validations.md): the rules the graders check.
#
# The map is read from `course.toml`, so it is always current:

# %% tags=["nbval-ignore-output"]
from IPython.display import HTML, Markdown, display

from rtlab.lesson_tools import course_map

display(Markdown(course_map()))

# %% [markdown]
# ## How this works: two worlds, one piece of code
#
# The code you write in an exercise runs in two worlds, unchanged:
#
# | | live | simulated |
# |---|---|---|
# | where | real sockets on `127.0.0.1`, in this kernel | a model of the network, in memory |
# | time | the wall clock | virtual: minutes of outage pass in seconds or less |
# | clients | a few to a thousand real connections | hundreds to thousands, all seeded |
# | for | watching your code work, and break | grading: hundreds of seeded fault schedules |
#
# That works because exercise code never reaches for the network or the clock on
# its own: it is handed them. The reconnection exercise, for example, asks for
#
# ```python
# async def stay_connected(connect, backoff, sleep): ...
# ```
#
# In the lesson, `connect` opens a real WebSocket and `sleep` is `asyncio.sleep`;
# in the grader, both belong to the simulation. Same object, same lines of code.
#
# ### A server that lives between cells
#
# The kernel runs an event loop that keeps going between cells, so a server started
# in one cell serves while you read, think and run the next. Start one that echoes
# every message back:

# %%
from websockets.asyncio.client import connect

import rtlab
import rtlab.live


async def echo(connection):
    """Send every message straight back."""
    async for message in connection:
        await connection.send(message)


server = await rtlab.live.LiveServer.start("hello", echo)
print("listening:", server.listening)


# %% [markdown]
# The cell has finished, and the server is still there. Connect a client to it from
# this cell (`proxy=None` keeps a proxy configured on your machine away from
# loopback traffic):

# %%
async with connect(server.url, proxy=None) as client:
    await client.send("hello from another cell")
    print(await client.recv())

print("connections the server accepted:", len(server.arrivals))

# %% [markdown]
# **Try it** (1 minute). Change the text the client sends, and run the cell above twice
# more. Predict the last line first: it counts connections, and each `async with
# connect(...)` opens one, so expect 3 (the stored run shows 1). The server kept
# serving between your runs without being started again.

# %% [markdown]
# Every notebook stops what it starts. `stop()` also raises any error the handler
# hit while serving: errors in background tasks are otherwise easy to miss.

# %%
await server.stop()
print("listening:", server.listening)
assert not rtlab.live.running(), f"still running: {rtlab.live.running()}"

# %% [markdown]
# Three habits keep the kernel, and every server in it, healthy:
#
# - **Never `time.sleep()` in a cell.** It freezes the event loop, and with it every
#   server and client in the kernel. `await asyncio.sleep(1)` waits just as long
#   and lets them run. The same goes for any other blocking call.
# - **`await`, not `asyncio.run()`.** A loop is already running here;
#   `asyncio.run()` refuses to start a second one.
# - **Re-running is safe.** Starting a server named `"hello"` again stops the old
#   one first, so ports and tasks never pile up.

# %% [markdown]
# ## How checks work
#
# Exercises live in `exercises/`, the only folder where you type: small Python files
# with docstrings and `TODO`s (the first is
# [exercises/transports.py](../exercises/transports.py), at the end of module 01). A
# grader does not read your
# code, it runs it: through many seeded fault schedules (servers that restart,
# refuse connections, cut links) while it watches for a property named by a
# validation ID such as `reconnect-without-jitter`. For the first failure of each
# property it reports:
#
# - the **validation ID** and what must hold;
# - the **seed** that replays exactly that run;
# - **expected** against **observed**, and a **timeline** (often with a plot);
# - a **hint**, and a **link** to the entry in `references/` that explains the fix.
#
# Grading runs in a separate process, so code that hangs or crashes cannot take the
# kernel down, and `await` keeps the event loop free while it runs.
#
# Here is a failing check, of module 04's exercise. This variant of the reconnection
# code gets a lot right: its delays double after each failure (0.5 s, 1 s, 2 s, ...)
# up to a cap, and it always comes back. But every client waits exactly as long as
# every other. Its plot zooms (right, shaded) on the busiest seconds of the run:

# %% tags=["nbval-ignore-output"]
VARIANT = "reconnection_exponential_no_jitter"  # a file in tests/known_bad/

no_jitter = await rtlab.check("reconnection", file=f"../tests/known_bad/{VARIANT}.py")
HTML(no_jitter._repr_html_())  # the rich view; in your own cells, `no_jitter` alone shows it

# %% [markdown]
# The faults are seeded, so the verdict is the same on every run and every machine:

# %%
for finding in no_jitter.findings:
    mark = "✓" if finding.passed else "✗"
    print(f"{mark} {finding.id:<28} {finding.status}")

assert no_jitter.failed_ids() == {"reconnect-without-jitter", "websocket-thundering-herd"}

# %% [markdown]
# It comes back, so `missing-reconnection-logic` passes. The jitter check catches
# the lockstep directly, and the herd check shows what it costs: after a restart,
# nearly every client reconnects within the same 100 ms, which is how a server that
# has just come back up gets knocked over again. The reconnection module is about
# exactly this.

# %% [markdown]
# **Try it** (2 minutes). Set `VARIANT = "reconnection_no_cap"` in the cell before
# last: a backoff that doubles forever, with no cap. Predict which of the three IDs
# fail, then re-run both cells. (The assert above will fail: it guards the stored
# run. Expect `missing-reconnection-logic` alone: the delays keep doubling, so after
# a long outage a client waits over a minute (64.8 s in our run) before trying again;
# its delays are random, so the other two pass.) Set it back afterwards.

# %% [markdown]
# Now your own file. Until you have worked on it, every check fails with "still a
# TODO", which is where everyone starts. The first exercise is `transports`
# (module 01):

# %% tags=["nbval-ignore-output"]
mine = await rtlab.check("transports")  # grades ../exercises/transports.py
HTML(mine._repr_html_())

# %% [markdown]
# The same from a terminal, in the course folder (`make check` and `make doctor`
# work too):
#
# ```
# python -m rtlab list                      # the exercises and your progress
# python -m rtlab check transports          # grade one exercise
# python -m rtlab check sse --level 1       # one level of a large exercise
# python -m rtlab check reconnection --seed 100   # replay one seeded run
# python -m rtlab hint transports           # the next hint, one at a time
# python -m rtlab solution transports       # the reference, once your check passes
# python -m rtlab doctor                    # is this machine ready?
# ```
#
# A cell can run them too, with `!` (`sys.executable` is this kernel's Python, the one
# the course is installed in):

# %% tags=["nbval-ignore-output"]
import sys

print("this kernel runs", sys.executable)
# !{sys.executable} -m rtlab list

# %% [markdown]
# `!` waits for the command to finish and blocks the kernel meanwhile: fine for a
# quick command like this one, not while your servers are busy serving.

# %% [markdown]
# ## Is this machine ready?
#
# The environment check takes a second or two. It looks at Python, the pinned
# packages, the Jupyter kernel, loopback sockets and a real WebSocket round trip,
# and lists the optional parts that later modules use (Redis, Chromium, Node.js).
# ✓ is fine, **!** works but read the detail (a missing optional part is only a
# warning), ✗ must be fixed before the course will work. Your rows will differ from
# the stored ones; what matters is that none is ✗.

# %% tags=["nbval-ignore-output"]
from rtlab.doctor import doctor_async

doctor = await doctor_async()
display(doctor)
assert doctor.ok, "Fix the ✗ rows above (the detail column says how), then run this cell again."

# %% [markdown]
# ## Paths through the course
#
# Every lesson says at its top how long it takes (about 30-45 minutes with its **Try
# it** prompts); every exercise says on its challenge card how long to expect (20-60
# minutes). The plans below use those figures and only the modules that are ready.
#
# **On your own.** Follow the map in order, one module per sitting of an hour or two:
# the lesson, then its exercise. Edit the file in `exercises/`, run the check, ask for
# a hint when stuck (`python -m rtlab hint NAME`), and read the reference solution once
# you pass. All ten modules take about 14-17 hours. Your progress stays in `.rtlab/`
# beside the course, so you can stop and pick up later, offline;
# `python -m rtlab list` shows where you are.
#
# **A 90-minute workshop:**
#
# | time | what |
# |---|---|
# | 0:00-0:15 | 00 Start here: the map, a live server, the environment check |
# | 0:15-0:55 | 04 Reconnection lesson: a herd knocks a server over; jitter keeps it up |
# | 0:55-1:25 | the `reconnection` exercise, until its check passes (hints on demand) |
# | 1:25-1:30 | `python -m rtlab report`, and what to do next |
#
# **A one-day workshop** (09:00-17:00, with an hour for lunch and two breaks):
#
# | time | module | what learners do |
# |---|---|---|
# | 09:00 | 00 Start here | the doctor cell on every laptop, the map, a first check |
# | 09:20 | 01 Choosing a transport | lesson (about 35 min), then `transports` (20 min) |
# | 10:15 | break | |
# | 10:30 | 02 Server-Sent Events | lesson (about 45 min), then `sse` levels 1 and 2 (45 min) |
# | 12:00 | lunch | |
# | 13:00 | 04 Reconnection | lesson (about 40 min), then `reconnection` (40 min) |
# | 14:20 | break | |
# | 14:35 | 06 Presence | lesson (about 35 min), then `presence` (45 min) |
# | 15:55 | 09 Collaboration | its first lesson as a closing demo, in the classroom room |
# | 16:45 | hand-in | `python -m rtlab report`; the take-home list |
#
# Take home, in map order: `sse` level 3, 03 WebSocket basics, 05 Connection health,
# 07 Ordering and rooms, 08 Backpressure, the `collab` exercise, 10 Scaling out. A
# slower group moves presence to the take-home list too.
#
# **For instructors.**
#
# - Ask everyone to clone the repository and run `make doctor` before the day. The
#   first run installs the environment (a minute or two); the check itself takes
#   seconds and each ✗ row says what to fix. Run it again on every laptop in the
#   first five minutes. [docs/instructors.md](../docs/instructors.md) has the rest.
# - A laptop that cannot install anything can use Binder (the badge in the README):
#   no install, 1 CPU and 2 GB, which is all the course needs, since every server
#   runs inside the container. Binder ends a session after about ten idle minutes:
#   download your exercise file before a break.
# - Forty laptops at once are fine: every server and every simulated client runs on
#   the learner's own machine, over loopback. There is no shared service to
#   overload, and nothing crosses the workshop Wi-Fi.

# %% [markdown]
# ## Summary
#
# - The course runs real servers inside this kernel and a seeded, virtual-time
#   network beside them; your exercise code runs unchanged in both.
# - The map comes from `course.toml`; every ID links to its entry in `references/`.
# - You type only in `exercises/`. `await rtlab.check("transports")` here, or
#   `python -m rtlab check transports` in a terminal, runs your code under seeded
#   faults and reports the ID, the seed, expected against observed, a timeline, a
#   hint and a reference.
# - In a cell: `await`, never `time.sleep()`; stop what you start.
# - `make doctor` (or the cell above) says whether a machine is ready.
#
# **Next:** open [01-transports.ipynb](01-transports.ipynb), the first module. You
# will run polling, long polling, SSE and WebSocket side by side on real sockets,
# measure what each costs, then write the choice yourself, in
# `exercises/transports.py`.
