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
import asyncio
import itertools
import random
import statistics

import aiohttp
import matplotlib.pyplot as plt

import rtlab
import rtlab.live
from rtlab import course
from rtlab.learner import describe_error, load_module, time_limit
from rtlab.plots import arrival_histograms, peak_in_window
from rtlab.topics.server_sent_events.live import (
    SSEClients,
    SSEServer,
    failing_endpoint,
    resume_demo,
)
from rtlab.wire.sse import EventParser, format_comment, format_event

SCALE = 0.03  # demo clients wait 3 % of the announced retry: (10 s -> 0.3 s)
SEED = 2  # every random draw below is seeded

# The course's reference solution of this module's exercise, for the demos. You will
# write your own; the grader checks it the same way.
Reference = load_module(course.root() / "solutions" / "sse.py", "sse_reference")


def show(text):
    # Stream text as it travels, one line per row; the bar makes blank lines visible.
    for line in text.split("\n")[:-1]:
        print(f"| {line}")


# %% [markdown]
# ## The wire format
#
# An SSE response is `Content-Type: text/event-stream`, UTF-8 text, read line by
# line. Each event is a few `field: value` lines followed by a **blank line**, which
# is what dispatches it. This is the reference `EventLog` of the exercise: `open()` is
# the first text of every stream, `publish()` the text sent for each new event.

# %%
log = Reference.EventLog(capacity=5, epoch="a1")  # a fixed epoch: the ids below never change
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
# reference log with a keep-alive every 0.2 s; we read the raw response for 0.75 s
# while two events are published:

# %% tags=["nbval-ignore-output"]
server = await SSEServer.start("lesson", Reference.EventLog(100, epoch="b7"), keepalive=0.2)
print(server)


async def read_raw(url, seconds, headers=None):
    # The raw bytes of a response for `seconds`; a stream never ends on its own.
    async with (aiohttp.ClientSession(trust_env=False) as http,
                http.get(url, headers=headers or {}) as response):
        chunks = []
        try:
            async with asyncio.timeout(seconds):
                async for chunk in response.content.iter_any():
                    chunks.append(chunk)
        except TimeoutError:
            pass
        return response, b"".join(chunks).decode()


async def publish_later():
    await asyncio.sleep(0.3)
    server.publish("price 101.5")
    server.publish("price 101.7\nvolume 300")


publisher = asyncio.create_task(publish_later())
response, body = await read_raw(server.url, 0.75)
await publisher
print(f"HTTP {response.status}")
for name in ("Content-Type", "Cache-Control", "X-Accel-Buffering"):
    print(f"{name}: {response.headers[name]}")
print()
show(body)
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
# - `Cache-Control: no-cache`: no cache or CDN may store the response or serve it
#   again; it is different for every client and never finished.
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
# First the anti-pattern: a log whose events have no ids and whose streams announce
# no `retry:`. Then the reference log. Same clients, same schedule:

# %% tags=["nbval-ignore-output"]
class NoIds:
    # The anti-pattern: events without ids, streams without retry:, no replay.
    def publish(self, data, event=None):
        return format_event(data, event=event)

    def open(self, last_event_id):
        return ""


SCHEDULE = dict(clients=20, events=60, every=0.01, cut_after=20, time_scale=SCALE)
without_ids = await resume_demo(NoIds(), "no ids, no retry", **SCHEDULE)
with_ids = await resume_demo(Reference.EventLog(100, epoch="c3"), "ids + replay", **SCHEDULE)

for run in (without_ids, with_ids):
    print(run.summary())
fewest, most = min(without_ids.lost_and_duplicated()), max(without_ids.lost_and_duplicated())
lost = f"{fewest[0]}" if fewest == most else f"{fewest[0]} to {most[0]}"
print(f"without ids, each client lost {lost} of {len(without_ids.published)} events")
latencies = with_ids.replay_latencies()
print(f"the replay arrived {statistics.median(latencies) * 1000:.0f} ms after the reconnect "
      f"request (median; slowest {max(latencies) * 1000:.0f} ms)")
