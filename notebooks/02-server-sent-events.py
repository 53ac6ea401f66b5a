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
# # Server-Sent Events that resume
#
# Server-Sent Events (SSE) is server push over one plain HTTP response that never
# ends. In the browser it is `EventSource`, which reconnects by itself when the
# stream drops and tells the server the id of the last event it received. Whether
# that reconnect *recovers* what happened meanwhile is up to the server. In this
# lesson you will:
#
# - read the wire format raw: `id:`, `event:`, multi-line `data:`, comments, `retry:`;
# - run a real SSE server in this kernel with 20 clients, cut every stream, and count
#   what was lost or duplicated, without event ids and with them;
# - see what a server should do when a client's id is older than its log (resync),
#   how it tells clients to stop (HTTP 204), and what a malformed request gets;
# - point 50 clients at a failing endpoint, without backoff and `retry:` and with
#   them, and measure the request rate the server has to absorb.
#
# It covers [sse-missing-retry](../references/validations.md#sse-missing-retry),
# [sse-missing-event-id](../references/validations.md#sse-missing-event-id),
# [sse-retry-flood](../references/sharp_edges.md#sse-retry-flood),
# [reconnection-state-loss](../references/sharp_edges.md#reconnection-state-loss) and
# [SSE with Event IDs for Resume](../references/patterns.md#sse-with-event-ids-for-resume);
# at the end you write the endpoint logic yourself in
# [exercises/sse.py](../exercises/sse.py).
#
# About 45 minutes: 35 to read and run (the cells take about 20 s in all), 10 for the
# **Try it** prompts. The exercise, in three levels, takes about an hour more.

# %% [markdown]
# Everything runs in this kernel on `127.0.0.1`: the server is
# [aiohttp](https://docs.aiohttp.org/) (`rtlab.topics.server_sent_events.live.SSEServer`), the clients are
# aiohttp clients reading the stream with the course's parser (`rtlab.wire.sse.EventParser`,
# which follows the same WHATWG rules as a browser). **Time is scaled down** where
# waiting would be dull: the demo clients wait 3 % of the reconnection time the server
# announces, so `retry: 10000` (10 s) becomes 0.3 s. The flood of HTTP errors runs
# in real time.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

import rtlab
import rtlab.live
import rtlab.topics.server_sent_events.lesson as lesson
import rtlab.topics.server_sent_events.live as sse_live
from rtlab.learner import load_working
from rtlab.plots import arrival_histograms
from rtlab.topics.server_sent_events.lesson import Fixed, NoIds, show
from rtlab.topics.server_sent_events.live import SSEClients, SSEServer, resume_demo
from rtlab.wire.sse import EventParser, format_comment

SCALE = 0.03  # demo clients wait 3 % of the announced retry: (10 s -> 0.3 s)
SEED = 2  # every random draw below is seeded

# A working EventLog and RetryPolicy, for the demos: what they do, not how (writing them is
# the exercise). Your own go through the same server and the same grader.
Working = load_working("sse")

# %% [markdown]
# ## The wire format
#
# An SSE response is `Content-Type: text/event-stream`, UTF-8 text, read line by
# line. Each event is a few `field: value` lines followed by a **blank line**, which
# is what dispatches it. This is a working `EventLog` of the exercise: `open()` is
# the first text of every stream, `publish()` the text sent for each new event.

# %%
log = Working.EventLog(capacity=5, epoch="a1")  # a fixed epoch: the ids below never change
stream = log.open(None)  # a first visit: no Last-Event-ID
stream += log.publish("hello")
stream += log.publish("two lines\nof data", event="chat")
stream += format_comment("keep-alive")
stream += log.publish("bye")
show(stream)

# %% [markdown]
# Reading it the way a browser does (`EventParser` follows the WHATWG rules that
# `EventSource` implements):

# %%
parser = EventParser()
for event in parser.feed(stream):
    print(f"event type {event.event!r:9} lastEventId {event.id!r:7} data {event.data!r}")
print(f"reconnection time: {parser.retry} ms; Last-Event-ID on the next reconnect: "
      f"{parser.last_event_id!r}")

