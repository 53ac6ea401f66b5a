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
# # WebSocket limits: close codes, `max_size`, keepalive and who may connect
#
# **About 40 minutes** (reading, running the cells and the five **Try it** prompts),
# then about 30 minutes for level 2 of the exercise.
#
# The second half of the WebSocket basics module; the first,
# [WebSocket basics](03-websocket-basics.ipynb), opened the handshake and the frames and
# measured base64 against binary frames. This one is about the edges of a connection:
# how it ends and why, what it refuses, how it notices a dead peer, and who may open one
# at all. On real sockets in this kernel, with `websockets` 17 and a real headless
# Chromium, you will:
#
# - provoke every common close code and see what the other side gets;
# - meet `max_size`, keepalive pings, origin checks and authentication before the
#   upgrade, and what a browser can and cannot do;
# - then make the upload receiver of [exercises/frames.py](../exercises/frames.py) refuse
#   bad messages with the right close code (level 2 of the exercise).
#
# It covers [websocket-message-limits](../references/validations.md#websocket-message-limits).

# %%
import base64
import inspect
import json
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

import rtlab
from rtlab.learner import load_working
from rtlab.live import LiveServer, running, stop_all
from rtlab.live.browser import chromium_path
from rtlab.topics.websocket_basics import lesson, live

# %% [markdown]
# <a id="close-codes"></a>
# ## Close codes and reasons
#
# A clean close is a handshake too: one side sends a close frame with a 2-byte **code**
# and an optional **reason** (at most 123 bytes of UTF-8), the other answers with a
# close frame, then TCP closes. The code is how a peer learns *why*, and it decides what
# a well-written client does next: reconnect, give up, or ask the user to sign in again.
# The ones you will meet (RFC 6455, section 7.4.1, and the
# [IANA registry](https://www.iana.org/assignments/websocket/websocket.xhtml#close-code-number)):
#
# | code | name | who sends it, when |
# |---|---|---|
# | 1000 | Normal Closure | done, all is well: the handler returned |
# | 1001 | Going Away | the server shuts down or restarts, a browser leaves the page |
# | 1002 | Protocol Error | a broken frame (an unmasked client frame, in the first lesson) |
# | 1003 | Unsupported Data | a type of data this endpoint does not accept (e.g. binary where only text is expected) |
# | 1006 | (abnormal) | never sent: what you *see* when TCP died with no close frame |
# | 1007 | Invalid frame payload data | data that does not fit its message type: invalid UTF-8 in a text frame |
# | 1008 | Policy Violation | a rule of yours was broken (when no better code fits) |
# | 1009 | Message Too Big | over the receiver's `max_size` |
# | 1011 | Internal Error | the endpoint that sends it hit a condition it could not handle: either side may send it |
# | 4000-4999 | (yours) | application codes: "token expired", "kicked from room", ... |
#
# Let us provoke each on a live server and look from the client's side. The handler
# below closes on command, raises on command, and otherwise echoes:

# %%
async def commands(ws):
    try:
        async for message in ws:
            if message == "crash":
                raise RuntimeError("a bug in the handler")
            if isinstance(message, str) and message.startswith("close "):
                _, code, reason = message.split(" ", 2)
                await ws.close(int(code), reason)
            elif message == "done":
                return  # the handler returns: websockets closes with 1000
            else:
                await ws.send(message)
    except ConnectionClosed:
        pass  # closed by either side, for a reason the client was told: nothing to log


# %% [markdown]
# Each case opens its own connection, sends one message, and reads until the server
# closes; then the server shuts down under one more client. `MAX_SIZE` is the server's
# `max_size`, in bytes (`lesson.close_code_tour` runs a plain `websockets` server, so
# that the library answers on its own, and keeps its log in a list):

# %%
MAX_SIZE = 1024
CASES = [
    ("handler returns", "done", None),
    ("app closes with 4001", "close 4001 token expired", None),
    ("app closes with 1008", "close 1008 more than 10 messages per second", None),
    ("bad UTF-8 in a text frame", b"\xff\xfe caf\xe9", True),  # bytes sent as a text frame
    ("2 KiB message", bytes(2048), None),
    ("handler raises", "crash", None),
]
tour = await lesson.close_code_tour(commands, CASES, max_size=MAX_SIZE)
print(tour)
tour.check(max_size=MAX_SIZE, oversize=2048)