sent_back = {a.last_event_id for c in with_ids.clients for a in c.attempts if a.last_event_id}
print(f"Last-Event-ID sent back on reconnect: {sorted(sent_back)}")

assert sum(lost for lost, _ in without_ids.lost_and_duplicated()) > 0
assert all(counts == (0, 0) for counts in with_ids.lost_and_duplicated())


# %% tags=["nbval-ignore-output"]
def received_numbers(client):
    return [(r.t, int(r.data.split()[1])) for r in client.received if r.event == "message"]


fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
for ax, run, colour in zip(axes, (without_ids, with_ids), ("#cf222e", "#1a7f37"), strict=True):
    client = run.clients[0]
    points = received_numbers(client)
    ax.plot([t for t, _ in run.published], range(len(run.published)), color="#d0d7de",
            linewidth=6, label="published")
    ax.plot([t for t, _ in points], [n for _, n in points], "o", markersize=3, color=colour,
            label="received by client 0")
    ax.axvline(run.cut_at, color="#57606a", linestyle=":", linewidth=1)
    back = [a.t for a in client.attempts][1]
    ax.axvline(back, color="#57606a", linestyle="--", linewidth=1)
    ax.annotate(" cut", (run.cut_at, 58), fontsize=8, color="#57606a")
    ax.annotate(" reconnect", (back, 4), fontsize=8, color="#57606a")
    lost = run.lost_and_duplicated()[0][0]
    ax.set_title(f"{run.label}: {lost} lost", fontsize=10, loc="left")
    ax.set_xlabel("time (s)")
    ax.spines[["top", "right"]].set_visible(False)
axes[0].set_ylabel("event number")
axes[1].legend(fontsize=8, frameon=False, loc="upper left")
fig.tight_layout()
plt.show()

# %% [markdown]
# Without ids, every client silently lost the events published while it was away
# (9-12 of 60 each in our runs), and nothing on either side noticed:
# [reconnection-state-loss](../references/sharp_edges.md#reconnection-state-loss).
# The clients even came back *sooner* (the 3 s browser default, scaled), because no
# `retry:` told them to wait.
#
# With ids, each client sent `Last-Event-ID` with the last id it had, and `open()`
# replayed exactly the events after it: 0 lost, 0 duplicated for all 20 clients. The
# replay reached the clients a few tens of milliseconds after their reconnect request
# (a median of 12-72 ms in our runs, with 20 clients reconnecting at once on one busy
# CPU): the gap closes as one burst, the vertical run of dots on the right.
#
# Two details make "exactly once" hold. The server takes the replay and subscribes the
# stream to new events in the same step, with no `await` in between, so an event
# published while the replay is being written is queued, not lost. And the ids are
# *positions in one log*: the replay is "everything after this position", which
# cannot repeat an event the client already has.
#
# ## An id older than the log
#
# A log in memory is bounded (the reference keeps the last `capacity` events), and a
# server restart empties it. A client that comes back with an id whose successors are
# gone cannot be replayed to. Pretending otherwise (replaying what is left) gives it a
# silent gap. The reference log says so instead: an event of type `resync`, with an id
# to resume from once the client has reloaded its state from the source of truth.
# Sans-I/O, so exact:

# %%
log = Reference.EventLog(capacity=5, epoch="a1")
for i in range(12):
    log.publish(f"update {i}")
print("Last-Event-ID a1-9 (the log keeps a1-8 to a1-12): replay")
show(log.open("a1-9"))
print("Last-Event-ID a1-3 (a1-4 .. a1-7 are gone): resync")
show(log.open("a1-3"))

restarted = Reference.EventLog(capacity=5, epoch="d4")  # a new process, a new epoch
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
# for a position in the new log. Live, with a log of only 5 events and the same cut
# as before (about 30 events are published while the clients are away):

