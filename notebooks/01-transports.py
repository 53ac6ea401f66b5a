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
# # Choosing a transport: polling, long polling, SSE or WebSocket
#
# A "live" feature needs news to travel from the server to the browser as it
# happens. There are four ways to do that over the web, and each one is the right
# answer somewhere. In this lesson you will:
#
# - run all four side by side in this kernel, on real sockets, delivering the *same*
#   stream of events to ten clients each, and measure what users feel (the delay)
#   and what the server pays (requests, bytes on the wire, CPU) per event;
# - vary the update rate and the audience and watch the costs move;
# - learn when each is right, and write the decision yourself.
#
# It covers [polling-as-realtime](../references/validations.md#polling-as-realtime),
# [Polling Disguised as Real-time](../references/patterns.md#polling-disguised-as-real-time)
# and [WebSocket for Everything](../references/patterns.md#websocket-for-everything);
# at the end you write `choose_transport` in
# [exercises/transports.py](../exercises/transports.py).
#
# About 35 minutes: 25 to read and run (the cells take about 15 s in all), 10 for the
# two **Try it** prompts. The exercise after it takes about 20 minutes more.

# %% [markdown]
# Everything runs in this kernel, on `127.0.0.1`. Each transport's server runs in a
# thread of its own, so that the CPU time of that thread is that server's work and
# nothing else; the 40 clients share the kernel's event loop. Bytes are counted where
# they cross the socket, HTTP headers and WebSocket frame headers included.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

import rtlab
import rtlab.live
import rtlab.topics.transports.lesson as lesson
from rtlab.topics.transports.live import (
    Setup,
    event_stream,
    measure,
    measure_many,
    plot_costs,
    plot_delays,
)

SEED = 1  # every random draw below is seeded: the stream, the clients' polling phases

# %% [markdown]
# ## The same stream, four ways
#
# The stream is what a stock ticker or an ops dashboard would push: small JSON events
# at random moments (Poisson arrivals). Here is the start of the one we will deliver,
# four events a second for three seconds:

# %%
stream = event_stream(SEED, rate=4, duration=3)
print(f"{len(stream)} events; the first three:")
for event in stream[:3]:
    print(f"  at {event.at:5.3f}: {event.payload}")

# %% [markdown]
# Every transport gets these events to each client, in its own way:
#
# | transport | what the client does | what the server does |
# |---|---|---|
# | **polling** | `GET /poll?after=41` every second (each client at its own moment) | answers at once, with whatever is new since event 41, often nothing |
# | **long polling** | the same request, and again as soon as the answer arrives | holds the request until there is news (up to 20 s), then answers |
# | **SSE** | one `GET /events`, read forever | one response that never ends: an `id:`/`data:` block per event |
# | **WebSocket** | one connection, upgraded from HTTP | a text frame per event to every connection (`websockets.broadcast`) |
#
# And this is what one event costs on the wire, once the connection is there. A poll
# or a long poll pays a whole request and response (their headers are measured below);
# SSE pays a few bytes of `id:` and `data:`, plus the chunked encoding's length line;
# a WebSocket frame from the server has a two-byte header:

# %%
from websockets.frames import Frame, Opcode

from rtlab.wire.sse import format_event

payload = stream[0].payload
poll_body = f'{{"next": 1, "events": [{payload}]}}'
sse_block = format_event(payload, event_id="1")
ws_frame = Frame(Opcode.TEXT, payload.encode()).serialize(mask=False, extensions=[])
print(f"payload           {len(payload):3} bytes  {payload}")
print(f"poll answer body  {len(poll_body):3} bytes  + status line and headers")
print(f"SSE block         {len(sse_block):3} bytes  {sse_block!r}")
print(f"WebSocket frame   {len(ws_frame):3} bytes  header {ws_frame[:2].hex(' ')} + payload")

# %% [markdown]
# ## How long users wait
#
# Now the real thing: four servers, ten clients each, the stream above. A client
# stamps each event when it has parsed it; the server stamped it when it was
# published; the difference is the delay. Polling clients poll every
# `POLL_INTERVAL` seconds. (About four seconds.)

# %% tags=["nbval-ignore-output"]
POLL_INTERVAL = 1.0  # seconds between a polling client's requests

main = await measure(Setup(rate=4, clients=10, duration=3, poll_interval=POLL_INTERVAL,
                           seed=SEED))
print(main)
plot_delays(main, "The same 12 events to 10 clients per transport: delivery delay")
plt.show()
lesson.check_delays(main)  # every event once; polling ~half an interval; push far quicker
display(Markdown(lesson.delays_in_words(main)))