# %% [markdown]
# What the client sees is the code and the reason, and the kind of exception:
# `ConnectionClosedOK` for 1000 and 1001, `ConnectionClosedError` for everything else. An
# `async for message in ws` loop ends quietly on the first kind and raises the second.
#
# Three things are worth remembering:
#
# - **1011 says "something went wrong here", not whose fault it was.** An exception in a
#   handler becomes 1011 with no reason, so the client cannot tell a bug from its own bad
#   input. And 1011 is not only a server's: the `websockets` library closes with 1011
#   when its keepalive ping goes unanswered, on the server and on the client alike (below,
#   and in the connection-health module). If the *client* sent something wrong, say so
#   with 1007, 1003, 1009 or 1008 and a short reason.
# - **`websockets` checks some things for you**, before your code sees a message:
#   masking (1002), UTF-8 in text frames (1007), `max_size` (1009). What is inside a
#   valid message (JSON, your protocol's rules) is yours to check.
# - **4000-4999 are yours** and carry meaning your client can act on: 4001 "token
#   expired" means "sign in again, do not just reconnect".
#
# A word on 1007. RFC 6455 defines it for data inconsistent with the type of its
# message, its example being invalid UTF-8 in a text message. This course also uses
# 1007 for a text frame that is valid UTF-8 but not the JSON the protocol expects, and
# for a payload whose length differs from the one announced: **that is the course's
# convention**, not the RFC's wording, chosen because it reads "your content is bad" to
# anyone debugging. 1008 (Policy Violation) or a code of your own in 4000-4999 would be
# as defensible; what matters is to pick one, document it, and keep it.

# %% [markdown]
# **Try it**: set `MAX_SIZE = 4096` and re-run the cell. Predict first: which line
# changes, and what does that client see instead of a close? (The 2 KiB message now
# fits: the server echoes it and the connection stays open, "still open after 1 s".
# Every other line stays as it was.)
#
# <a id="max-size"></a>
# ## `max_size`: the limit on what you accept
#
# `websockets` refuses any incoming message above `max_size` bytes, **1 MiB** by
# default, with 1009. It counts the payload after decompression, so a small compressed
# "zip bomb" cannot inflate into gigabytes. A limit is memory you promise each
# connection; raise it only for the endpoints that need it. The boundary is exact, and
# base64 moves a payload across it:

# %%
PAYLOAD = 1024 * 1024  # bytes: exactly the default max_size
server = await LiveServer.start("limits", lesson.echo, server_header=None)  # default max_size
limit = inspect.signature(serve).parameters["max_size"].default
print(f"max_size default: {limit:,} bytes; PAYLOAD: {PAYLOAD:,} bytes")
data = bytes(PAYLOAD)
tries = [("PAYLOAD, binary", data), ("one byte more, binary", data + b"!"),
         ("PAYLOAD, base64 in JSON", json.dumps({"size": PAYLOAD,
                                                 "data": base64.b64encode(data).decode()}))]
for label, message in tries:
    code, reason = await live.send_frames(server.url, [message], settle=0.3)
    size = len(message) if isinstance(message, bytes) else len(message.encode())
    print(f"{label:<23} a message of {size:>9,} bytes -> close {code} {reason}")
    assert code == (1000 if size <= limit else 1009)

# %% [markdown]
# The exact mebibyte passes as bytes; the same data as base64 inside JSON is 1,398,133
# bytes and is refused. (The passing connection was closed by the client itself, with
# 1000, once it had sent its message.)

# %% [markdown]
# **Try it**: what is the largest payload that still fits under the default `max_size`
# as base64 inside JSON? Work it out first (base64 makes 4 characters of every 3 bytes,
# and the JSON around it adds a few more), then set `PAYLOAD` to your answer and re-run.
# (It is 786,411 bytes: exactly 1,048,576 bytes of JSON, which passes; 786,412 makes
# 1,048,580 and gets 1009. Three quarters of the limit is all base64 leaves you.)
#
# <a id="keepalive"></a>
# ## Ping, pong and keepalive
#
# `websockets` sends a **ping** every `ping_interval` seconds and closes the connection
# with 1011 if the **pong** does not come back within `ping_timeout`. Both ends do it,
# and both answer pings automatically: your code never sees them. The defaults:

# %%
defaults = inspect.signature(serve).parameters
for name in ("ping_interval", "ping_timeout", "close_timeout", "max_size", "max_queue",
             "write_limit", "compression"):
    print(f"{name:<14} {defaults[name].default!r}")

# %% [markdown]
# So a dead peer is noticed after 20-40 s, and an idle proxy that cuts connections after
# 30 s never sees one idle for long (the connection-health module is about exactly this).
# Watch it happen, scaled down to `INTERVAL` and `TIMEOUT` of 0.3 s: a raw client reads
# the ping and does *not* answer, as a frozen program would not; a `websockets` client,
# which answers by itself, stays.