# %% tags=["nbval-ignore-output"]
small = await resume_demo(Reference.EventLog(5, epoch="e5"), "a log of 5 events", **SCHEDULE)
print(small.summary())
print("every client was told to reload:", all(
    any(r.event == "resync" for r in c.received) for c in small.clients))
assert small.resyncs() == len(small.clients)

# %% [markdown]
# The missed events are still missing (the log no longer has them), but every client
# *knows*, and can reload. How large to make the log is a trade-off between memory and
# how long a client may stay away: 100 events at 10 per second cover a 10 s blip; a
# log in Redis (see the scaling-out module) can keep hours and survives restarts.
#
# ## Malformed requests
#
# The stream endpoint is public, so it meets garbage: a `Last-Event-ID` that is not an
# id, one that is enormous, a wrong method. Each gets a clear HTTP error, and nobody
# else notices. One client reads the stream meanwhile:

# %% tags=["nbval-ignore-output"]
watcher = await SSEClients.start(server.url, 1, time_scale=SCALE, name="watcher")
await watcher.wait_for(lambda: len(server.streams) == 1)
probes = [
    ("GET", {"Last-Event-ID": "not-an-id"}),
    ("GET", {"Last-Event-ID": "b7-" + "9" * 5000}),
    ("GET", {"Last-Event-ID": "x" * 100_000}),
    ("POST", {}),
]
statuses = []
async with aiohttp.ClientSession(trust_env=False) as http:
    for i, (method, headers) in enumerate(probes):
        server.publish(f"still flowing {i}")
        async with http.request(method, server.url, headers=headers) as answer:
            text = (await answer.text()).strip()
            statuses.append(answer.status)
            shown = {k: (v if len(v) < 20 else f"<{len(v):,} characters>") for k, v in headers.items()}
            print(f"{method} {shown or ''} -> HTTP {answer.status}: {text[:70]}")
await watcher.wait_for(lambda: len(watcher.clients[0].received) == len(probes))
reader = watcher.clients[0]
print(f"the other client meanwhile: {len(reader.received)} events, "
      f"{len(reader.attempts)} connection (never disturbed)")
server.check()  # raises if the log itself had failed
assert statuses == [400, 400, 400, 405]
assert len(reader.received) == 4 and len(reader.attempts) == 1
await watcher.stop()

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
# loop (retry after 0.1 s, forever), then the reference `RetryPolicy` (exponential
# backoff with full jitter: a random wait below 1 s, 2 s, 4 s, ... capped at 30 s).

# %% tags=["nbval-ignore-output"]
CLIENTS, FAILING_FOR = 50, 2.0
flood = (await failing_endpoint(CLIENTS, FAILING_FOR, default_retry_ms=100)).times
polite = (await failing_endpoint(
    CLIENTS, FAILING_FOR, policy=lambda rng: Reference.RetryPolicy(rng), seed=SEED
)).times


def last_second(times):
    return sum(1 for t in times if t > FAILING_FOR - 1)


for label, times in (("retry every 0.1 s", flood), ("RetryPolicy (backoff)", polite)):
    print(f"{label:22} {len(times):5,} requests in {FAILING_FOR} s = "
          f"{len(times) / FAILING_FOR:5.0f} requests/s on average, "
          f"{last_second(times):4} in the last second")
assert last_second(flood) > 3 * last_second(polite), (last_second(flood), last_second(polite))

# %% tags=["nbval-ignore-output"]
fig = arrival_histograms(
    {"retry every 0.1 s": flood, "RetryPolicy: exponential backoff, full jitter": polite},
    start=0, end=FAILING_FOR, bin_width=0.1,
    title=f"Requests at a failing endpoint (HTTP 503), {CLIENTS} clients",
)
plt.show()

