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
# # WebSocket basics: the handshake, frames, and bytes as bytes
#
# **About 30 minutes** (reading, running the cells and the three **Try it** prompts),
# then about 15 minutes for level 1 of the exercise.
#
# A WebSocket looks like a pipe for messages: `send()` here, `recv()` there. Underneath
# it is an HTTP request that turns into a stream of small binary frames, each with a
# header, an opcode and a length. This lesson opens that pipe, on real sockets in this
# kernel, with the [`websockets`](https://websockets.readthedocs.io/) library (version
# 17, its asyncio API). You will:
#
# - read the opening handshake byte by byte and compute `Sec-WebSocket-Accept` yourself;
# - see text and binary frames on the wire: 2, 4 or 10 bytes of header, and the mask
#   every client frame carries;
# - **measure** what base64 inside JSON costs against a binary frame, in bytes on the
#   wire and in CPU, with and without compression;
# - then write both ends of an upload protocol that sends metadata as JSON and payloads
#   as bytes (level 1 of the exercise [exercises/frames.py](../exercises/frames.py)).
#
# The module continues in [WebSocket limits](03-websocket-limits.ipynb): close codes,
# `max_size`, keepalive, who may connect, what a browser can do, and level 2 of the same
# exercise. This lesson covers
# [websocket-binary-json](../references/validations.md#websocket-binary-json).

# %%
# %matplotlib inline
import base64
import hashlib

import matplotlib.pyplot as plt
from IPython.display import Markdown

import rtlab
from rtlab.learner import load_working
from rtlab.live import LiveServer, running, stop_all
from rtlab.topics.websocket_basics import lesson, live
from rtlab.wire.websocket import header_size

# %% [markdown]
# <a id="handshake"></a>
# ## The opening handshake
#
# A WebSocket starts as an ordinary HTTP/1.1 `GET` asking to *upgrade* the connection.
# Here is one, written by hand on a plain TCP socket (`raw_connect`), to a real
# `websockets` server started in this kernel (`lesson.echo` echoes what it gets). `KEY`
# is the example from RFC 6455 itself; a real client sends 16 fresh random bytes,
# base64 encoded, every time.

# %%
KEY = live.RFC_KEY  # "dGhlIHNhbXBsZSBub25jZQ==", base64 of the 16 bytes "the sample nonce"
server = await LiveServer.start("basics", lesson.echo, server_header=None)
raw = await live.raw_connect(server.port, key=KEY)
print(raw.request.decode().replace("\r\n", "\n"))
print(lesson.shown(raw.response))

# %% [markdown]
# `101 Switching Protocols`: from here on, the same TCP connection carries WebSocket
# frames, not HTTP. The server proved it understood the request (rather than being,
# say, a cache replaying an old answer) by hashing the client's key with a fixed live.GUID
# from the RFC. Compute it yourself:

# %%
digest = hashlib.sha1((KEY + live.GUID).encode()).digest()
print("key + GUID     ", KEY + live.GUID)
print("SHA-1          ", digest.hex())
accept = base64.b64encode(digest).decode()
print("base64         ", accept)
print("server answered", raw.headers()["sec-websocket-accept"])
assert raw.status == 101
assert raw.headers()["sec-websocket-accept"] == live.accept_for(KEY) == accept
await raw.close()