# %% [markdown]
# Every client got every event exactly once, on all four transports. What differs is
# *when*. With polling, an event waits for the next poll: somewhere between nothing and
# a whole interval, **half an interval on average**, which is what the run measured
# (the cell checks it: a mean between 0.3 and 0.7 intervals, a worst case over 0.7).
# No tuning of the server changes it, because the delay is set by the client's timer,
# not by the event.
#
# The three push transports delivered in milliseconds. Most of that is our 40 Python
# clients taking turns in one process (on a busy machine it grows to tens of
# milliseconds): a browser per user would see about a millisecond on loopback, plus the
# network. Long polling is as quick as the others here because every client was already
# waiting with a request open; the gap between an answer and the next request only
# shows when events come in bursts.

# %% [markdown]
# **Try it** (3 minutes). Set `POLL_INTERVAL = 0.25` and re-run the cell. Predict
# polling's mean delay before you look: half the interval, so about 125 ms, and a
# worst case near 250 ms; the push transports do not move. The `req/event` column of
# polling grows about four times: the trade the next section measures. Set it back to
# `1.0` afterwards.

# %% [markdown]
# ## What each costs
#
# The same four servers, now at three update rates (a quiet dashboard at one event
# a second, a busy one at two a second, a ticker at eight a second) with 10
# clients each, and the quiet one again with 40 clients. The four runs go at once, to
# save time: that spoils their delays (the CPU is shared), but not the counts. (About
# five seconds.)

# %% tags=["nbval-ignore-output"]
RATES = (1, 2, 8)  # events per second, with 10 clients each
AUDIENCE = 40  # clients of the quiet stream's second run

sweep = await measure_many(
    [Setup(rate=rate, clients=10, duration=3, seed=SEED) for rate in RATES]
    + [Setup(rate=RATES[0], clients=AUDIENCE, duration=3, seed=SEED)]
)
by_rate, crowd = sweep[:-1], sweep[-1]
plot_costs(by_rate, title="Cost per delivered event, 10 clients per transport")
plt.show()
print(lesson.cost_table(by_rate))
lesson.check_costs(by_rate, quiet=by_rate[0], crowd=crowd)  # the claims of the prose below
display(Markdown(lesson.costs_in_words(quiet=by_rate[0], busy=by_rate[-1], crowd=crowd)))

# %% [markdown]
# Read the panels from left to right, with the figures of this run above them.
# **Polling** makes the same number of requests whatever happens, so per event it is
# expensive when the stream is quiet (more than one request per event, and many empty
# answers) and cheap when it is busy (one poll carries several events). What never gets
# cheaper is the delay: half an interval, at every rate.
#
# **Long polling** pays one request and one response per delivery: about one request
# and a few hundred bytes per event, several times SSE's bytes (the cell checks more
# than 2.5 times at the busiest rate), and more server CPU per event: every event is a
# full HTTP exchange. Only an event that arrives while the next request is on its way
# shares an answer with another, which is why it dips towards one request per event
# as the rate climbs.
#
# **SSE and WebSocket** pay one request per client for the whole run (here 3-4 s; over
# an hour it rounds to nothing) and then only the event itself: a few dozen bytes over
# the payload, and the least server CPU. The WebSocket frame's two-byte header is a
# little smaller than SSE's `id:` and `data:` lines plus the chunk length line; the
# difference is a dozen bytes.
#
# The audience is the other axis. Quadruple the clients while the stream is quiet and
# polling's server load quadruples with them; long polling's too, one request per
# client per event; SSE and WebSocket open one stream per client and then ask for
# nothing.

# %% [markdown]
# **Try it** (4 minutes). Set `AUDIENCE = 80` and re-run the cell. Predict the last
# line first: polling's requests double again compared with 40 clients (about 8 times
# the 10-client run: every client asks once a second), long polling's too; SSE and
# WebSocket show 80, one per client. Then try `RATES = (1, 2, 32)`: polling's requests
# per event at 32/s fall to about 1/32 of a poll per event (near 0.03-0.05), while its
# delay stays half an interval.

