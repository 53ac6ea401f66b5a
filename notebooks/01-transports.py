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

# %% [markdown]
# Everything runs in this kernel, on `127.0.0.1`. Each transport's server runs in a
# thread of its own, so that the CPU time of that thread is that server's work and
# nothing else; the 40 clients share the kernel's event loop. Bytes are counted where
# they cross the socket, HTTP headers and WebSocket frame headers included.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
from websockets.frames import Frame, Opcode

import rtlab
import rtlab.live
from rtlab.topics.transports.live import (
    TRANSPORTS,
    Setup,
    event_stream,
    measure,
    measure_many,
    plot_costs,
    plot_delays,
)
from rtlab.wire.sse import format_event

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
# published; the difference is the delay. Polling clients poll every second. (About
# four seconds.)

# %% tags=["nbval-ignore-output"]
main = await measure(Setup(rate=4, clients=10, duration=3, poll_interval=1.0, seed=SEED))
print(main)
plot_delays(main, "The same 12 events to 10 clients per transport: delivery delay")
plt.show()

for t in TRANSPORTS:
    s = main[t]
    assert (s.delivered, s.duplicates, s.missing) == (s.events * s.clients, 0, 0), t
polling = main["polling"]
assert 0.3 <= polling.delay_ms("mean") / 1000 <= 0.7, "1 s polling: about 0.5 s mean delay"
assert polling.delay_ms("max") > 700, "some events wait nearly a whole interval"
for t in ("long-polling", "sse", "websocket"):
    assert main[t].delay_ms("mean") < polling.delay_ms("mean") / 4, f"{t} pushes at once"

# %% [markdown]
# Every client got every event exactly once, on all four transports. What differs is
# *when*. With polling, an event waits for the next poll: somewhere between nothing and
# a whole interval, **half an interval on average**. The run stored here measured a
# mean of 536 ms and a p95 of 966 ms for 1 s polling, what that argument predicts; no
# tuning of the server changes it, because the delay is set by the client's timer, not
# by the event.
#
# The three push transports delivered in milliseconds (stored run, on a busy machine:
# means of 13-18 ms, p95 32-39 ms; on an idle one we measured 4-7 ms). Most of that is
# our 40 Python clients taking turns in one process: a browser per user would see
# about a millisecond on loopback, plus the network. Long polling is as quick as the
# others here because every client was already waiting with a request open; the gap
# between an answer and the next request only shows when events come in bursts.
#
# Shortening the poll interval shrinks the delay in proportion and multiplies the
# requests by the same factor. That is the trade the next section measures.

# %% [markdown]
# ## What each costs
#
# The same four servers, now at three update rates (a quiet dashboard at one event
# a second, a busy one at two a second, a ticker at eight a second) with 10
# clients each, and the quiet one again with 40 clients. The four runs go at once, to
# save time: that spoils their delays (the CPU is shared), but not the counts. (About
# five seconds.)

# %% tags=["nbval-ignore-output"]
sweep = await measure_many([
    Setup(rate=rate, clients=clients, duration=duration, seed=SEED)
    for rate, clients, duration in ((1, 10, 3), (2, 10, 3), (8, 10, 3), (1, 40, 3))
])
by_rate = [m for m in sweep if m.setup.clients == 10]
plot_costs(by_rate, title="Cost per delivered event, 10 clients per transport")
plt.show()

print("per delivered event       requests          bytes on the wire   server CPU (us)")
print("update rate:          " + "".join(f"{m.setup.rate:>6g}/s" for m in by_rate) * 3)
for t in TRANSPORTS:
    print(f"{t:<14}" + "".join(f"{m[t].requests_per_event:8.2f}" for m in by_rate)
          + "".join(f"{m[t].bytes_per_event:8.0f}" for m in by_rate)
          + "".join(f"{m[t].cpu_us_per_event:8.0f}" for m in by_rate))

quiet, crowd = sweep[0], sweep[3]
print(f"\nWhile the stream is quiet ({quiet.setup.rate:g} per second), each polling client "
      f"gets {quiet['polling'].idle_per_minute_per_client:.0f} empty answers a minute.")
print(f"Requests at the server during the quiet run ({quiet['polling'].events} events), "
      "10 -> 40 clients:")
for t in TRANSPORTS:
    print(f"  {t:<13} {quiet[t].requests:4} -> {crowd[t].requests:4}")

