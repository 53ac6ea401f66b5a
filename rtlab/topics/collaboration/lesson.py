"""Scaffolding of the collaboration lessons (``notebooks/09-collaboration`` and
``notebooks/09-sync-protocol``).

Document generators, tables, plots, the printing of a hand-driven sync exchange, the
live editors' plumbing, the comparisons with pycrdt-websocket, the learner's trial
run and the checks of what the lessons' prose claims live here, so that the lessons'
cells show only what they teach. Only public names of the server, the client and the
wire codec are used.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display
from matplotlib.figure import Figure
from pycrdt import Doc, Text
from websockets.asyncio.client import ClientConnection

from rtlab.learner import describe_error, load_exercise, time_limit
from rtlab.plots import sequence_chart
from rtlab.topics.collaboration.client import SyncClient
from rtlab.topics.collaboration.lww import LWWRun
from rtlab.topics.collaboration.node import NodeClient, missing
from rtlab.topics.collaboration.server import SyncServer
from rtlab.topics.collaboration.sim import World
from rtlab.topics.collaboration.widgets import CollabEditor, Link
from rtlab.wire import yjs as protocol

__all__ = [
    "WORDS", "Sizes", "check_lww", "check_sizes", "converged", "ghost_after_drop",
    "javascript_joins", "measure_sizes", "print_sizes", "print_throughput", "receive",
    "room_text", "send", "sizes_plot", "start_editors", "sync_chart", "throughput",
    "try_your_collab", "typed_doc", "write_then_read",
]

# -- part 1: what whole copies cost ------------------------------------------------------

WORDS = ["the", "sync", "replica", "update", "merge", "state", "client", "server", "edit",
         "offline", "delta", "document", "cursor", "awareness", "room", "text", "insert",
         "delete", "network", "latency"]

COLOURS = {"whole state (Yjs)": "#cf222e", "whole copy (JSON)": "#bf8700",
           "deltas (Yjs updates)": "#1a7f37"}


def check_lww(run: LWWRun, latency: float) -> None:
    """Every copy ends as the server's; with a real round trip, crossing edits are lost.

    On bare loopback the window is a fraction of a millisecond and a run may lose
    nothing, so the loss is only asserted for a latency of 10 ms or more.
    """
    assert run.converged, "every copy ends as the server's"
    if latency >= 0.01:
        assert len(run.lost) >= 2, "edits that cross on the wire overwrite each other"


def typed_doc(chars: int, seed: int, client_id: int = 1) -> tuple[Doc[Any], Text]:
    """A document typed word by word: mostly at the end, sometimes in the middle, with a
    delete now and then, so that its state carries the history a real document has."""
    rng = random.Random(seed)
    doc: Doc[Any] = Doc(client_id=client_id)
    text = doc.get("text", type=Text)
    length = 0
    while length < chars:
        if length > 50 and rng.random() < 0.1:
            at, count = rng.randrange(length - 5), rng.randint(1, 5)
            del text[at:at + count]
            length -= count
        else:
            word = rng.choice(WORDS) + " "
            text.insert(length if rng.random() < 0.8 else rng.randrange(length + 1), word)
            length += len(word)
    return doc, text


@dataclass(frozen=True)
class Sizes:
    """One document, three ways of sending one keystroke of it (bytes)."""

    chars: int
    json_copy: int
    yjs_state: int
    delta: int


def measure_sizes(sizes: Sequence[int], seed: int, keystroke: str = "x") -> list[Sizes]:
    """Type ``keystroke`` in the middle of a typed document of each size; measure it three ways."""
    rows = []
    for chars in sizes:
        doc, text = typed_doc(chars, seed)
        deltas: list[bytes] = []
        doc.observe(lambda event, deltas=deltas: deltas.append(event.update))
        text.insert(len(text) // 2, keystroke)
        as_json = len(json.dumps({"text": str(text)}))
        rows.append(Sizes(len(text), as_json, len(doc.get_update()), len(deltas[0])))
    return rows


def print_sizes(rows: Sequence[Sizes]) -> None:
    print(f"{'characters':>10} {'JSON copy':>10} {'Yjs state':>10} {'delta':>6}  state/delta")
    for r in rows:
        print(f"{r.chars:>10,} {r.json_copy:>10,} {r.yjs_state:>10,} {r.delta:>6,} "
              f"{r.yjs_state / r.delta:>12,.0f}x")


def throughput(row: Sizes, editors: Sequence[int], rate: float) -> dict[str, list[float]]:
    """Bytes per second through the server: each keystroke to the server and to n - 1 others
    (about n x n messages a second for n editors)."""
    per_message = {"whole state (Yjs)": row.yjs_state, "whole copy (JSON)": row.json_copy,
                   "deltas (Yjs updates)": row.delta}
    return {label: [rate * n * n * size for n in editors] for label, size in per_message.items()}


def print_throughput(per_second: dict[str, list[float]], editors: Sequence[int]) -> None:
    print(f"{'editors':>7}" + "".join(f"{label:>22}" for label in per_second) + "   (kB/s)")
    for n, *row in zip(editors, *per_second.values(), strict=True):
        print(f"{n:>7}" + "".join(f"{value / 1e3:>22,.1f}" for value in row))


def sizes_plot(rows: Sequence[Sizes], per_second: dict[str, list[float]],
               editors: Sequence[int], rate: float) -> Figure:
    """Left: bytes per keystroke by document size; right: MB/s by room size."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.4))
    xs = [r.chars for r in rows]
    for label, values in [("whole state (Yjs)", [r.yjs_state for r in rows]),
                          ("whole copy (JSON)", [r.json_copy for r in rows]),
                          ("deltas (Yjs updates)", [r.delta for r in rows])]:
        left.plot(xs, values, marker="o", color=COLOURS[label], label=label)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("document size (characters)")
    left.set_ylabel("bytes per keystroke")
    left.legend(fontsize=8, frameon=False)
    for label, rates in per_second.items():
        right.plot(editors, [v / 1e6 for v in rates], marker="o", color=COLOURS[label],
                   label=label)
    right.set_xscale("log")
    right.set_xticks(list(editors), [str(n) for n in editors])
    right.minorticks_off()
    right.set_yscale("log")
    right.set_xlabel(f"editors in the room ({rate:g} keystrokes/s each)")
    right.set_ylabel(f"MB/s through the server\n({rows[-1].chars:,}-character document)")
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("Measured with pycrdt: whole state vs deltas", fontsize=10, x=0.01, ha="left")
    fig.tight_layout()
    return fig


