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
# # Collaboration, part 2: the sync protocol, live editors and a server that lasts
#
# [Part 1](09-collaboration.ipynb) showed why a CRDT document merges what
# last-write-wins loses. This part puts documents on the wire. You will:
#
# - follow the Yjs sync protocol message by message on a real WebSocket;
# - edit offline and merge;
# - type into live collaborative text areas in this notebook, cut a link and watch it
#   merge back, with a JavaScript Yjs client in the same room;
# - restart the server without losing the room, and see what the course's server adds
#   to pycrdt-websocket's.
#
# It covers [reconnection-state-loss](../references/sharp_edges.md#reconnection-state-loss)
# and [awareness-ghost](../references/validations.md#awareness-ghost); at the end you
# finish the room and client of [exercises/collab.py](../exercises/collab.py) (level 2).
#
# **About 40 minutes**: 30 to read, run and type into the editors, 10 for the
# prompts marked **Try it**. Level 2 of the exercise takes 30 to 45 minutes more.

# %%
# %matplotlib inline
import asyncio
import tempfile

import matplotlib.pyplot as plt
from pycrdt import Awareness, Doc, Text
from websockets.asyncio.client import connect

import rtlab
import rtlab.live
from rtlab.topics.collaboration import SyncClient, SyncServer, lesson
from rtlab.topics.collaboration.lesson import receive, send
from rtlab.topics.collaboration.widgets import text_splice
from rtlab.wire import yjs as protocol

# %% [markdown]
# ## The sync protocol message by message
#
# Yjs clients (the JavaScript `y-websocket` provider, pycrdt's `Provider`, the course's
# `SyncClient`) speak a small binary protocol over one WebSocket per document:
#
# | message | bytes | meaning |
# |---|---|---|
# | sync step 1 | `0 0` + state vector | "here is what I have" |
# | sync step 2 | `0 1` + update | "here is what you lack" (the answer to a step 1) |
# | update | `0 2` + update | a live change |
# | awareness | `1` + states | who is here, names, cursors (not part of the document) |
#
# Both sides send a step 1 when a connection opens, and each answers the other's with a
# step 2; after that, updates flow. Here is the course's sync server (`SyncServer`,
# running a working room of this module's exercise) in the kernel, and ada
# connecting to room `"walkthrough"` **by hand**, one message at a time, with
# `protocol.describe` decoding each one:

# %%
server = await SyncServer.start("collab", record=100)  # records what it sends and gets
OFFLINE_TEXT = "Hello"  # what ada typed before she connected

ada = Doc(client_id=1)
ada.get("text", type=Text).insert(0, OFFLINE_TEXT)
ada_ws = await connect(server.room_url("walkthrough"), proxy=None)
step1 = protocol.parse(await receive("ada", ada_ws))  # the server speaks first
await send("ada", ada_ws, protocol.sync_step2(ada.get_update(step1.payload)))
await send("ada", ada_ws, protocol.sync_step1(ada.get_state()))
await receive("ada", ada_ws)  # the server's answer: nothing she lacks
ada_awareness = Awareness(ada)
ada_awareness.set_local_state({"user": {"name": "ada", "colour": "#0969da"}})
await send("ada", ada_ws, protocol.awareness(ada_awareness.encode_awareness_update([1])))

# %% [markdown]
# The empty room asked with an empty state vector, so ada's step 2 carried all she had
# (an 18-byte update for `"Hello"`); her own step 1 got back an empty update (`00 00`:
# nothing missing). (`send` and `receive` are two small helpers of
# `rtlab.topics.collaboration.lesson` that print each message with
# `protocol.describe`.)

# %% [markdown]
# **Try it**: set `OFFLINE_TEXT = "Hello, world"` and predict the size of ada's step 2
# before you re-run the cell (and the ones after it: bo's side changes too). Measured:
# 25 bytes of update instead of 18, seven more for seven characters: one insert is one
# item, whatever its length. Put `"Hello"` back afterwards.

# %% [markdown]
# Now bo arrives, also by hand, with an empty document. Watch what the room sends him:

# %%
bo = Doc(client_id=2)
bo_ws = await connect(server.room_url("walkthrough"), proxy=None)
step1 = protocol.parse(await receive("bo", bo_ws))  # the room's state vector: {1: 5}
await receive("bo", bo_ws)  # who is already here
await send("bo", bo_ws, protocol.sync_step2(bo.get_update(step1.payload)))
await send("bo", bo_ws, protocol.sync_step1(bo.get_state()))
bo.apply_update(protocol.parse(await receive("bo", bo_ws)).payload)  # what he lacks
print("bo now has", repr(str(bo.get("text", type=Text))))
bo_awareness = Awareness(bo)
bo_awareness.set_local_state({"user": {"name": "bo", "colour": "#cf222e"}})
await send("bo", bo_ws, protocol.awareness(bo_awareness.encode_awareness_update([2])))
await receive("ada", ada_ws)  # relayed to ada: bo is here

# %% [markdown]
# And what reaches ada when he types one character, and when he leaves:

# %%
keystrokes = []
bo.observe(lambda event: keystrokes.append(event.update))
bo.get("text", type=Text).insert(5, "!")  # bo types one character
await send("bo", bo_ws, protocol.sync_update(keystrokes[-1]))
ada.apply_update(protocol.parse(await receive("ada", ada_ws)).payload)  # relayed to ada
print("ada now has", repr(str(ada.get("text", type=Text))))
await bo_ws.close()  # bo leaves: the server tells ada at once
_ = await receive("ada", ada_ws)

# %% [markdown]
# The server recorded the same conversation from its side (`record=100`). As a sequence
# chart (client 1 is ada, client 2 is bo):

# %% tags=["nbval-ignore-output"]
fig = lesson.sync_chart(server, {1: "ada (client 1)", 2: "bo (client 2)"},
                        title="Yjs sync on a real WebSocket: room 'walkthrough'")
plt.show()
await ada_ws.close()

# %% [markdown]
# Three things to notice:
#
# - **Nothing is sent twice.** A newcomer gets a step 2 holding exactly what it lacks
#   (computed from its state vector), and after that only deltas. A client coming back
#   from a long absence does the same exchange and receives only what it missed.
# - **The relay is a delta too**: bo's keystroke is a 13-byte message to ada, whatever
#   the size of the document.
# - **Awareness is separate** from the document. It is a small JSON state per client
#   (a name, a colour, a cursor), kept by a clock per client and not stored with the
#   document. When bo's connection closed, the server announced `2 -> gone` to
#   everyone: without that, ada would see bo's cursor for 30 s, until the awareness
#   timeout ([awareness-ghost](../references/validations.md#awareness-ghost)).

# %% [markdown]
# ## Offline editing
#
# Real clients drop: a train enters a tunnel, a laptop sleeps. With a CRDT the client
# simply keeps editing its own `Doc`; when it comes back, the sync step 1/2 exchange
# sends each side exactly what the other lacks. Here are two `SyncClient`s (the course's
# Python counterpart of y-websocket's provider) on the same server. `cut()` drops bo's
# connection without a close frame, as a dead network would:

# %%
ada = await SyncClient.start(server.room_url("offline"), Doc(client_id=1), name="ada",
                             user={"user": {"name": "ada"}})
bo = await SyncClient.start(server.room_url("offline"), Doc(client_id=2), name="bo",
                            user={"user": {"name": "bo"}})
await ada.wait_synced()
await bo.wait_synced()
ada_text, bo_text = ada.doc.get("text", type=Text), bo.doc.get("text", type=Text)


def same_text():
    return str(ada_text) == str(bo_text)


ada_text += "Shopping: milk, eggs."
await bo.wait_for(same_text)
print(f"both:    {str(bo_text)!r}")

# %% [markdown]
# Now bo goes into a tunnel, and both keep editing:

# %%
bo.cut()  # the tunnel
await bo.wait_for(lambda: not bo.online)
ada_text.insert(len("Shopping: milk,"), " bread,")  # ada, online
bo_text += " Call mum."  # bo, offline: kept in his Doc
bo_text.insert(0, "TODO ")
print(f"ada:     {str(ada_text)!r}")
print(f"bo:      {str(bo_text)!r}  (offline)")

bo.restore()  # out of the tunnel: reconnect, step 1/2 both ways
await bo.wait_synced()
await ada.wait_for(same_text)
print(f"merged:  {str(ada_text)!r}")
assert str(ada_text) == "TODO Shopping: milk, bread, eggs. Call mum."

