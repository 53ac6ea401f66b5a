"""Last-write-wins JSON documents, live: how concurrent edits vanish.

The anti-pattern *Synchronizing Full State*, on real sockets in the kernel. A
:class:`LWWServer` keeps one JSON document. After each edit an
:class:`LWWEditor` sends its **whole** copy of the document; the server replaces
its own copy with it (the last write wins) and sends the result to every editor,
the writer included, so everyone ends up with the server's copy. Two edits that
cross on the wire are each made on a copy that lacks the other; whichever
arrives second overwrites the first, and the first edit is gone for everyone.

Protocol, JSON text frames:

- server -> editor, on connect and after every write:
  ``{"doc": {...}, "version": n, "by": "ada"}`` (``version`` counts writes);
- editor -> server: ``{"doc": {...}, "by": "ada"}``. Anything else (not JSON,
  not an object with an object ``"doc"``) closes that connection with 1007 and a
  reason; the document is untouched.

:func:`lost_updates_demo` runs seeded editors that add items to a shared list
(think of a to-do list, or the paragraphs of a document) and counts the items
that survived. Put a :class:`rtlab.live.FaultProxy` with some latency between
editors and server to see what a real network does; on bare loopback the
window is a fraction of a millisecond and few edits cross.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import broadcast
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from rtlab.live.registry import forget, register
from rtlab.live.server import LiveServer

__all__ = ["LWWEditor", "LWWRun", "LWWServer", "lost_updates_demo", "parse_write"]

INVALID_DATA = 1007  # RFC 6455: the message's content is not what the protocol allows


def parse_write(message: str | bytes) -> dict[str, Any]:
    """Check an editor's frame; return ``{"doc": ..., "by": ...}`` or raise ValueError."""
    if isinstance(message, bytes):
        raise ValueError("expected a JSON text frame, got binary")
    try:
        write = json.loads(message)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error.msg} at character {error.pos}") from None
    if not isinstance(write, dict) or not isinstance(write.get("doc"), dict):
        raise ValueError('expected {"doc": {...}, "by": "name"}')
    return {"doc": write["doc"], "by": str(write.get("by", "?"))}


class LWWServer:
    """A named last-write-wins document server on 127.0.0.1."""

    def __init__(self, name: str, doc: dict[str, Any]) -> None:
        self.name = name
        self.doc = doc
        self.version = 0
        self.t0 = time.monotonic()
        self.writes: list[tuple[float, str]] = []  # (seconds since start, writer) in order
        self.bytes_in = 0  # what editors sent: one whole document per edit
        self.bytes_out = 0  # what the server sent: one whole document per editor per write
        self.rejected: list[str] = []  # reasons of frames refused with 1007
        self.server: LiveServer | None = None

    @classmethod
    async def start(cls, name: str = "lww", doc: dict[str, Any] | None = None) -> LWWServer:
        """Serve ``doc`` (default ``{"items": []}``); re-running replaces ``name``."""
        service = cls(name, doc if doc is not None else {"items": []})
        await register(name, service)
        service.server = await LiveServer.start(name, service._handle)
        return service

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def _state(self, by: str) -> str:
        return json.dumps({"doc": self.doc, "version": self.version, "by": by})

    async def _handle(self, ws: ServerConnection) -> None:
        first = self._state("server")
        self.bytes_out += len(first)
        await ws.send(first)
        async for message in ws:
            self.bytes_in += len(message)
            try:
                write = parse_write(message)
            except ValueError as error:
                self.rejected.append(str(error))
                await ws.close(INVALID_DATA, str(error)[:120])
                return
            self.doc = write["doc"]  # the last write wins: whatever was here is replaced
            self.version += 1
            self.writes.append((time.monotonic() - self.t0, write["by"]))
            state = self._state(write["by"])
            assert self.server is not None
            everyone = list(self.server.connections)
            self.bytes_out += len(state) * len(everyone)
            broadcast(everyone, state)

    def check(self) -> None:
        """Raise what a handler hit (errors are otherwise invisible in a notebook)."""
        if self.server is not None:
            self.server.check()

    async def stop(self) -> None:
        forget(self.name, self)
        if self.server is not None:
            await self.server.stop()

    def __repr__(self) -> str:
        items = len(self.doc.get("items", []))
        return f"<LWWServer {self.name!r}: version {self.version}, {items} items>"