def check_sizes(rows: Sequence[Sizes], keystroke: str = "x") -> str:
    """Check the lesson's reading of the table, and say it with the measured figures.

    For a one-character keystroke: the delta stays at 13-20 bytes whatever the size, the
    state costs 1.6-2.0 bytes per character, and the largest state is over 1,000 deltas.
    """
    largest = rows[-1]
    per_char = largest.yjs_state / largest.chars
    deltas = sorted({r.delta for r in rows})
    if keystroke == "x":
        assert deltas[0] >= 13 and deltas[-1] <= 20, deltas
        assert 1.6 <= per_char <= 2.0, per_char
        assert largest.yjs_state / largest.delta > 1_000
    spread = f"{deltas[0]}" if len(deltas) == 1 else f"{deltas[0]}-{deltas[-1]}"
    return (f"A keystroke's delta stayed at {spread} bytes whatever the document's size; the "
            f"whole state of the {largest.chars:,}-character document was "
            f"{largest.yjs_state:,} bytes ({per_char:.1f} bytes per character), "
            f"{largest.yjs_state / largest.delta:,.0f} times the delta.")


# -- part 2: the sync protocol by hand ---------------------------------------------------


async def send(who: str, ws: ClientConnection, message: bytes) -> None:
    """Send one y-protocols message, printing what it says."""
    print(f"{who:>4} -> server  {protocol.describe(message):58} {len(message):>4} B")
    await ws.send(message)