# %% [markdown]
# What each line did:
#
# - `retry: 10000` sets the client's **reconnection time** in milliseconds: how long
#   it waits after the stream drops before it tries again. Without it, Chromium waits
#   3 s and Firefox 5 s.
# - `id: a1-1` sets the **last event id**. It persists: the browser sends it back in a
#   `Last-Event-ID` header when it reconnects, and that is the whole resume mechanism.
# - `event: chat` sets the type (`source.addEventListener("chat", ...)` in
#   JavaScript); without it the type is `message`.
# - Each `data:` line adds one line of data; the client joins them with `\n`. Data
#   with line breaks must be split into several `data:` lines: a raw line break would
#   end the field, and an empty line would end the event.
# - A line starting with `:` is a **comment**. Clients ignore it; servers send one
#   every 15 s or so to keep a quiet stream from looking dead to proxies (see the
#   connection-health module's
#   [websocket-proxy-timeout](../references/sharp_edges.md#websocket-proxy-timeout)).
# - A blank line dispatches the event. An event cut off before its blank line is
#   dropped by the client, so a server always finishes what it starts.
#
# ## A live stream in the kernel
#
# `SSEServer` is a thin shell around an event log: `GET /events` answers with the
# stream headers, then `log.open(Last-Event-ID)`, then whatever `server.publish()`
# sends, with a comment after every `keepalive` seconds of silence. Here it serves the
# working log with a keep-alive every 0.2 s; we read the raw response for 0.75 s
# while two events are published:

# %% tags=["nbval-ignore-output"]
import asyncio

server = await SSEServer.start("lesson", Working.EventLog(100, epoch="b7"), keepalive=0.2)


async def publish_later():
    await asyncio.sleep(0.3)
    server.publish("price 101.5")
    server.publish("price 101.7\nvolume 300")


publisher = asyncio.create_task(publish_later())
response, body = await lesson.read_raw(server.url, 0.75)
await publisher
print(f"HTTP {response.status}")
for name in ("Content-Type", "Cache-Control", "X-Accel-Buffering"):
    print(f"{name}: {response.headers[name]}")
show("\n" + body)
assert response.headers["Content-Type"].startswith("text/event-stream")
assert body.count(": keep-alive") >= 2 and len(EventParser().feed(body)) == 2


# %% [markdown]
# The retry line comes first, the keep-alive comments fill the silences, and the
# events arrive the moment they are published.
#
# ### Headers that keep proxies out of the way
#
# A stream only works if nothing between server and browser holds it back:
#
# - `Cache-Control: no-cache`: a cache may store the response but must revalidate it
#   with the server before every reuse, so no cache or CDN answers a client with an old
#   copy of the stream (RFC 9111, 5.2.2.4). `no-store` would forbid storing it at all
#   (5.2.2.5); some servers send both.
# - `X-Accel-Buffering: no`: nginx buffers upstream responses by default
#   (`proxy_buffering on`), and a buffered stream can sit in the proxy until a buffer of
#   a few KB fills or the response ends. Your 40-byte events would then arrive in
#   clumps, seconds or minutes late. This response header turns buffering off for this
#   one response, without touching the proxy's configuration (nginx documents it; some
#   other proxies honour it too).
# - Compression middleware buffers too: do not gzip `text/event-stream` (or make
#   sure it flushes after each event).
# - The keep-alive comments: proxies and load balancers close connections that
#   carry nothing for 30-60 s.
#
# ## Cut and resume with Last-Event-ID
#
# Now 20 clients read the stream while the server publishes `update 0`,
# `update 1`, ... every 10 ms. After 20 events it **cuts every stream** (a network
# blip: the connections are reset) and keeps publishing. The clients reconnect by
# themselves, as `EventSource` does.
#
# First the anti-pattern, `NoIds`: a log whose events have no ids and whose streams
# announce no `retry:`. Then the working log. Same clients, same schedule:

# %% tags=["nbval-ignore-output"]
SCHEDULE = dict(clients=20, events=60, every=0.01, cut_after=20, time_scale=SCALE)
without_ids = await resume_demo(NoIds(), "no ids, no retry", **SCHEDULE)
with_ids = await resume_demo(Working.EventLog(100, epoch="c3"), "ids + replay", **SCHEDULE)

for run in (without_ids, with_ids):
    print(run.summary())
lesson.check_resume(without_ids, with_ids)  # no ids: events lost; ids: none lost, none twice
lesson.plot_resume([without_ids, with_ids])
plt.show()
display(Markdown(lesson.resume_in_words(without_ids, with_ids)))