# %% [markdown]
# The hand-written loop keeps the flood going for as long as the endpoint fails: about
# 320-430 requests in the last second in our runs (it asks for 500: 50 clients, 10 times
# a second), in waves of the whole crowd at first. That is close to all one CPU could
# serve, as clients and server share it, and every request is one the failing server
# has to accept, parse and answer. With backoff the first moment looks the same (everyone
# failed at once, and everyone's first wait is under 1 s), but the rate falls at every
# step: about 35-45 requests in the last second, and still falling.
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
# Chromium's 3 s) and once by the reference log with `retry: 10000`. Time runs 10
# times faster for these clients (3 s takes 0.3 s), and both run at once for 2 s:

# %% tags=["nbval-ignore-output"]
ENDING = dict(status=200, time_scale=0.1)  # the stream opens, then fails at once
no_retry, with_retry = await asyncio.gather(
    failing_endpoint(CLIENTS, 2.0, log=NoIds(), name="no-retry", **ENDING),
    failing_endpoint(CLIENTS, 2.0, log=Reference.EventLog(10, epoch="f6"), name="retry",
                     **ENDING),
)
for label, run, told in (("no retry: (3 s)", no_retry, 3.0), ("retry: 10000", with_retry, 10.0)):
    wait = statistics.median(run.waits())
    print(f"{label:16} {len(run.times) - CLIENTS:4} reconnects in 2 s; a client waited "
          f"{wait * 1000:4.0f} ms between attempts ({told:g} s at 10x speed: "
          f"{told * ENDING['time_scale'] * 1000:.0f} ms)")
assert statistics.median(with_retry.waits()) > 2 * statistics.median(no_retry.waits())

# %% [markdown]
# The clients waited what they were told, plus the time a reconnect takes (tens of
# milliseconds here, with 100 clients reconnecting together on one CPU): a third of
# the load with `retry: 10000`, for every client at once. A browser honours it on
# every reconnect, so it is the one lever the server holds over every open tab.
#
# Two seconds say little about a real outage, so here are 1,000 clients and a 5-minute
# outage in virtual time: each policy is asked for its next delay again and again
# (sans-I/O: no sockets, no waiting, exact). The first two rows wait a fixed time, as
# `EventSource` does while the server cannot be reached at all (connection refused or
# reset). The last column is how long a client takes, on average, to try again once
# the endpoint works again (at a random moment of the last minute):

# %%
OUTAGE, CROWD = 300.0, 1000


class Fixed:
    # A client that always waits the same time (a browser waits its reconnection time).
    def __init__(self, seconds):
        self.seconds = seconds

    def failed(self, status):
        return self.seconds


def outage(make_policy):
    # Every client fails at t=0 and retries after policy.failed(503); returns each
    # client's attempt times, up to the first one at or after the end of the outage.
    runs = []
    for i in range(CROWD):
        policy, t, times = make_policy(random.Random(SEED * 100_003 + i)), 0.0, [0.0]
        while t < OUTAGE:
            t += policy.failed(503)
            times.append(t)
        runs.append(times)
    return runs


def back_after(runs, start=OUTAGE - 60, end=OUTAGE):
    # Mean wait from the endpoint's recovery to a client's next attempt, the recovery
    # being at a random moment of the last minute: per gap between two attempts, the
    # integral of (next attempt - recovery time) over the part of the gap in that minute.
    total = 0.0
    for times in runs:
        for before, after in itertools.pairwise(times):
            lo, hi = max(before, start), min(after, end)
            if lo < hi:
                total += ((after - lo) ** 2 - (after - hi) ** 2) / 2
    return total / (len(runs) * (end - start))


POLICIES = {
    "fixed 3 s (no retry:)": lambda rng: Fixed(3.0),
    "fixed 10 s (retry: 10000)": lambda rng: Fixed(10.0),
    "backoff 1-30 s, jitter": lambda rng: Reference.RetryPolicy(rng),
}
print(f"{CROWD:,} clients, {OUTAGE / 60:.0f} min of HTTP 503: requests per second")
print(f"{'client':27}{'requests':>9}{'peak, first min':>17}{'peak, last min':>16}"
      f"{'mean, last min':>16}{'back after':>12}")