class LWWEditor:
    """An editor holding a whole copy of the document, replaced by every copy it receives."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.doc: dict[str, Any] = {}
        self.version = -1  # the last server version seen
        self.bytes_sent = 0
        self.ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, url: str) -> None:
        self.ws = await connect(url, proxy=None, open_timeout=5, close_timeout=1)
        self._apply(await self.ws.recv())
        self._reader = asyncio.get_running_loop().create_task(self._read())

    def _apply(self, message: str | bytes) -> None:
        state = json.loads(message)
        self.doc, self.version = state["doc"], state["version"]

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for message in self.ws:
                self._apply(message)  # last write wins here too: the local copy is replaced
        except ConnectionClosed:
            pass

    async def add_item(self, item: str) -> None:
        """Append ``item`` to the list in the local copy and send the whole document."""
        assert self.ws is not None
        self.doc = {**self.doc, "items": [*self.doc.get("items", []), item]}
        message = json.dumps({"doc": self.doc, "by": self.name})
        self.bytes_sent += len(message)
        await self.ws.send(message)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


@dataclass
class LWWRun:
    """What a run of :func:`lost_updates_demo` showed."""

    made: list[tuple[float, str, str]]  # (seconds since start, editor, item) per edit
    final: list[str]  # the items of the document everyone ended with
    copies: dict[str, list[str]]  # each editor's items at the end
    writes: int
    bytes_in: int
    bytes_out: int
    latency: float
    lost: list[str] = field(init=False)

    def __post_init__(self) -> None:
        kept = set(self.final)
        self.lost = [item for _, _, item in self.made if item not in kept]

    @property
    def converged(self) -> bool:
        return all(items == self.final for items in self.copies.values())

    def summary(self) -> str:
        made = len(self.made)
        return (
            f"{made} edits made, {made - len(self.lost)} in the final document, "
            f"{len(self.lost)} lost ({len(self.lost) / max(made, 1):.0%}); all copies "
            f"{'agree' if self.converged else 'DIFFER'}; bytes editors -> server: "
            f"{self.bytes_in:,}, server -> editors: {self.bytes_out:,}"
        )

    def plot(self) -> Figure:
        """Each editor's edits in time: kept (dots) and lost (crosses)."""
        fig = Figure(figsize=(8, 1.2 + 0.45 * len(self.copies)))
        ax = fig.subplots()
        names = list(self.copies)
        lost = set(self.lost)
        for row, name in enumerate(names):
            times = [(t, item in lost) for t, who, item in self.made if who == name]
            kept_t = [t for t, gone in times if not gone]
            lost_t = [t for t, gone in times if gone]
            ax.scatter(kept_t, [row] * len(kept_t), marker="o", color="#1a7f37", s=28,
                       label="kept" if row == 0 else None, zorder=3)
            ax.scatter(lost_t, [row] * len(lost_t), marker="x", color="#cf222e", s=40,
                       label="lost" if row == 0 else None, zorder=3)
        ax.set_yticks(range(len(names)), names)
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.set_xlabel("seconds")
        ax.set_title(
            f"Last write wins, {self.latency * 1000:.0f} ms each way: "
            f"{len(self.lost)} of {len(self.made)} edits lost", fontsize=10, loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        return fig


async def lost_updates_demo(
    url: str,
    server: LWWServer,
    *,
    editors: Sequence[str] = ("ada", "bo"),
    edits: int = 15,
    seed: int = 0,
    think: tuple[float, float] = (0.03, 0.2),
    latency: float = 0.0,
    settle_timeout: float = 5.0,
) -> LWWRun:
    """Editors add ``edits`` items each, ``think`` seconds apart (seeded), through ``url``.

    ``url`` is the server's or a proxy's in front of it; ``latency`` is only
    reported (set it on the proxy). Waits until every editor has seen the
    server's last version, closes the editors and returns what survived.
    """
    rng = random.Random(seed)
    pauses = {name: [rng.uniform(*think) for _ in range(edits)] for name in editors}
    crew = [LWWEditor(name) for name in editors]
    made: list[tuple[float, str, str]] = []
    expected = server.version + len(crew) * edits  # the server's version once all arrived
    bytes_in, bytes_out = server.bytes_in, server.bytes_out
    t0 = time.monotonic()
    try:
        for editor in crew:
            await editor.connect(url)

        async def type_items(editor: LWWEditor) -> None:
            for number, pause in enumerate(pauses[editor.name], 1):
                await asyncio.sleep(pause)
                item = f"{editor.name}-{number}"
                made.append((time.monotonic() - t0, editor.name, item))
                await editor.add_item(item)

        await asyncio.gather(*(type_items(editor) for editor in crew))
        deadline = time.monotonic() + settle_timeout
        while server.version < expected or any(e.version < expected for e in crew):
            if time.monotonic() > deadline:
                raise TimeoutError("the editors did not receive the server's last version")
            await asyncio.sleep(0.01)
    finally:
        for editor in crew:
            await editor.close()
    server.check()
    return LWWRun(
        made=made,
        final=list(server.doc.get("items", [])),
        copies={editor.name: list(editor.doc.get("items", [])) for editor in crew},
        writes=server.version,
        bytes_in=server.bytes_in - bytes_in,
        bytes_out=server.bytes_out - bytes_out,
        latency=latency,
    )


def bench_lost_updates(
    latencies: Sequence[float] = (0.0, 0.01, 0.025, 0.05), seeds: Sequence[int] = (0, 1, 2)
) -> None:
    """``make bench``: edits lost under last-write-wins, live, by one-way latency."""
    from rtlab.live.proxy import FaultProxy
    from rtlab.live.registry import stop_all

    async def measure() -> list[tuple[float, list[LWWRun]]]:
        results = []
        try:
            for latency in latencies:
                runs = []
                for seed in seeds:
                    server = await LWWServer.start("bench-lww")
                    assert server.server is not None
                    proxy = await FaultProxy.start("bench-lww-net", server.server.port,
                                                   latency=latency)
                    runs.append(await lost_updates_demo(proxy.url, server, seed=seed,
                                                        latency=latency))
                results.append((latency, runs))
        finally:
            await stop_all()
        return results

    print("Last-write-wins JSON document, live (2 editors x 15 edits, 30-200 ms apart)")
    for latency, runs in asyncio.run(measure()):
        lost = [len(run.lost) for run in runs]
        made = sum(len(run.made) for run in runs)
        per_edit = sum(run.bytes_in for run in runs) / made
        print(f"  {latency * 1000:3.0f} ms each way: lost {'/'.join(map(str, lost))} of "
              f"{len(runs[0].made)} edits per run ({sum(lost) / made:.0%}); "
              f"{per_edit:.0f} B sent per edit (the whole document)")