# %% [markdown]
# Nothing was queued by hand and nothing was lost: bo's `Doc` *is* the queue. On
# reconnect the room's step 1 asked for what it lacked (bo's two offline edits) and
# bo's step 1 asked for what he lacked (ada's "bread"). A client that threw its
# offline edits away, or reset its document on reconnect, would lose them for good:
# [reconnection-state-loss](../references/sharp_edges.md#reconnection-state-loss).
#
# Duplicated or reordered updates after a reconnect are harmless too: updates are
# idempotent and commutative ([part 1](09-collaboration.ipynb#Twice-and-out-of-order)).
#
# ## A live collaborative editor
#
# Three text areas, each bound to its own pycrdt `Doc` and `SyncClient`, syncing
# through the server in this kernel (`rtlab.topics.collaboration.widgets.CollabEditor`). The header
# shows the replica's link and who is there (from awareness); the button cuts and
# restores its link. The cell after this one types into them from code so the stored
# notebook is reproducible; after that, **type in any of them yourself**, cut a link,
# type on both sides, reconnect.

# %% tags=["nbval-ignore-output"]
PEOPLE = [(11, "ada", "#0969da"), (12, "bo", "#cf222e"), (13, "cy", "#1a7f37")]
clients, editors = await lesson.start_editors(server, "editor", PEOPLE)  # a SyncClient each
ada_ed, bo_ed, cy_ed = editors["ada"], editors["bo"], editors["cy"]


async def converged():
    return await lesson.converged(editors, clients["ada"])  # every replica the same


# %%
await clients["ada"].wait_for(lambda: len(ada_ed.people()) == 3)  # everyone is here
print("ada sees:", ", ".join(name for name, _ in ada_ed.people()))
ada_ed.type(0, "Agenda\n1. budget\n")  # what the browser reports: a new value
await converged()
bo_ed.type(len(bo_ed.area.value), "2. hiring\n")
print(repr(await converged()))

# %%
cy_ed.cut()  # cy's link goes down (the button)
await cy_ed.settle()
await clients["ada"].wait_for(lambda: len(ada_ed.people()) == 2)
print("cy is offline; ada sees:", ", ".join(name for name, _ in ada_ed.people()))
cy_ed.type(len("Agenda\n1. budget"), " (final)")  # cy, offline
ada_ed.type(len("Agenda\n"), "0. minutes\n")  # ada, online: bo sees it
await clients["bo"].wait_for(lambda: bo_ed.area.value == ada_ed.area.value)
print("while cy is away, cy has:", repr(cy_ed.area.value))
cy_ed.restore()  # the button again
await cy_ed.settle()
merged = await converged()
print("after reconnecting, all three:", repr(merged))
assert merged == "Agenda\n0. minutes\n1. budget (final)\n2. hiring\n"
_ = await clients["ada"].wait_for(lambda: len(ada_ed.people()) == 3)

# %% [markdown]
# The same room speaks to JavaScript: Yjs in Node.js (`yjs` 13 with y-websocket's
# `WebsocketProvider`, the client a web page would use) joins the editors' room as a
# fourth participant, appears in everyone's header, types a line and leaves. Node.js
# and the npm packages come with the course setup (`make lab` installs them); without
# them the cell says what is missing.

# %% tags=["nbval-ignore-output"]
LINE = "3. interop (typed in JavaScript)\n"
merged = await lesson.javascript_joins(server, "editor", clients["ada"], ada_ed, LINE)
if merged is not None:
    print(repr(merged))
    assert merged.endswith(LINE)

# %% [markdown]
# Each keystroke became one small splice on the shared text (`text_splice` compares
# the old and new value of the text area and keeps the common prefix and suffix), not a
# new copy of the document: otherwise the widget would be last-write-wins again.

# %%
print(text_splice("Agenda\n1. budget\n", "Agenda\n1. budget (final)\n"))

# %% [markdown]
# **Try it**: the editors stay live until the last cell of this notebook stops
# everything. Press **cut link** on bo's editor, then type `X` at the very start of
# bo's text and `Y` at the very end of ada's; predict what all three show after you
# press **reconnect**. Expected: `X` first and `Y` last in all three, within a few
# milliseconds of the reconnect; bo's header shows only him while he is cut off.
# Then type at the *same* place in two editors, one of them cut off, and see which
# goes first.
#
# (One limit of binding a whole-value text area: if a remote change lands in the
# instant you type, the browser's next value can overwrite it; editor bindings such as
# y-codemirror and y-prosemirror work on the editor's own operations for that reason.)
#
# ## Persistence across restarts
#
# A room lives in the server's memory; a deploy or a crash would take every document
# with it, and the next client would find an empty room (while clients that were
# connected still hold the text, so what survives depends on who happens to be online).
# The course's server saves each room (`room.save()`: the whole state, the one place a
# full state belongs) to a file in a store folder, a moment after changes, when the
# room empties and on restart, and reloads it on the next join:

# %%
store = tempfile.mkdtemp(prefix="rtlab-collab-")
durable = await SyncServer.start("collab-durable", store=store)
writer = await SyncClient.start(durable.room_url("minutes"), Doc(client_id=21), name="writer")
await writer.wait_synced()
writer.doc.get("text", type=Text).insert(0, "Monday: ship the sync server.")
await writer.wait_for(lambda: durable.rooms["minutes"].save() != b"\x00\x00")
await writer.stop()  # the last one leaves: the room is written now

await durable.restart(downtime=0.2)  # a deploy: everyone is closed, rooms leave memory
print("rooms in memory after the restart:", list(durable.rooms))
print("rooms in the store:", durable.stored_rooms())

# %%
await asyncio.sleep(0.3)  # back up
reader = await SyncClient.start(durable.room_url("minutes"), Doc(client_id=22), name="reader")
await reader.wait_synced()
print("a new client reads:", repr(str(reader.doc.get("text", type=Text))))
assert str(reader.doc.get("text", type=Text)) == "Monday: ship the sync server."
await reader.stop()

# %% [markdown]
# Saving is cheap because a Yjs state is compact (under 2 bytes per character for the
# typed documents of [part 1](09-collaboration.ipynb#Full-state-or-deltas)) and one file per room is replaced atomically (write a temporary
# file, then rename). pycrdt also has `pycrdt-store` (SQLite, keeping every update),
# which matters when you want history; the course's server keeps only the latest state.

# %% [markdown]
# ## What the course server adds
#
# pycrdt comes with a server too: `pycrdt-websocket` (0.16), whose `YRoom` speaks the
# same protocol. Run it in this kernel (`rtlab.topics.collaboration.baseline` wraps it, unchanged)
# next to the course's `SyncServer`, and try two things a real deployment meets every
# day. First: ada and bo are in a room, and bo's connection drops (no goodbye, as when
# a laptop lid closes). How long does ada still see bo?

# %% tags=["nbval-ignore-output"]
from rtlab.topics.collaboration.baseline import PycrdtWebsocketServer

baseline = await PycrdtWebsocketServer.start("pycrdt-websocket")
theirs = await lesson.ghost_after_drop(baseline.room_url("ghosts"))  # None: still shown
ours = await lesson.ghost_after_drop(server.room_url("ghosts"))
print("pycrdt-websocket:", "bo is still shown after 1 s" if theirs is None else f"{theirs:.3f} s")
print(f"course SyncServer: bo removed after {ours * 1000:.0f} ms")
assert theirs is None and ours < 0.5

# %% [markdown]
# pycrdt-websocket's room does not remove the awareness states that came over a
# connection when it closes, so ada sees a ghost bo (his name, his frozen cursor) until
# her awareness times out after 30 s. The JavaScript y-websocket server removes them at
# once, and so does the course's server: its room logic remembers which awareness
# client ids each connection announced, and announces them gone when the connection
# ends ([awareness-ghost](../references/validations.md#awareness-ghost)).
#
# Second: ada writes in a room and leaves; a minute later bo opens the document.

# %% tags=["nbval-ignore-output"]
in_pycrdt_websocket = lesson.room_text(
    lambda: getattr(baseline.server.rooms.get("/later"), "ydoc", None))
in_course_server = lesson.room_text(lambda: getattr(server.rooms.get("later"), "doc", None))
# ada writes and leaves (once the server has her text); then bo opens the room
theirs = await lesson.write_then_read(baseline.room_url("later"), in_pycrdt_websocket)
ours = await lesson.write_then_read(server.room_url("later"), in_course_server)
print(f"pycrdt-websocket: bo finds {theirs!r}")
print(f"course SyncServer: bo finds {ours!r}")
assert theirs == "" and ours == "Draft by ada"
await baseline.stop()