# %% [markdown]
# **Try it**: give the handshake a key of your own:
# `KEY = base64.b64encode(b"my own 16 bytes!").decode()` in the first cell of this
# section. Before you re-run the two cells, predict: will the server's answer still
# be `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`, the RFC's value? Will it still equal your own
# SHA-1 line? (A different value, equal on both lines: the answer depends on the key
# alone, which is why a client sends a fresh one each time.)
#
# Nothing secret happens here: the accept value proves the server speaks WebSocket, not
# that anyone is who they claim. Authentication is a separate job, done on this same
# request ([WebSocket limits](03-websocket-limits.ipynb#Origin-checks-and-authenticating-the-handshake)
# shows how). Note also what the request does *not* have: no `Sec-WebSocket-Extensions`,
# so this connection runs without compression. The `websockets` client, like every
# browser, asks for `permessage-deflate` by default; it will matter when we measure.
#
# <a id="frames"></a>
# ## Text and binary frames on the wire
#
# Every message travels in frames. The first byte holds the FIN bit (last frame of a
# message) and the opcode: `0x1` text, `0x2` binary, `0x8` close, `0x9` ping, `0xA` pong.
# The second byte holds the MASK bit and a 7-bit length; lengths of 126 and more go in 2
# or 8 extra bytes. **Every frame from a client is masked** with 4 random bytes (XORed
# over the payload), so that a malicious page cannot make a browser emit bytes that a
# confused proxy would mistake for HTTP; frames from the server are not.
#
# Here is the RFC's own example: "Hello" from a client, masked with the key `37 fa 21 3d`,
# sent on a raw connection. The server answers with the same message, unmasked:

# %%
raw = await live.raw_connect(server.port)
hello = live.client_frame(0x1, b"Hello", mask_key=bytes.fromhex("37fa213d"))
await raw.send(hello)
answer = await raw.read_frame()
print("client sent ", hello.hex(" "), f"({len(hello)} bytes: 2 header + 4 mask + 5)")
print("server sent ", (answer.header + answer.payload).hex(" "),
      f"({len(answer.header) + len(answer.payload)} bytes: 2 header + 5), {answer.kind}:",
      answer.payload)
assert hello.hex(" ") == "81 85 37 fa 21 3d 7f 9f 4d 51 58"  # RFC 6455, section 5.7

# %% [markdown]
# `0x81` is FIN + text; `0x85` is MASK + length 5; then the mask key and "Hello" XORed with
# it. Now ask the server for binary messages of the sizes in `SIZES`, just below and above
# the two length boundaries, and read their headers off the socket:

# %%
SIZES = (125, 126, 65535, 65536)
await raw.send(live.client_frame(0x1, f"sizes {' '.join(map(str, SIZES))}".encode(), bytes(4)))
for _ in SIZES:
    frame = await raw.read_frame()
    size = len(frame.payload)
    print(f"{frame.kind} message of {size:>7,} bytes: header {frame.header.hex(' '):<29} "
          f"= {len(frame.header):>2} bytes")
    assert len(frame.header) == header_size(size, "server")
print("the same from a client adds the 4-byte mask:", [header_size(n, "client") for n in SIZES])

# %% [markdown]
# **Try it**: add `0`, `127`, `70_000` and `1_000_000` to `SIZES` and, before you re-run
# the cell, write down the header size you expect for each (2, 4 or 10 bytes from the
# server). Then check the length bytes themselves: `7e` says "the next 2 bytes are the
# length", `7f` "the next 8 are".
#
# Two to fourteen bytes of framing per message: for anything but the tiniest messages,
# WebSocket costs next to nothing on the wire. (`rtlab.wire.websocket.header_size` does
# this arithmetic; the grader of this module uses it, and a test checks it against frames
# serialized by `websockets`.)
#
# A server must refuse a client frame that is *not* masked. Send one:

# %%
await raw.send(bytes.fromhex("81 05") + b"Hello")  # no MASK bit
frame = await raw.read_frame()
print(f"{frame.kind} frame: code {frame.close_code}, reason {frame.close_reason!r}")
assert (frame.kind, frame.close_code) == ("close", 1002)
await raw.close()