# %% [markdown]
# Without ids, every client silently lost the events published while it was away (the
# figures above), and nothing on either side noticed:
# [reconnection-state-loss](../references/sharp_edges.md#reconnection-state-loss).
# The clients even came back *sooner* (the 3 s browser default, scaled), because no
# `retry:` told them to wait.
#
# With ids, each client sent `Last-Event-ID` with the last id it had, and `open()`
# replayed exactly the events after it: 0 lost, 0 duplicated for all 20 clients (the
# cell checks it). The replay reached the clients within milliseconds to a few tens of
# milliseconds of their reconnect request, 20 clients reconnecting at once on one CPU:
# the gap closes as one burst, the vertical run of dots on the right.
#
# Two details make "exactly once" hold. The server takes the replay and subscribes the
# stream to new events in the same step, with no `await` in between, so an event
# published while the replay is being written is queued, not lost. And the ids are
# *positions in one log*: the replay is "everything after this position", which
# cannot repeat an event the client already has.
#
# ## An id older than the log
#
# A log in memory is bounded (the working log keeps the last `capacity` events), and a
# server restart empties it. A client that comes back with an id whose successors are
# gone cannot be replayed to. Pretending otherwise (replaying what is left) gives it a
# silent gap. The working log says so instead: an event of type `resync`, with an id
# to resume from once the client has reloaded its state from the source of truth.
# Sans-I/O, so exact:

# %%
log = Working.EventLog(capacity=5, epoch="a1")
for i in range(12):
    log.publish(f"update {i}")
print("Last-Event-ID a1-9 (the log keeps a1-8 to a1-12): replay")
show(log.open("a1-9"))
print("Last-Event-ID a1-3 (a1-4 .. a1-7 are gone): resync")
show(log.open("a1-3"))

restarted = Working.EventLog(capacity=5, epoch="d4")  # a new process, a new epoch
print("after a restart, Last-Event-ID a1-12 (another epoch): resync")
show(restarted.open("a1-12"))

for bad in ["not-an-id", "a1-99", "9" * 1000]:
    try:
        log.open(bad)
    except ValueError as error:
        print(f"ValueError: {str(error)[:70]}")

# %% [markdown]
# The epoch in each id is what makes the restart case safe: a new process picks a new
# one, so an id from before the restart is recognisably unknown rather than mistaken
# for a position in the new log. Live, with a log of only `SMALL_LOG` events and the
# same cut as before (about 30 events are published while the clients are away):

# %% tags=["nbval-ignore-output"]
SMALL_LOG = 5  # events the log keeps

small = await resume_demo(Working.EventLog(SMALL_LOG, epoch="e5"), f"a log of {SMALL_LOG}",
                          **SCHEDULE)
print(small.summary())
print(f"clients told to reload: {small.resyncs()} of {len(small.clients)}")
# Whatever the size: each client either has every event once, or was told to reload.
for client, (lost, twice) in zip(small.clients, small.lost_and_duplicated(), strict=True):
    assert (lost, twice) == (0, 0) or any(r.event == "resync" for r in client.received)

# %% [markdown]
# The missed events are still missing (the log no longer has them), but every client
# *knows*, and can reload. How large to make the log is a trade-off between memory and
# how long a client may stay away: 100 events at 10 per second cover a 10 s blip; a
# log in Redis (see [the scaling-out module](10-scaling-out.ipynb)) can keep hours and
# survives restarts.

# %% [markdown]
# **Try it** (3 minutes). Set `SMALL_LOG = 50` and re-run the cell. About 30 events go
# by while the clients are away: predict how many clients are told to reload, and how
# many events they lose. (Expect 0 resyncs, and 0 lost, 0 duplicated for all 20: the
# log now reaches back far enough to replay.) Then try `SMALL_LOG = 25`, near the edge.
#
# ## Malformed requests
#
# The stream endpoint is public, so it meets garbage: a `Last-Event-ID` that is not an
# id, one that is enormous, a wrong method. Each gets a clear HTTP error, and nobody
# else notices. One client reads the stream meanwhile:

# %% tags=["nbval-ignore-output"]
statuses = await lesson.probe_malformed(server, SCALE)
assert statuses == [400, 400, 400, 405]

# %% [markdown]
# The first two are refused by the log itself (`open()` raises `ValueError`, which the
# server turns into 400 with the reason). The 100,000-character header never reaches
# the application: aiohttp's HTTP parser rejects header lines over 8,190 bytes with a
# 400 of its own. A bug in the log (any other exception) would end that one request
# with a 500 and be reported by `server.check()`; other streams carry on.
#
# ## Telling clients to stop with HTTP 204
#
# An `EventSource` reconnects forever, as long as each reconnect succeeds. To make it
# stop, answer the reconnect with **204 No Content**: the browser closes the
# `EventSource` for good (`readyState` 2). Here the server ends five streams and
# answers 204 from then on:

# %% tags=["nbval-ignore-output"]
leaving = await SSEClients.start(server.url, 5, time_scale=SCALE, name="leaving")
await leaving.wait_for(lambda: len(server.streams) == 5)
server.tell_clients_to_stop()
await leaving.wait_for(lambda: all(c.stopped for c in leaving.clients))
asked = len(server.requests)
await asyncio.sleep(0.4)  # more than a reconnection time (0.3 s) at this scale
print("why each client stopped:", sorted({c.stopped for c in leaving.clients}))
print(f"requests in the 0.4 s after: {len(server.requests) - asked}")
assert len(server.requests) == asked and all(c.stopped == "HTTP 204" for c in leaving.clients)
await leaving.stop()
await server.stop()

# %% [markdown]
# ## What browsers do
#
# The course's tests drive a real headless Chromium against this server
# (`tests/test_sse_browser.py`): its `EventSource`, with `retry: 500`, reconnected
# 503-545 ms after the stream was cut, sent `Last-Event-ID` equal to the last id it had
# received, got the missed events exactly once, and stopped for good on 204. The facts
# worth knowing:
#
# - Reconnection time without `retry:`: Chromium 3 s, Firefox 5 s.
# - `EventSource` reconnects after a **network error or a stream that ends**. Any
#   non-200 status, or a wrong `Content-Type`, closes it for good: a 503 from an
#   overloaded server makes every open tab give up until the page reloads. 204 is the
#   polite way to do it on purpose.
# - `Last-Event-ID` is sent only on reconnects of the same `EventSource`. A reloaded
#   page starts without one; pass the id yourself, for example as a query parameter
#   (`/events?lastEventId=...`, which `SSEServer` also accepts).
# - Over HTTP/1.1 a browser opens at most 6 connections per host, and every open
#   `EventSource` holds one: the seventh tab's stream waits. HTTP/2 multiplexes them
#   over one connection.
#
# ## The retry flood
#
# `EventSource` retries at a fixed interval and gives up on HTTP errors; a client you
# write yourself does whatever you wrote. The classic is a loop that catches the error
# and tries again a moment later. Here 50 such clients meet an endpoint that answers
# every request with **503** for 2 s (in real time, no scaling): first the hand-written
# loop (retry after `RETRY_MS`, forever), then the working `RetryPolicy` (exponential
# backoff with full jitter: a random wait below 1 s, 2 s, 4 s, ... capped at 30 s).

# %% tags=["nbval-ignore-output"]
CLIENTS, FAILING_FOR = 50, 2.0
RETRY_MS = 100  # the hand-written loop's wait after each error

flood = (await sse_live.failing_endpoint(CLIENTS, FAILING_FOR, default_retry_ms=RETRY_MS)).times
polite = (await sse_live.failing_endpoint(
    CLIENTS, FAILING_FOR, policy=lambda rng: Working.RetryPolicy(rng), seed=SEED
)).times
fig = arrival_histograms(
    {f"retry every {RETRY_MS} ms": flood, "RetryPolicy: exponential backoff, full jitter": polite},
    start=0, end=FAILING_FOR, bin_width=0.1, colours=["#cf222e", "#1a7f37"],
    title=f"Requests at a failing endpoint (HTTP 503), {CLIENTS} clients",
)
plt.show()
display(Markdown(lesson.flood_in_words(flood, polite, FAILING_FOR, CLIENTS, RETRY_MS)))

# %% [markdown]
# The hand-written loop (red) keeps the flood going for as long as the endpoint fails,
# in waves of the whole crowd at first. It makes fewer requests than it asks for because
# clients and server share one CPU: that is close to all it could serve, and every
# request is one the failing server has to accept, parse and answer. With backoff
# (green) the first moment looks the same (everyone failed at once, and everyone's
# first wait is under 1 s), but the rate falls at every step, and is still falling.
#
# **Try it** (3 minutes). Set `RETRY_MS = 500` and re-run the cell. Predict the loop's
# requests in the last second: 50 clients twice a second, so about 100 (the
# backoff's stay where they were). A gentler fixed retry helps, but the crowd still
# arrives in waves; only randomness spreads it.
#
# ### When the stream itself keeps failing
#
# `retry:` cannot help against a 503: the browser gives up, and your own client never
# reads a body. It matters when the stream *opens* and then fails: the thing behind it
# is down, and the server does what
# [sse-retry-flood](../references/sharp_edges.md#sse-retry-flood) recommends, an
# `error` event and a clean end of the response. `EventSource` then reconnects after
# its reconnection time, again and again. Here 50 browser-like clients meet such an
# endpoint, once served by a log that announces no `retry:` (the clients fall back on
# Chromium's 3 s) and once by the working log with `retry: 10000`. Time runs 10
# times faster for these clients (3 s takes 0.3 s), and both run at once for 2 s:

# %% tags=["nbval-ignore-output"]
import statistics

ENDING = dict(status=200, time_scale=0.1)  # the stream opens, then fails at once
no_retry, with_retry = await asyncio.gather(
    sse_live.failing_endpoint(CLIENTS, 2.0, log=NoIds(), name="no-retry", **ENDING),
    sse_live.failing_endpoint(CLIENTS, 2.0, log=Working.EventLog(10, epoch="f6"), name="retry",
                     **ENDING),
)
for label, run, told in (("no retry: (3 s)", no_retry, 3.0), ("retry: 10000", with_retry, 10.0)):
    wait = statistics.median(run.waits())
    print(f"{label:16} {len(run.times) - CLIENTS:4} reconnects in 2 s; a client waited "
          f"{wait * 1000:4.0f} ms between attempts ({told:g} s at 10x speed: "
          f"{told * ENDING['time_scale'] * 1000:.0f} ms)")
assert statistics.median(with_retry.waits()) > 2 * statistics.median(no_retry.waits())

# %% [markdown]
# The clients waited what they were told, plus the time a reconnect takes (the gap
# between the two figures of each row: 100 clients reconnect together on one CPU).
# Over a long outage, waiting 10 s instead of 3 s means under a third of the
# reconnects, for every client at once; the two seconds above show fewer still, since
# most `retry: 10000` clients had not yet come back a second time. A browser honours
# `retry:` on every reconnect, so it is the one lever the server holds over every open
# tab.
#
# Two seconds say little about a real outage, so here are 1,000 clients and a 5-minute
# outage in virtual time: each policy is asked for its next delay again and again
# (sans-I/O: no sockets, no waiting, exact). The first two rows wait a fixed time, as
# `EventSource` does while the server cannot be reached at all (connection refused or
# reset). The last column is how long a client takes, on average, to try again once
# the endpoint works again (at a random moment of the last minute):

# %%
OUTAGE, CROWD = 300.0, 1000
CAP = 30.0  # the backoff's longest wait, in seconds

POLICIES = {
    "fixed 3 s (no retry:)": lambda rng: Fixed(3.0),
    "fixed 10 s (retry: 10000)": lambda rng: Fixed(10.0),
    f"backoff 1-{CAP:g} s, jitter": lambda rng: Working.RetryPolicy(rng, cap=CAP),
}
rows = lesson.outage_table(POLICIES, crowd=CROWD, outage=OUTAGE, seed=SEED)

# %% [markdown]
# Read it row by row. The hand-written loop of the live run is not in the table: it
# would make 3,000,000 requests, 10,000 every second, for all five minutes.

# %%
display(Markdown(lesson.outage_in_words(rows)))