# %% tags=["nbval-ignore-output"]
INTERVAL = TIMEOUT = 0.3  # seconds
run = await lesson.keepalive_run(INTERVAL, TIMEOUT)
print(run)
run.check()  # a ping after INTERVAL, a 1011 close TIMEOUT later

# %% [markdown]
# Here 1011 is not a bug: the server gave up on a peer that stopped answering, and said
# so in the reason, "keepalive ping timeout". A `websockets` client whose server stops
# answering closes with the same code and reason. Read the reason, not only the code.
#
# A browser answers pings too (the browser does it, not your JavaScript), but has **no
# API to send one**: a browser client that wants to detect a dead server itself needs
# application-level heartbeats, the subject of the connection-health module.

# %% [markdown]
# **Try it**: set `INTERVAL = 0.5` and `TIMEOUT = 1.0`, and predict the two times
# before you re-run: when does the first ping reach the silent client, and when does
# the close? (About t=0.5 s and t=1.5 s: the close comes `INTERVAL + TIMEOUT` after the
# connection opened. With the defaults, 20 + 20: a dead peer can hold a connection for
# 40 s.)
#
# <a id="authenticating-the-handshake"></a>
# ## Origin checks and authenticating the handshake
#
# A WebSocket is not bound by the browser's same-origin policy: any page, on any site, can
# open one to your server, and the browser attaches your users' cookies unless they are
# `SameSite` (cross-site WebSocket hijacking). Two checks belong on the handshake,
# **before** the upgrade, so that a refused client costs one HTTP response and never gets
# a connection:
#
# - **Origin**: browsers always send the page's origin; `serve(..., origins=[...])`
#   answers 403 to any other. (Non-browser clients can send any Origin they like: this
#   protects your users' browsers, it does not authenticate anyone.)
# - **Who is it**: a session cookie or a token, checked in `process_request`, which can
#   answer 401 instead of upgrading. In a browser, the token cannot go in an
#   `Authorization` header (see below), so it goes in a cookie, in the query string
#   (which ends up in logs: make it short-lived), or in the first message.

# %%
ORIGIN = "https://app.example"
TOKENS = {"s3cr3t-session": "ada"}


def authenticate(conn, request):
    # Runs on the HTTP request, before any upgrade: answer 401 or let it through.
    cookies = lesson.cookies(request.headers.get("Cookie", ""))
    query = parse_qs(urlsplit(request.path).query)
    token = cookies.get("session") or query.get("token", [None])[0]
    if token not in TOKENS:
        return conn.respond(HTTPStatus.UNAUTHORIZED, "sign in first\n")
    return None  # go on with the handshake


async def greet(ws):
    await ws.send(f"welcome, {ws.request.path}")


# %%
server = await LiveServer.start("limits", greet, origins=[ORIGIN], process_request=authenticate,
                                server_header=None)
ATTEMPTS = [  # (who, headers, Origin, path)
    ("a script with the cookie", {"Cookie": "session=s3cr3t-session"}, None, "/"),
    ("another site's page", {"Cookie": "session=s3cr3t-session"}, "https://evil.example", "/"),
    ("our page, no token", {}, ORIGIN, "/"),
    ("our page, session cookie", {"Cookie": "session=s3cr3t-session"}, ORIGIN, "/"),
    ("our page, token in the query", {}, ORIGIN, "/?token=s3cr3t-session"),
]
for label, headers, origin, path in ATTEMPTS:
    outcome = await lesson.try_handshake(server.url + path, origin=origin, headers=headers)
    print(f"{label:<30} -> {outcome}")

# %% [markdown]
# The refusals are plain HTTP responses, before any WebSocket exists; the handler ran
# only for the two clients that passed both checks. Here is what a refused client
# receives on the wire:

# %%
refused = await live.raw_connect(server.port, headers=[("Origin", ORIGIN)])
print(lesson.shown(refused.response))
await refused.close()