for label, make_policy in POLICIES.items():
    runs = outage(make_policy)
    attempts = [t for times in runs for t in times if t < OUTAGE]
    first = [t for t in attempts if t < 60]
    last = [t for t in attempts if t >= OUTAGE - 60]
    print(f"{label:27}{len(attempts):>9,}{peak_in_window(first, 1.0):>17,}"
          f"{peak_in_window(last, 1.0):>16,}{len(last) / 60:>16.0f}{back_after(runs):>11.1f}s")

# %% [markdown]
# Read it row by row:
#
# - The hand-written loop of the live run is not in the table: it would make 3,000,000
#   requests, 10,000 every second, for all five minutes.
# - **Fixed delays** keep every client on the same beat: the whole crowd within the
#   same second, every 3 s or every 10 s, to the end. A generous `retry:` divides the
#   load by three compared with the browser default (100 instead of 333 requests per
#   second), which is why the course asks for `retry: 10000` on every stream
#   ([sse-missing-retry](../references/validations.md#sse-missing-retry)); but each
#   wave is still the whole crowd.
# - **Backoff with jitter** starts *harder*: its first waits are short (under 1 s, then
#   under 2 s), so the crowd made 2,288 requests in its worst second. Then it spreads
#   out and slows down: 67 per second on average once the waits reach the 30 s cap (a
#   full-jitter wait is half the cap on average), and never more than 91 in any second
#   of the last minute. Its price is the last column: a long random wait is likely to
#   straddle the recovery, so clients take 10 s on average to come back. The cap sets
#   that trade-off.
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
# for garbage) and the `RetryPolicy`. They are the same interface as the reference
# used above, so your log plugs into this lesson's live server.
#
# Grade it with `await rtlab.check("sse")`, or in a terminal with
# `python -m rtlab check sse`. The grader runs seeded schedules in virtual time with
# browser-like clients that drop and resume, server restarts, log overflow and a
# failing endpoint, and checks
# [sse-missing-retry](../references/validations.md#sse-missing-retry),
# [sse-missing-event-id](../references/validations.md#sse-missing-event-id),
# [reconnection-state-loss](../references/sharp_edges.md#reconnection-state-loss) and
# [sse-retry-flood](../references/sharp_edges.md#sse-retry-flood). Each failure comes
# with the seed that replays it, a timeline and a hint
# (`python -m rtlab hint sse` gives more).
#
# Once it passes (or before, to see what happens), this cell serves your `EventLog` to
# the same 20 clients with the same cut as above. It first tries your log once, so
# code that is unfinished or raises gets a message instead of a broken demo:

# %% tags=["nbval-ignore-output"]
try:
    learner = load_module(course.root() / "exercises" / "sse.py", "sse_learner")
    with time_limit(2, "your EventLog"):
        trial = learner.EventLog(100, epoch="try")
        trial.open(None)
        trial.publish("a first event")
    problem = None
except Exception as error:  # a TODO, a syntax error, a failing import...
    problem = describe_error(error)

if problem:
    print("Your EventLog is not ready for the live server yet:")
    print(" ", problem)
    print("Keep going in exercises/sse.py, then run this cell again.")
else:
    try:
        mine = await resume_demo(learner.EventLog(100, epoch="yours"), "your EventLog",
                                 **SCHEDULE)
        print(mine.summary())
        print("lost/duplicated per client:", sorted(set(mine.lost_and_duplicated())))
    except Exception as error:
        print("Your EventLog raised in the live server:", describe_error(error))

# %% [markdown]
# And the grade. The report shows every check with what was expected and what
# happened; `print(report)` gives the same as text:

# %% tags=["nbval-ignore-output"]
report = await rtlab.check("sse")
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