# %% [markdown]
# **Try it** (3 minutes). Set `CAP = 10.0` and re-run the two cells above. Predict the
# backoff row: waits average half the cap once they reach it, so about
# 1,000 / 5 = 200 requests per second in the last minute (instead of about 67), and
# clients back a few seconds after the recovery instead of about 10. A smaller cap buys
# a quicker recovery with more load while the outage lasts.
#
# The server side of the fix is in
# [sse-retry-flood](../references/sharp_edges.md#sse-retry-flood): announce a
# generous `retry:`, and when something behind the stream fails, send an error event
# and end the response cleanly instead of crashing mid-stream; answer 204 to clients
# that should not come back.
#
# ## Summary
#
# - An SSE event is `id:`, `event:`, one `data:` line per line of data, and a blank
#   line; `:` lines are comments (keep-alives); `retry:` sets the reconnection time in
#   ms.
# - Give **every event an id** and keep a bounded log: a reconnecting client sends
#   `Last-Event-ID`, and the server replays exactly what it missed (0 lost, 0
#   duplicated above, replayed within tens of milliseconds). Without ids the gap is
#   silent.
# - When the id is older than the log, or from before a restart, say so: a `resync`
#   event, not a silent gap. A new epoch per process makes old ids recognisable.
# - Stream headers: `text/event-stream`, `Cache-Control: no-cache`,
#   `X-Accel-Buffering: no` (no proxy buffering), a comment every 15 s or so.
# - Announce `retry: 10000`; answer 204 to stop a client; expect browsers to give up
#   on any other error status.
# - Your own clients back off exponentially with jitter, capped (30 s), reset once a
#   stream opens: a retry loop without it answers one failure with a flood.
#
# ## Your turn
#
# Open [exercises/sse.py](../exercises/sse.py) and write `format_event`, the
# `EventLog` (`publish` and `open`, with `retry:`, replay, `resync` and `ValueError`
# for garbage) and the `RetryPolicy`. They are the same interface as the working ones
# used above, so your log plugs into this lesson's live server. The exercise comes in
# three levels, each graded on its own; do them in order.
#
# > **Build** in `exercises/sse.py`:
# > 1. *The wire format*: `format_event` (an `id:` line, `event:` when there is a type,
# >    one `data:` line per line of data, a blank line), an id on every event `publish`
# >    returns, and `retry:` at the start of every text `open` returns.
# > 2. *Resume*: `open(last_id)` replays exactly the kept events after `last_id`; when
# >    the log no longer reaches (overflow, or an id from before a restart) one `resync`
# >    event with an id; `ValueError` for ids no log could have issued.
# > 3. *Backoff*: `RetryPolicy.failed(status)`: `None` for 204, else a random wait below
# >    `min(cap, base * 2**failures)`; `opened()` resets it.
# >
# > **Pass criteria** (what the grader measures, in 200 seeded resume scenarios and 20
# > flood scenarios):
# > 1. [sse-missing-retry](../references/validations.md#sse-missing-retry): every
# >    stream (first visits, replays, resyncs) starts with a `retry:` between 1,000 and
# >    60,000 ms; [sse-missing-event-id](../references/validations.md#sse-missing-event-id):
# >    15 payloads (multi-line with LF, CRLF, CR, blank lines, forged `id:` lines,
# >    unicode) read back as exactly one event each, and every event a client receives
# >    has an id of its own that it keeps when replayed.
# > 2. [reconnection-state-loss](../references/sharp_edges.md#reconnection-state-loss):
# >    each client gets every published event exactly once, in order, across cuts
# >    (including cuts mid-event), or a `resync` when the log no longer holds what it
# >    missed (a client missing exactly `capacity` events is replayed, one missing
# >    `capacity + 1` is resynced), never a needless `resync` or an HTTP 400 for an id
# >    the stream gave it.
# > 3. [sse-retry-flood](../references/sharp_edges.md#sse-retry-flood): 50 clients
# >    with `RetryPolicy(rng, base=1, cap=30)`: at most 8 attempts per client in the last
# >    60 s of a 120-180 s outage, no one-second window with more than half of them from
# >    40 s in, every wait at most 45 s, everyone back within 47 s of the recovery and
# >    within 15 s of a short blip ending, nobody back after a 204.
# >
# > **Run** `python -m rtlab check sse --level 1` (then `--level 2`, `--level 3`) in a
# > terminal, or `await rtlab.check("sse", level=1)` in a cell; `python -m rtlab check
# > sse` grades all three. Each failure comes with the seed that replays it, a timeline
# > and a hint (`python -m rtlab hint sse` gives more).
# >
# > **Time** about an hour: 20 minutes per level.
#
# Once it passes (or before, to see what happens), this cell serves your `EventLog` to
# the same 20 clients with the same cut as above. It first tries your log once, so
# code that is unfinished or raises gets a message instead of a broken demo:

# %% tags=["nbval-ignore-output"]
await lesson.serve_your_log(SCHEDULE)

# %% [markdown]
# And the grade of level 1. The report shows every check with what was expected and
# what happened; `print(report)` gives the same as text. Change `level=1` to 2 or 3 as
# you go, or leave it out to grade everything:

# %% tags=["nbval-ignore-output"]
report = await rtlab.check("sse", level=1)
report

# %% [markdown]
# **What comes next.** SSE covers push from server to client, which is most real-time
# features. When the client talks back often (chat, games, collaborative editing), a
# WebSocket carries both directions on one connection: the WebSocket basics module
# looks at its frames, close codes and limits.
#
# Before you leave: every server and client of this notebook is already stopped, and
# this cell makes sure.

# %%
errors = await rtlab.live.stop_all()
assert not errors, errors
assert not rtlab.live.running(), f"still running: {rtlab.live.running()}"
print("nothing left running")