# %% [markdown]
# By default (`auto_clean_rooms=True`) pycrdt-websocket deletes a room when its last
# client leaves, document included; without a store configured, ada's draft is gone.
# The course's server keeps rooms (and saves them, as above). Two more differences,
# measured while building this course:
# pycrdt-websocket relays updates through a buffer of 65,536 messages and silently
# drops what overflows (replaying a 259,778-edit trace in bursts, connected peers got
# 71,243 updates and diverged), and it does not send a newcomer the awareness states
# already present. The course's server gives each client its own bounded queue: a
# backlog of updates is merged into one, and a client that still cannot keep up is
# disconnected with 1008 and catches up with a sync step 1/2 exchange on reconnect;
# the room and the other clients never wait for it.

# %% [markdown]
# ## Summary
#
# - The sync protocol: both sides send a **state vector** (step 1), each answers with
#   **what the other lacks** (step 2), then **deltas** flow. Awareness (who is here,
#   cursors) travels beside the document and must be removed when a connection ends.
# - Offline edits need no special queue: the client's document keeps them and the next
#   step 1/2 exchange sends them. Losing them, or resetting the document on reconnect,
#   is [reconnection-state-loss](../references/sharp_edges.md#reconnection-state-loss).
# - The same room serves Python and JavaScript clients: the wire format is Yjs's.
# - A production server also persists rooms, keeps them when they empty, removes a
#   dropped client's awareness at once, and bounds what it queues for a slow client.
#
# ## Your turn
#
# **Build** (level 2 of 2): finish the `Room` and `Client` of
# [exercises/collab.py](../exercises/collab.py) (level 1 is in
# [part 1](09-collaboration.ipynb#Your-turn)). The `Client` keeps edits made offline
# (`local_update` returns `[]` while disconnected; the room's next step 1 asks for
# them) and applies updates that arrive while it is still syncing; the `Room` restarts
# from `save()` through `Room(saved)`, records which awareness client ids each
# connection announced, and on `leave` tells everyone left that they are gone; `join`
# also sends the awareness states already known. The `SyncServer` and `SyncClient` of
# this notebook run any objects with those methods, so yours plug in here.
#
# **Pass criteria**: the same 200 seeded worlds as level 1; level 2 is two checks:
#
# - [reconnection-state-loss](../references/sharp_edges.md#reconnection-state-loss), in
#   the 100 worlds with cut links (everything in flight lost, offline edits, an outbox
#   that sends its last updates again, shuffled, after a reconnect, editors joining
#   while others type, one leaving for good, a server restart): every editor and a
#   newcomer end with exactly the document that merged every edit, and a newcomer who
#   opens the document right after a restart gets everything the room had received;
# - [awareness-ghost](../references/validations.md#awareness-ghost), in all 200:
#   0.4 s after the room learns that a connection closed or dropped, no other
#   connected editor shows its awareness; at the end every editor, and a newcomer,
#   shows exactly the other connected editors with their latest state.
#
# **Run**: `await rtlab.check("collab", level=2)` in the cell below, or
# `python -m rtlab check collab --level 2` in a terminal; `python -m rtlab check collab`
# grades both levels. Stuck? `python -m rtlab hint collab`.
#
# **Time**: 30 to 45 minutes.
#
# The next cell first runs your room and client on one small simulated schedule (two
# editors, one goes offline and both edit), so unfinished code gets a message rather
# than a broken demo; then it runs them live, on real sockets, with a cut link:

# %% tags=["nbval-ignore-output"]
both = await lesson.try_your_collab(level=2)

# %% [markdown]
# And the grade of level 2, then of the whole exercise (the report lists every check
# with what was expected and what happened; `print(report)` gives the same as text):

# %% tags=["nbval-ignore-output"]
report = await rtlab.check("collab", level=2)
report

# %% tags=["nbval-ignore-output"]
report = await rtlab.check("collab")
report

# %% [markdown]
# **What comes next.** Everything here ran in one server process.
# [The scaling-out module](10-scaling-out.ipynb) puts several servers behind a load
# balancer and connects them through Redis pub/sub, where the same questions (who has
# which update, what happens to a client that moves to another server) come back.
#
# Before you leave: every server and client of this notebook is stopped, and the
# temporary store is removed.

# %%
import shutil

errors = await rtlab.live.stop_all()
shutil.rmtree(store, ignore_errors=True)
assert not errors, errors
assert not rtlab.live.running(), f"still running: {rtlab.live.running()}"
print("nothing left running")