slow, busy = by_rate[0], by_rate[-1]
assert slow["polling"].requests_per_event > 1.0, "quiet: more polls than events"
assert slow["polling"].idle_per_minute_per_client > 10, "quiet: many polls come back empty"
assert busy["polling"].requests_per_event < 0.5, "busy: a poll carries several events"
for m in by_rate:
    assert m["sse"].requests == m["websocket"].requests == 10, "one request per client, ever"
    assert m["long-polling"].requests_per_event > 0.6, "long polling: a request per answer"
    assert m["long-polling"].bytes_per_event > 1.5 * m["sse"].bytes_per_event
assert busy["long-polling"].bytes_per_event > 2.5 * busy["sse"].bytes_per_event
per_client = [m["polling"].requests_per_second / m.setup.clients for m in (quiet, crowd)]
assert 0.6 < per_client[1] / per_client[0] < 1.6, "polling's load grows with the audience"

# %% [markdown]
# Read the panels from left to right. **Polling** makes the same number of requests
# whatever happens, so per event it is expensive when the stream is quiet (stored run:
# 1.3 requests and 470 bytes per event at one event a second, with 27 empty answers
# per client per minute) and cheap when it is busy (0.17 requests and 120 bytes per
# event at eight a second: one poll carries several events). What never gets cheaper
# is the delay: half an interval, at every rate.
#
# **Long polling** pays one request and one response per delivery: about one request
# and 400 bytes per event, three to four times SSE's bytes, and more server CPU per
# event at every rate (334 against 105 us at eight a second in the stored run; 1.6 to 4
# times SSE's across our runs): every event is a full HTTP exchange. Only an event that arrives while the next request is on its way
# shares an answer with another, which is why it dips below one request per event as
# the rate climbs.
#
# **SSE and WebSocket** pay one request per client for the whole run (here 3-4 s; over
# an hour it rounds to nothing) and then only the event itself: at eight a second, 98
# and 81 bytes per event for a 62-byte payload, and the least server CPU. The
# WebSocket frame's two-byte header is a little smaller than SSE's `id:` and `data:`
# lines plus the chunk length line; the difference is a dozen bytes.
#
# The audience is the other axis. Quadruple the clients while the stream is quiet and
# polling's server load quadruples with them (38 to 154 requests for the same 3
# events); long polling's too, one request per client per event; SSE and WebSocket
# open one stream per client and then ask for nothing.

# %% [markdown]
# ## Polling disguised as real-time
#
# A view that re-fetches on a timer and calls itself "live" is the anti-pattern
# [Polling Disguised as Real-time](../references/patterns.md#polling-disguised-as-real-time)
# ([polling-as-realtime](../references/validations.md#polling-as-realtime)). You have
# now measured both of its costs:
#
# - **the delay is set by the interval, not by the event**: half of it on average, all
#   of it at worst (the stored run: 536 ms mean, 995 ms worst for 1 s polling);
# - **the load grows with the audience, not with the news**: every client asks every
#   interval, and while little happens many answers are empty (27 a minute per client
#   at one event a second; 60 a minute when nothing happens at all).
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
# others, at a request and 400 bytes per event. Socket.IO starts every connection
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
# The grader asks about 16 named features (a dashboard, chat, a collaborative editor,
# notifications, a stock ticker, multiplayer cursors, a nightly report...) and 200
# seeded random profiles. An answer below what a feature needs fails
# [polling-as-realtime](../references/validations.md#polling-as-realtime); one above it
# fails [WebSocket for Everything](../references/patterns.md#websocket-for-everything).
# Each failure names the feature, your answer, the acceptable ones, and the cost of
# yours, worked out from the profile's numbers.
#
# Your answers for the named features, as your file stands:

# %% tags=["nbval-ignore-output"]
from rtlab import course
from rtlab.learner import describe_error, load_module
from rtlab.topics.transports.sim import NAMED

try:
    learner = load_module(course.root() / "exercises" / "transports.py", "transports_learner")
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
# - Polling delays every event by half an interval on average (measured: 0.54 s for
#   1 s polling) and costs a request per client per interval whatever happens; right
#   when nobody is waiting, wrong when anyone is (**Polling Disguised as Real-time**).
# - Long polling pushes in milliseconds over plain request/response HTTP, at a full
#   request and response per delivery (three to four times SSE's bytes per event): the
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