async def receive(who: str, ws: ClientConnection) -> bytes:
    """Receive one y-protocols message, printing what it says."""
    message = await ws.recv()
    assert isinstance(message, bytes), "the sync protocol is binary"
    print(f"{who:>4} <- server  {protocol.describe(message):58} {len(message):>4} B")
    return message


def sync_chart(server: SyncServer, lanes: dict[int, str], title: str) -> Figure:
    """The server's recorded conversation (``record=``) as a sequence chart, one lane per
    client id and the server in the middle."""
    arrows = []
    for _, _room, peer, direction, message in server.log:
        label = protocol.describe(message)
        label = label if len(label) < 44 else label[:41] + "..."
        ends = (lanes[peer], "server") if direction == "in" else ("server", lanes[peer])
        arrows.append((*ends, label))
    first, *others = lanes.values()
    return sequence_chart([first, "server", *others], arrows, title=title)


# -- part 2: the live editors -------------------------------------------------------------


async def start_editors(
    server: SyncServer, room: str, people: Sequence[tuple[int, str, str]]
) -> tuple[dict[str, SyncClient], dict[str, CollabEditor]]:
    """One ``SyncClient`` and one ``CollabEditor`` per (client id, name, colour), side by side."""
    clients, editors = {}, {}
    for client_id, name, colour in people:
        clients[name] = await SyncClient.start(
            server.room_url(room), Doc(client_id=client_id), name=f"editor-{name}",
            user={"user": {"name": name, "colour": colour}})
    for client in clients.values():
        await client.wait_synced()
    for _, name, colour in people:
        client = clients[name]
        link = cast(Link, client)  # Link declares `online` settable; SyncClient's is read-only
        editors[name] = CollabEditor(client.doc, name, awareness=client.awareness, link=link,
                                     colour=colour, rows=5)
        editors[name].widget.layout.width = f"{96 // len(people)}%"
    display(widgets.HBox([editor.widget for editor in editors.values()]))  # type: ignore[no-untyped-call]
    return clients, editors


async def converged(editors: dict[str, CollabEditor], client: SyncClient) -> str:
    """Wait until every editor shows the same text (the server relays within ms)."""
    def texts() -> set[str]:
        return {str(editor.area.value) for editor in editors.values()}
    await client.wait_for(lambda: len(texts()) == 1)
    return texts().pop()


async def javascript_joins(server: SyncServer, room: str, watcher: SyncClient,
                           editor: CollabEditor, line: str) -> str | None:
    """Yjs in Node.js joins ``room``, types ``line`` at the end and leaves, while ``editor``
    (the replica of ``watcher``) watches. Returns the text it converged to, or None (with
    the reason printed) where Node.js or its packages are missing."""
    reason = missing()
    if reason:
        print("No JavaScript client here:", reason)
        return None
    before = len(editor.people())
    node = await NodeClient.start(server.url, room, client_id=14, user="yjs in node")
    try:
        await node.wait_for(lambda state: bool(state["synced"]))
        await watcher.wait_for(lambda: len(editor.people()) == before + 1)
        print(f"{editor.name} sees:", ", ".join(name for name, _ in editor.people()))
        end = len((await node.state())["text"])
        await node.call("insert", index=end, text=line)
        await watcher.wait_for(lambda: str(editor.area.value).endswith(line))
    finally:
        await node.stop()
    await watcher.wait_for(lambda: len(editor.people()) == before)
    print(f"the Node.js client left; {editor.name} sees:",
          ", ".join(name for name, _ in editor.people()))
    return str(editor.area.value)


# -- part 2: what the course server adds --------------------------------------------------


async def ghost_after_drop(room_url: str, wait: float = 1.0) -> float | None:
    """Seconds until ada stops seeing bo after bo's link drops (None: still there)."""
    ada = await SyncClient.start(room_url, Doc(client_id=31), name="ghost-ada",
                                 user={"user": {"name": "ada"}})
    await ada.wait_synced()
    bo = await SyncClient.start(room_url, Doc(client_id=32), name="ghost-bo",
                                user={"user": {"name": "bo"}})
    await bo.wait_synced()
    await ada.wait_for(lambda: 32 in ada.peers)
    bo.cut()
    try:
        return await ada.wait_for(lambda: 32 not in ada.peers, timeout=wait)
    except TimeoutError:
        return None
    finally:
        await ada.stop()
        await bo.stop()