# %% [markdown]
# **Try it**: the two checks run in an order. Add an attempt from another site's page
# *without* the cookie, `("another site, no cookie", {}, "https://evil.example", "/")`,
# to `ATTEMPTS`. Will it get 401 or 403? Predict, re-run, and read the order off the
# answer. (It gets 401 "sign in first": `process_request` runs first, and the origin
# check only on the requests it lets through. Either way the page gets no connection.)
#
# <a id="browsers"></a>
# ## What a browser can and cannot do
#
# The browser's `WebSocket` API is small, and its limits shape every protocol that a
# browser speaks:
#
# | | browser `WebSocket` | `websockets` (Python) |
# |---|---|---|
# | custom request headers (`Authorization`, ...) | **no**: only the URL and subprotocols | `additional_headers=` |
# | cookies of the server's site | sent automatically | whatever you add |
# | `Origin` | always, set by the browser, cannot be forged by the page | optional, anything |
# | send a ping, read a pong | **no** (it answers pings by itself) | `await ws.ping()` |
# | text and binary messages | `send(string)`, `send(ArrayBuffer / Blob / typed array)` | `send(str)`, `send(bytes)` |
# | how binary arrives | a `Blob` by default; set `ws.binaryType = "arraybuffer"` | `bytes` |
# | close codes it may send | 1000 or 3000-4999 (else an exception) | any valid code |
# | backpressure | none: `send()` never waits; watch `ws.bufferedAmount` | `await send()` waits above `write_limit` |
# | compression | `permessage-deflate`, negotiated by default | `compression="deflate"` by default |
#
# Rather than take the table on trust, ask a real browser. The next cell starts headless
# Chromium (installed with the course's system packages) on a page served by a live
# server in this kernel. The page response sets an `HttpOnly` session cookie; the page's
# script opens a WebSocket with a token in the URL, sets `binaryType`, uploads JSON
# metadata and a 70,000-byte typed array, tries to close with 1003, and reports what it
# saw; the server answers with a binary message, pings the browser, and closes with 4001.

# %% tags=["nbval-ignore-output"]
if chromium_path() is None:
    print("Chromium is not installed here (apt-get install chromium); the stored output of "
          "this cell shows a run where it was.")
else:
    probe = await live.browser_probe()
    print(lesson.describe_probe(probe))
    lesson.check_probe(probe)  # every row of the table above that a page can show

# %% [markdown]
# The browser sent its `Origin` and the session cookie (which its own script could not
# read: `HttpOnly`), offered `permessage-deflate`, and had no way to add a header, so the
# token rode in the URL. Its `WebSocket` has no `ping` method, yet it answered the
# server's ping by itself. Binary data arrived as an `ArrayBuffer` because the page asked
# for it (the default is `Blob`), and a page may not close with 1003: only 1000 and
# 3000-4999. (`tests/test_frames_browser.py` checks the same facts in CI.)
#
# So a browser client authenticates with a cookie, a short-lived token in the URL, or a
# first message that the server waits for before doing anything else (with a timeout);
# sets `binaryType = "arraybuffer"` before binary data arrives; and checks liveness with
# application messages. In JavaScript, the upload protocol of the exercise looks like this:
#
# ```js
# const ws = new WebSocket(`wss://app.example/upload?token=${shortLivedToken}`);
# ws.binaryType = "arraybuffer";
# ws.onopen = () => {
#   ws.send(JSON.stringify({size: file.size, meta: {name: file.name, type: file.type}}));
#   ws.send(file);  // a File is a Blob: sent as one binary frame, no base64
# };
# ws.onclose = (e) => console.log(e.code, e.reason);  // 1009: too big, 1007: malformed...
# ```
#
# <a id="refusing-bad-uploads"></a>
# ## Refusing bad uploads, with the code that says why
#
# The upload protocol of the first lesson delivers good uploads. A server that accepts
# uploads must also refuse what it cannot take, with the code that says why:
# **1009** for anything over its limit, including an announcement of a payload that would
# be (refused at once, before the bytes arrive); **1003** for a frame of the wrong type at
# that moment (a binary frame nobody announced); **1007** for bad content: invalid UTF-8,
# malformed JSON, a payload whose length is not the one announced (the course's
# convention for the last two, as above). Nothing of a bad message is delivered, and
# other connections never notice
# ([websocket-message-limits](../references/validations.md#websocket-message-limits)).
#
# Here is a working receiver (the course's, fetched by `load_working`: its behaviour, not
# its code) on a live server with a limit of `LIMIT` bytes, and four clients at once: one
# well-behaved (uploads of 0, 1,000 and 65,536 bytes), one announcing 10 MB, one sending
# broken JSON, one sending a payload nobody announced.

# %% tags=["nbval-ignore-output"]
LIMIT = 64 * 1024
demo = await lesson.upload_demo(load_working("frames"), "a working receiver", limit=LIMIT)
print(demo)
demo.check()  # uploads up to LIMIT delivered (inclusive), every other client its own code