# %% [markdown]
# ## Polling disguised as real-time
#
# A view that re-fetches on a timer and calls itself "live" is the anti-pattern
# [Polling Disguised as Real-time](../references/patterns.md#polling-disguised-as-real-time)
# ([polling-as-realtime](../references/validations.md#polling-as-realtime)). You have
# now measured both of its costs:
#
# - **the delay is set by the interval, not by the event**: half of it on average, all
#   of it at worst (the runs above);
# - **the load grows with the audience, not with the news**: every client asks every
#   interval, and while little happens many answers are empty (60 a minute per client
#   when nothing happens at all, at one poll a second).
#
# Shortening the interval trades one for the other. Polling is still the right answer
# when nobody is waiting: a nightly report, a parcel's status, a weather widget. Poll
# every minute or every few, with plain cacheable requests and nothing held open.
#
# ## WebSocket for everything
#
# The opposite mistake is reaching for a WebSocket for every live feature
# ([WebSocket for Everything](../references/patterns.md#websocket-for-everything)). A
# WebSocket is the only one of the four on which the *client* talks as cheaply as the
# server, and it carries binary frames; for chat, collaborative editing, cursors and
# games it is the right tool. But most live features only ever push one way:
# notifications, feeds, dashboards, progress bars, an AI answer streamed token by
# token. For those, SSE measured the same delay and nearly the same bytes, and it is
# plain HTTP: the browser's `EventSource` reconnects by itself and resumes from
# `Last-Event-ID`, while with a WebSocket the heartbeats, reconnection, resume and the
# proxy configuration for the upgrade are all yours to write (the next modules show
# how much that is).
#
# Long polling is the fallback for paths that let nothing else through: proxies that
# block the upgrade and buffer streaming responses. It delivered as fast as the
# others, at about a request and a few hundred bytes per event. Socket.IO starts every connection
# with it for that reason, and upgrades when it can.
#
# ## Choosing
#
# | the feature | users wait? | who talks | transport |
# |---|---|---|---|
# | nightly report, parcel status, weather widget | no (minutes are fine) | server | **polling**, every minute or few |
# | dashboard, notifications, ticker, progress bar, streamed answer | yes | server | **SSE** |
# | the same, binary payloads (samples, images) | yes | server | SSE (base64) or a **WebSocket** |
# | chat with typing indicators, editor, cursors, game | yes | both, continuously | **WebSocket** |
# | any push, on a path that passes plain HTTP only | yes | either | **long polling** |
#
# The exercise asks you to write that table as code, and its grader explains, for
# each feature it gets wrong, what the wrong answer would cost.

# %% [markdown]
# ## Your turn
#
# Open [exercises/transports.py](../exercises/transports.py). Its docstring gives the
# four rules in full; write `choose_transport(needs)`, which gets a `Needs` (does the
# client stream messages too, how soon users notice a delay, updates per minute,
# clients, binary payloads, plain-HTTP-only path) and returns `"polling"`,
# `"long-polling"`, `"sse"` or `"websocket"`.
#
# > **Build** `choose_transport(needs)` in `exercises/transports.py`: the table above,
# > as code.
# >
# > **Pass criteria** (what the grader measures): all 216 profiles answered with an
# > acceptable transport: 16 named features (a dashboard, chat, a collaborative editor,
# > notifications, a stock ticker, multiplayer cursors, a nightly report...) and 200
# > seeded random ones, whose users notice a delay within 10 s or only after 120 s.
# > Any answer below what a profile needs fails
# > [polling-as-realtime](../references/validations.md#polling-as-realtime); any
# > above it fails
# > [WebSocket for Everything](../references/patterns.md#websocket-for-everything); a
# > name outside the four, an exception or a hang fails both.
# >
# > **Run** `python -m rtlab check transports` in a terminal, or
# > `await rtlab.check("transports")` in the cell below. Each failure names the feature,
# > your answer, the acceptable ones and what yours would cost.
# >
# > **Time** about 20 minutes.
#
# Your answers for the named features, as your file stands:

# %% tags=["nbval-ignore-output"]
from rtlab.learner import describe_error, load_exercise
from rtlab.topics.transports.sim import NAMED

try:
    learner = load_exercise("transports")
    for profile in NAMED:
        print(f"{profile.feature:<38} {learner.choose_transport(learner.Needs(**profile.fields()))}")
except Exception as error:
    print("Not yet:", describe_error(error))

# %% [markdown]
# And the grade (`python -m rtlab check transports` in a terminal says the same):

# %% tags=["nbval-ignore-output"]
report = await rtlab.check("transports")
report

# %% [markdown]
# ## Summary
#
# - Polling delays every event by half an interval on average (measured above) and
#   costs a request per client per interval whatever happens; right
#   when nobody is waiting, wrong when anyone is (**Polling Disguised as Real-time**).
# - Long polling pushes in milliseconds over plain request/response HTTP, at a full
#   request and response per delivery (several times SSE's bytes per event): the
#   fallback for paths that let nothing else through.
# - SSE pushes one way over one endless HTTP response: milliseconds, a few bytes per
#   event, reconnection and resume built into the browser. The default for
#   server-to-client features.
# - A WebSocket is for features where the client talks too, or payloads are binary;
#   everything around it (heartbeats, reconnection, resume, proxies) is yours
#   (**WebSocket for Everything**).
#
# **What comes next.** SSE is only as good as its resume: the next module,
# Server-Sent Events that resume, adds event ids, `retry:`, replay after
# `Last-Event-ID`, and what to do when a client comes back too late for the log.
#
# Before you leave: every server and client of this notebook is already stopped, and
# this cell makes sure.

# %%
errors = await rtlab.live.stop_all()
assert not errors, errors
assert not rtlab.live.running(), f"still running: {rtlab.live.running()}"
print("nothing left running")