async def write_then_read(room_url: str, server_text: Callable[[], str]) -> str:
    """Ada writes and leaves; then bo opens the room. What does bo find?"""
    writer = await SyncClient.start(room_url, Doc(client_id=41), name="later-writer")
    await writer.wait_synced()
    writer.doc.get("text", type=Text).insert(0, "Draft by ada")
    await writer.wait_for(lambda: server_text() == "Draft by ada")  # the server has it
    await writer.stop()
    await asyncio.sleep(0.1)  # everyone has left the room
    reader = await SyncClient.start(room_url, Doc(client_id=42), name="later-reader")
    await reader.wait_synced()
    found = str(reader.doc.get("text", type=Text))
    await reader.stop()
    return found


def room_text(doc: Callable[[], Any]) -> Callable[[], str]:
    """The text of a room's document, or "" while the room has none."""
    def text() -> str:
        current = doc()
        return str(current.get("text", type=Text)) if current is not None else ""
    return text


# -- your turn ---------------------------------------------------------------------------


def _trial(module: Any, level: int) -> str | None:
    """One small schedule in virtual time; what went wrong, or None.

    Level 1: two editors type at once, online. Level 2: one goes offline and both edit.
    """
    with time_limit(2.0, "your Room and Client"):
        world = World(module.Room, module.Client, seed=1, editors=2, initial="Hello")
        world.start()
        world.run(0.5)
        if level >= 2:
            world.cut(2)  # editor 2 goes offline...
        world.edit(2, "insert", 0, "Oh, ")  # ...and both keep editing
        world.edit(1, "insert", 5, " world")
        world.run(1.0)
        if level >= 2:
            world.reconnect(2)
        world.settle()
    texts = world.texts()
    if set(texts.values()) != {"Oh, Hello world"}:
        return f"the replicas ended with {texts}, expected 'Oh, Hello world' everywhere"
    return None


async def try_your_collab(level: int) -> str | None:
    """Run the learner's Room and Client on one small simulated schedule of ``level``; if
    they hold, run them live on real sockets. Returns the text both replicas ended with."""
    try:
        learner = load_exercise("collab")
        problem = _trial(learner, level)
    except Exception as error:  # a syntax error, a TODO, a crash...
        problem = describe_error(getattr(error, "error", None) or error)  # the learner's own
    if problem:
        print("Your room and client are not ready for the live run yet:")
        print(" ", problem)
        print("Keep going in exercises/collab.py, then run this cell again.")
        return None
    mine = await SyncServer.start("collab-yours", room=learner.Room)
    ada = await SyncClient.start(mine.room_url("yours"), Doc(client_id=51), name="yours-ada",
                                 logic=learner.Client)
    bo = await SyncClient.start(mine.room_url("yours"), Doc(client_id=52), name="yours-bo",
                                logic=learner.Client)
    result = None
    try:
        await ada.wait_synced()
        await bo.wait_synced()
        ada_text, bo_text = ada.doc.get("text", type=Text), bo.doc.get("text", type=Text)
        ada_text += "Written with my own room."
        await bo.wait_for(lambda: str(bo_text) == str(ada_text))
        if level >= 2:
            bo.cut()
        bo_text += " Offline too." if level >= 2 else " Online."
        ada_text.insert(0, "Live: ")
        if level >= 2:
            bo.restore()
        await bo.wait_for(lambda: str(bo_text) == str(ada_text), timeout=5)
        result = str(ada_text)
        print("both replicas:", repr(result))
    except Exception as error:
        print("Your code raised in the live run:", describe_error(error))
    finally:
        for thing in (ada, bo, mine):
            try:
                await thing.stop()
            except Exception as error:
                print("stopping:", describe_error(error))
    return result