# %% [markdown]
# A close frame with code 1002, *Protocol Error*: the library refused a broken frame
# before any application code saw it. Close codes are how a peer learns *why*; the next
# lesson provokes all the common ones.
#
# <a id="binary-vs-base64"></a>
# ## Measured: base64 inside JSON against a binary frame
#
# The most common way to send bytes over a WebSocket is to put them in JSON as base64:
# one message, one parser, easy to log. It is also
# [websocket-binary-json](../references/validations.md#websocket-binary-json): base64
# turns every 3 bytes into 4 characters, and both ends spend CPU encoding, escaping and
# parsing a string that JSON was never meant to carry. The alternative is two frames: a
# small JSON text frame with the metadata, then the payload as a binary frame, as is.
#
# Measured here, not assumed: each payload goes both ways over a real connection on
# loopback **through a counting proxy** (`FaultProxy`, which counts every byte it
# forwards: frame headers, masks and all), with compression off. The payloads are seeded
# random bytes (1 KiB, 64 KiB, 1 MiB), a real PNG chart made by matplotlib, and one
# second of a real WAV recording at 16 kHz. CPU is the thread's CPU time around the
# application's own encode (client) and decode (server) calls; "transfer" is the
# process's CPU for the whole exchange, both ends, `websockets` and the proxy included.

# %% tags=["nbval-ignore-output"]
payloads = live.sample_payloads(seed=3)
counts = {name: 10 if len(p) < 200_000 else 3 for name, p in payloads.items()}
results = await live.measure_encodings(payloads, counts=counts)
print(live.table(results))
lesson.check_encodings(results, payloads)  # the proxy's count is the frames' arithmetic, ...

# %% tags=["nbval-ignore-output"]
lesson.plot_encodings(results)
plt.show()

# %% tags=["nbval-ignore-output"]
Markdown(lesson.encoding_findings(results))

# %% [markdown]
# The bytes are the same on every machine (the proxy's counts match the frames'
# arithmetic, as the first cell checks); the CPU figures are this run's, and
# `check_encodings` insists only that base64 cost at least 3 times the binary way's
# encode + decode CPU for every payload of 30 KB or more. Where the figure above comes
# out on your machine is part of the lesson: CPU is the price you pay on *every* message,
# on both ends, for as long as the app runs.
#
# **And with compression?** `permessage-deflate`, on by default in `websockets` and in
# browsers, squeezes base64 back down, since it carries only 6 bits per character. The
# cell below measures it on the payloads in `SQUEEZE`:

# %% tags=["nbval-ignore-output"]
SQUEEZE = {"1 MiB random": payloads["1 MiB random"], "PNG chart": payloads["PNG chart"]}
squeezed = await live.measure_encodings(SQUEEZE, counts={name: 2 for name in SQUEEZE},
                                   compression="deflate")
print(live.table(squeezed))
lesson.check_compression(squeezed, results)
Markdown(lesson.compression_findings(squeezed, results))

# %% [markdown]
# Deflate wins the bytes back and pays for them in CPU, on both ends of every message.
# Random bytes, PNGs and most audio and video are already compressed and gain little.
# Send bytes as bytes, and consider `compression=None` for endpoints that mostly carry
# binary payloads.

# %% [markdown]
# **Try it**: add `"1 MiB of zeros": bytes(1 << 20)` to `SQUEEZE` and predict, before
# you re-run the cell: how many bytes will that mebibyte take on the wire as a deflated
# binary frame? (In our runs: about 1,100 bytes, 0.001 x. Deflate pays off on data that
# repeats itself: JSON, text, logs; not on data that was compressed already.)
#
# <a id="upload-protocol"></a>
# ## An upload protocol: JSON for metadata, binary for payloads
#
# The exercise of this module is a small protocol in that style. Each upload is two
# frames: a text frame announcing `{"size": N, "meta": {...}}`, then exactly N bytes in a
# binary frame. The client side is a function, `encode_upload(meta, payload)`, that
# returns the frames to send. The server side is a per-connection `Receiver` that takes
# frames and returns actions, never touching a socket (sans-I/O), so the same object runs
# in the grader's fast checks and on a real server:
#
# ```python
# receiver = Receiver(max_size=64 * 1024)   # one per connection
# receiver.receive('{"size": 5, "meta": {"name": "hi.txt"}}')   # -> []
# receiver.receive(b"hello")    # -> [("deliver", {"name": "hi.txt"}, b"hello")]
# ```
#
# Here is what a working implementation does on a live server (the course's, fetched by
# `load_working`: you see what it does, not how; writing it is your part). One client
# uploads 0, 1,000 and 65,536 bytes; a proxy counts every byte it sends:

# %% tags=["nbval-ignore-output"]
working = load_working("frames")
demo = await lesson.upload_on_the_wire(working, "a working encode_upload and Receiver")
print(demo)
demo.check()  # all three delivered, at most 1.05 x the payload on the wire

# %% [markdown]
# <a id="your-turn"></a>
# ## Your turn
#
# **Build** (level 1 of 2): in [exercises/frames.py](../exercises/frames.py), write
# `encode_upload(meta, payload)` (a JSON text frame with `size` and `meta`, then the
# payload itself as bytes) and the happy path of `Receiver.receive`: remember the
# announcement, and deliver `("deliver", meta, payload)` when its binary frame arrives.
# Refusing bad frames is level 2, in the next lesson; the docstring has the whole
# protocol.
#
# **Pass criteria** (`websocket-binary-json`, 101 scenarios):
# - 100 seeded simulated scenarios: 1-3 connections, 1-4 uploads each, payloads from
#   0 bytes to just under a `max_size` of 4 KiB, 100 kB or 1 MiB, metadata with unicode,
#   quotes and control characters. Every upload framed by your `encode_upload` comes back
#   exactly, and from 16 KiB up its frames total **at most 1.05 x the payload** on the
#   wire (base64 is 1.33 x, hex 2 x). Your `Receiver` delivers announcements written in
#   several legal JSON styles (compact or spaced, escaped or raw UTF-8, keys in either
#   order, an extra key) exactly once, when the payload arrives.
# - 1 live scenario: a 256-512 KiB upload from your `encode_upload` to your `Receiver` on a
#   real server through a counting proxy, delivered exactly, at most 1.05 x on the wire.
#
# **Run**: `python -m rtlab check frames --level 1` in a terminal, or
# `await rtlab.check("frames", level=1)` in a notebook (a cell below does it). Stuck?
# `python -m rtlab hint frames`.
#
# **Time**: about 15 minutes.
#
# When it passes, this cell runs your own code on the live server, as above:

# %% tags=["nbval-ignore-output"]
learner, problem = lesson.learner_for_live(misbehaving=False)
if problem:
    print("Your code is not ready for the live server yet:\n ", problem)
    print("Keep going in exercises/frames.py, then run this cell again.")
else:
    print(await lesson.upload_on_the_wire(learner, "your encode_upload and Receiver"))

# %% [markdown]
# And the grade of level 1. The report shows each check with what was expected and what
# happened; `print(report)` gives the same as text:

# %% tags=["nbval-ignore-output"]
report = await rtlab.check("frames", level=1)
report

# %% [markdown]
# <a id="summary"></a>
# ## Summary
#
# - The handshake is one HTTP request; `Sec-WebSocket-Accept` proves the server speaks
#   WebSocket and nothing more.
# - Frames cost 2-14 bytes of header; client frames are masked, and a server closes with
#   1002 on one that is not. Text frames must be valid UTF-8; binary frames carry bytes as
#   they are.
# - Base64 inside JSON costs a third more bytes on the wire and several times the CPU
#   (your figures are in the measured cells above); deflate wins the bytes back for more
#   CPU still. Send metadata as JSON, bytes as bytes.
#
# **What comes next**: [WebSocket limits](03-websocket-limits.ipynb), the second half of
# this module: close codes, `max_size`, keepalive pings, origin checks and authentication,
# a real browser, and level 2 of the exercise, a receiver that refuses what it cannot
# take.
#
# Before you leave: every server of this notebook is stopped, and this cell makes sure.

# %%
errors = await stop_all()
assert not errors, errors
assert not running(), f"still running: {running()}"
print("nothing left running")