# %% [markdown]
# The well-behaved client's three uploads arrived, including one of exactly 64 KiB (the
# limit is inclusive); it closed normally (1000) when it was done. Each misbehaving
# client got its own code, and nothing else moved.

# %% [markdown]
# **Try it**: set `LIMIT = 65_535`, one byte less, and predict before you re-run: what
# does the well-behaved client get delivered, and which code closes it? (0 and 1,000
# bytes delivered, then 1009 at the third *announcement*: the receiver refuses a payload
# it would not take before a single byte of it arrives.)
#
# <a id="your-turn"></a>
# ## Your turn
#
# **Build** (level 2 of 2): in [exercises/frames.py](../exercises/frames.py), make
# `Receiver.receive` refuse bad frames with `("close", code, reason)`, checking in the
# order of the docstring's table: the size first (1009), then whether this frame type is
# expected now (1003), then the content (1007). It must never raise (a crash is the 1011
# of the first table: the client learns nothing of its mistake), and it keeps its state on
# the instance, one per connection. Level 1 (`encode_upload` and delivering good uploads)
# is in [the first lesson](03-websocket-basics.ipynb#Your-turn).
#
# **Pass criteria** (`websocket-message-limits`, 141 scenarios):
# - 140 seeded simulated scenarios: 3-6 connections interleaved frame by frame, a
#   `max_size` of 1, 4 or 64 KiB. Each connection sends 0-3 good uploads (some of exactly
#   `max_size`) and most then one bad frame: too big or announcing too much (1009), a
#   payload nobody announced or a second announcement while a payload is due (1003),
#   text that is not JSON, not the right JSON or not valid UTF-8, or a payload of the wrong
#   length (1007). Per connection: exactly its good uploads delivered, in order; the bad
#   frame gets **one close, at that very frame, with the right code**, nothing delivered
#   with it, and a reason of **at most 123 bytes** of UTF-8; a connection without a bad
#   frame is never closed; an exception counts as a 1011 and fails.
# - 1 live scenario: your `Receiver` (`max_size` 4 KiB) serves one good client (0 B,
#   100 B and exactly 4 KiB) and seven bad ones at once on a real server; each client must
#   see its close code, the good one its three deliveries.
#
# **Run**: `python -m rtlab check frames --level 2` in a terminal, or
# `await rtlab.check("frames", level=2)` in a notebook (a cell below does it);
# `python -m rtlab check frames` grades both levels. Stuck? `python -m rtlab hint frames`.
#
# **Time**: about 30 minutes.
#
# This cell plugs your receiver into the live server above, with the same four clients. A
# receiver that does only level 1 shows what that looks like from the outside: typically
# a 1011 "internal error" wherever it raised, and a 10 MB announcement taken without a
# word.

# %% tags=["nbval-ignore-output"]
learner, problem = lesson.learner_for_live(misbehaving=True)
if problem:
    print("Your receiver is not ready for the live server yet:\n ", problem)
    print("Keep going in exercises/frames.py, then run this cell again.")
else:
    print(await lesson.upload_demo(learner, "your receiver", limit=LIMIT))

# %% [markdown]
# And the grade of level 2. The report shows each check with what was expected and what
# happened; `print(report)` gives the same as text:

# %% tags=["nbval-ignore-output"]
report = await rtlab.check("frames", level=2)
report

# %% [markdown]
# <a id="summary"></a>
# ## Summary
#
# - Close codes say why: 1000/1001 fine; 1003/1007/1009/1008 the other side's mistake
#   (say which, in a reason of at most 123 bytes); 1011 an internal error of whoever sends
#   it, a crash or a keepalive timeout; 4000-4999 your application's.
# - `websockets` defaults: `max_size` 1 MiB (1009 above), a ping every 20 s and 20 s to
#   answer (1011 "keepalive ping timeout"), `permessage-deflate` on.
# - Check `Origin` and authenticate **on the handshake request**, and refuse with 401/403
#   before upgrading.
# - Browsers cannot set headers or send pings; they send cookies and `Origin`, and want
#   `binaryType = "arraybuffer"`.
# - A receiver refuses a bad message at the frame that makes it bad, delivers nothing of
#   it, and never disturbs another connection.
#
# **What comes next.** Connections drop. The
# [reconnection module](04-reconnection.ipynb) makes clients come back without stampeding
# the server: backoff, jitter and the thundering herd.
#
# Before you leave: every server of this notebook is stopped, and this cell makes sure.

# %%
errors = await stop_all()
assert not errors, errors
assert not running(), f"still running: {running()}"
print("nothing left running")
