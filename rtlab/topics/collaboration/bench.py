"""Relay benchmark: a 259,778-edit editing trace through three Yjs sync servers, side by side.

``bench_collab()`` replays the automerge-paper trace (one Yjs update per edit,
typed once and cached) from a sender to a receiver through, in one run:

(a) the course's :class:`~rtlab.topics.collaboration.server.SyncServer` with the reference
    room logic, as configured by default (a backlog of updates goes out merged, up to 64 in one
    message), the same on uvloop (libuv's event loop, as Node's server runs on; see
    :mod:`rtlab.live.standalone`), and with one message per update (``merge_run=1``), like
    the others;
(b) pycrdt-websocket's ``WebsocketServer`` as shipped (with a channel adapter
    for websockets' ``ServerConnection``);
(c) the Node.js reference server, ``@y/websocket-server`` (if node is installed);

in two arrival patterns (:data:`PATTERNS`): **one-per-turn**, one edit in
flight, so each update arrives on its own and the server handles one message
per event-loop turn (nothing to batch: per-message overhead is all there is),
and **bursts**, the sender up to 5,000 edits ahead and yielding every 64
sends, so many updates arrive in one read.

Each server runs in its own process on 127.0.0.1, so its CPU time is its own
(read from /proc: every thread's run time, in nanoseconds), and so is its
peak memory (VmHWM). The sender and the receiver share this process (as two
clients of one machine would share it). The sender drains whatever comes back
(pycrdt-websocket and the Node server echo each update to its sender too); the
receiver applies what it gets to a pycrdt ``Doc``. The servers take turns:
each gets a sixteenth of the trace (its receiver waits until it holds that
part), then the next; time and CPU are summed over a server's own turns.
On a shared machine speed drifts over minutes; run one after another, the
servers were ranked by when they ran as much as by what they cost. Reported
per server and pattern: edits per second from the first send until the
receiver's document holds every edit, the messages the receiver got (the course's server merges
a backlog into fewer messages), whether it converged (else: updates lost on
the way), server CPU per edit and peak RSS; then, per pattern, the course's
server CPU per edit against Node's.

Run it: ``python -m rtlab.topics.collaboration.bench`` (``--edits N`` for a
prefix, ``--pattern``, ``--server`` to choose, ``--repeat N`` for the
spread, ``--window 0`` for a sender that never waits, ``--profile DIR`` for
cProfile statistics of the course's servers).

Measured on the reference machine (2 cores, December 2026, other jobs light),
all 259,778 edits, one run, the servers taking turns; every run converged.
Edits/s until the receiver had everything, server CPU per edit, peak RSS:

=====================  ========================  ========================
server                 one-per-turn              bursts
=====================  ========================  ========================
course (merged)        8,495/s  50 us   35 MB    93,385/s  10 us   35 MB
course on uvloop       9,191/s  44 us   37 MB    93,408/s  10 us   37 MB
course, unmerged       8,501/s  51 us   35 MB    54,555/s  14 us   35 MB
pycrdt-websocket       4,498/s  162 us  36 MB    11,847/s  84 us   36 MB
@y/websocket-server    8,228/s  58 us   99 MB    35,252/s  29 us   161 MB
=====================  ========================  ========================

(The course's merged server sent the receiver 213,097 messages one edit at a
time, some edits being deletions that arrive together, and 10,497 in
bursts.) The course's server, as configured by default, spends 0.87x Node's
CPU per edit one edit at a time (0.77x on uvloop) and 0.35x in bursts; the
verdict lines judge these two rows. Before its receive and send paths were
reworked it spent 1.35x one edit at a time (71 us against Node's 52 us in
the run of that day; see "Cost per message" in
:mod:`rtlab.topics.collaboration.server`). Short runs overstate Node's CPU
per edit: its JIT warms up over the first tens of thousands of edits.
Figures move by a fifth or more between runs on a shared machine; compare
servers within one run, and use ``--repeat`` (the verdict lines compare
medians). Before the servers took turns, one ``make bench`` put the course's
server at 1.17x Node's because it ran in a slow minute and Node in a fast one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycrdt import Doc
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from rtlab import course
from rtlab.live.standalone import run_standalone, uvloop_available
from rtlab.topics.collaboration import node, traces
from rtlab.wire import yjs as protocol

__all__ = ["RelayResult", "bench_collab", "relay", "trace_updates"]

TRACE = "automerge-paper"
QUIET_LIMIT = 10.0  # seconds without a message before the receiver gives up
CHUNKS = 16  # the servers take turns, a sixteenth of the trace each (see run_all)
# Edits the sender may be ahead of the receiver by default: far below pycrdt-websocket's
# 65,536-update buffer, so the run measures speed; --window 0 shows what a burst does.
WINDOW = 5_000
SERVERS = ("course", "course-uvloop", "course-unmerged", "pycrdt-websocket", "node")
# The course's server as configured by default, on each event loop: the verdict is theirs.
# (course-unmerged, merging switched off, is a row to compare, like pycrdt-websocket.)
JUDGED = ("course", "course-uvloop")


# -- the edits ----------------------------------------------------------------
def cache_dir() -> Path:
    return course.root() / ".rtlab" / "cache"


def trace_updates(name: str = TRACE) -> tuple[list[bytes], str]:
    """One Yjs update per edit of trace ``name`` (cached in .rtlab/cache), and how made."""
    source = traces.traces_dir() / f"{name}.json.gz"
    reason = traces.missing(name)
    if reason:
        raise FileNotFoundError(reason)
    cached = cache_dir() / f"{name}-{source.stat().st_size}.yupdates"
    how = f"cached in {cached.relative_to(course.root())}"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(cached.name + ".tmp")
        started = time.perf_counter()
        if node.missing() is None:
            import subprocess

            subprocess.run(
                ["node", str(node.js_dir() / "trace-updates.mjs"), str(source), str(partial)],
                check=True, capture_output=True,
            )
            maker = "yjs (Node)"
        else:
            updates = traces.author_sequential(traces.load(name))
            partial.write_bytes(b"".join(protocol.varbytes(u) for u in updates))
            maker = "pycrdt"
        os.replace(partial, cached)
        how = f"typed by {maker} in {time.perf_counter() - started:.1f} s, then {how}"
    data = cached.read_bytes()
    updates, pos = [], 0
    while pos < len(data):
        update, pos = protocol.read_varbytes(data, pos, "a cached update")
        updates.append(update)
    return updates, how


# -- the servers, each in a process of its own ------------------------------------
class WebsocketsChannel:
    """pycrdt-websocket's ``Channel`` over a websockets 17 ``ServerConnection``."""

    def __init__(self, conn: ServerConnection) -> None:
        self.conn = conn

    @property
    def path(self) -> str:
        return self.conn.request.path if self.conn.request else "/"

    async def send(self, message: bytes) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.conn.send(message)

    async def recv(self) -> bytes:
        message = await self.conn.recv()
        return message if isinstance(message, bytes) else message.encode()

    def __aiter__(self) -> WebsocketsChannel:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration from None


async def serve_until_stdin_closes(kind: str, profile: str | None = None) -> None:
    """Run server ``kind`` on 127.0.0.1; print its port; on EOF print its CPU seconds.

    ``profile``: a file for cProfile's statistics of the whole run (course servers).
    """
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.readline() else None)
    if kind.startswith("course"):
        from rtlab.topics.collaboration.server import SyncServer

        merge_run = 1 if kind == "course-unmerged" else 64
        server = await SyncServer.start("bench", max_size=None, merge_run=merge_run)
        print(json.dumps({"port": server.port}), flush=True)
        await stop.wait()
        await server.stop()
    else:
        from pycrdt.websocket import WebsocketServer

        yserver = WebsocketServer()  # as shipped
        task = asyncio.create_task(yserver.start())
        await yserver.started.wait()

        async def handler(conn: ServerConnection) -> None:
            await yserver.serve(WebsocketsChannel(conn))

        async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as ws:
            print(json.dumps({"port": ws.sockets[0].getsockname()[1]}), flush=True)
            await stop.wait()
        await yserver.stop()
        task.cancel()
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    print(json.dumps({"cpu": time.process_time()}), flush=True)


@dataclass
class ServerProcess:
    kind: str
    process: asyncio.subprocess.Process
    port: int

    @classmethod
    async def start(cls, kind: str, profile: Path | None = None) -> ServerProcess:
        """Start server ``kind``; ``profile``: where a course server writes cProfile stats."""
        if kind == "node":
            command = ["node", str(node.js_dir() / "bench-server.mjs")]
        else:
            command = [sys.executable, "-m", "rtlab.topics.collaboration.bench", "--serve", kind]
            if profile is not None and kind.startswith("course"):
                command += ["--profile", str(profile)]
        with tempfile.TemporaryFile() as errors:  # a file: a pipe nobody reads could fill up
            process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=errors, cwd=course.root(),
            )
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            if not line:
                await process.wait()
                errors.seek(0)
                said = errors.read().decode(errors="replace")[-1500:]
                raise RuntimeError(f"the {kind} server did not start:\n{said}")
        return cls(kind, process, json.loads(line)["port"])

    def cpu(self) -> float | None:
        """CPU seconds all the process's threads used so far (Linux /proc), None if unknown.

        Read from each thread's schedstat (nanoseconds), not from the process's
        stat (10 ms clock ticks, too coarse for a short run of a fast server).
        """
        tasks = Path(f"/proc/{self.process.pid}/task")
        with contextlib.suppress(OSError, IndexError, ValueError):
            total = 0
            for task in tasks.iterdir():
                with contextlib.suppress(FileNotFoundError):  # a thread that just ended
                    total += int((task / "schedstat").read_text().split()[0])
            return total / 1e9
        return None

    def peak_rss(self) -> int | None:
        """The process's peak resident memory in bytes (Linux /proc), None if unknown."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return None

    async def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


# -- the clients ----------------------------------------------------------------------
@dataclass(frozen=True)
class Pattern:
    """How updates arrive at the server."""

    window: int  # edits the sender may be ahead of the receiver (0: no limit)
    yield_every: int  # the sender yields to its event loop after this many sends
    says: str


# one-per-turn: one edit in flight, so each update arrives on its own and the
# server handles one message per event-loop turn (nothing to batch: the worst
# case for per-message overhead, as with many rooms of slow typists). bursts:
# the sender runs up to WINDOW edits ahead and yields every 64 sends, so
# updates arrive many to a read and a server can handle them together.
PATTERNS = {
    "one-per-turn": Pattern(1, 1, "one edit in flight: each update arrives on its own"),
    "bursts": Pattern(WINDOW, 64, f"sender up to {WINDOW:,} edits ahead, 64 sends per turn"),
}


@dataclass
class RelayResult:
    server: str
    edits: int
    seconds: float  # first send until the receiver holds every edit (or gave up)
    send_seconds: float
    received: int  # messages the receiver got
    converged: bool
    missing_chars: int  # inserted characters (Yjs items) the receiver never integrated
    total_chars: int
    cpu_seconds: float | None
    fresh_client_complete: bool | None = None  # after a loss: does a new client get it all?
    ended: str = ""  # why the receiver stopped early
    pattern: str = "bursts"
    peak_rss: int | None = None  # the server process's peak resident memory, bytes

    @property
    def rate(self) -> float:
        return self.edits / self.seconds if self.converged else 0.0

    @property
    def cpu_per_edit(self) -> float | None:
        """Server CPU seconds per edit (None where the server's CPU could not be read)."""
        return self.cpu_seconds / self.edits if self.cpu_seconds else None

    def row(self) -> str:
        per_edit = self.cpu_per_edit
        cpu = f"{per_edit * 1e6:4.0f} us" if per_edit is not None else " n/a"
        rss = f"{self.peak_rss / 2**20:4.0f} MB" if self.peak_rss else " n/a"
        if self.converged:
            outcome = f"{self.rate:>7,.0f} edits/s in {self.seconds:6.2f} s, converged"
        else:
            outcome = (
                f"NOT converged: {self.edits - self.received:,} updates never relayed; receiver "
                f"lacks {self.missing_chars:,} of {self.total_chars:,} inserted chars"
            )
        return (
            f"  {self.server:<17}{outcome}  {self.received:>8,} messages  "
            f"server CPU/edit {cpu}  peak RSS {rss}"
        )


async def handshake(url: str, doc: Doc[Any]) -> ClientConnection:
    """Connect and finish the sync handshake (the server's step 2 has arrived)."""
    ws = await connect(url, proxy=None, max_size=None, compression=None, open_timeout=10)
    await ws.send(protocol.sync_step1(doc.get_state()))
    while True:
        message = protocol.parse(await ws.recv(), check_update=False)  # type: ignore[arg-type]
        if message.kind == "step1":
            await ws.send(protocol.sync_step2(doc.get_update(message.payload)))
        elif message.kind == "step2":
            doc.apply_update(message.payload)
            return ws


async def drain(ws: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for _ in ws:
            pass


def clocks(updates: list[bytes]) -> list[int]:
    """For each update, a clock the receiver must have reached once it integrated it.

    Read from the update's header (clients, structs, client id, first clock):
    its first item's clock plus one. (pycrdt's ``get_state(update)`` does not
    help: it returns an empty state for an update that does not start at clock 0.)
    """
    out, clock = [], 0
    for update in updates:
        clients, pos = protocol.read_varuint(update)
        if clients:  # a delete-only update inserts nothing
            _structs, pos = protocol.read_varuint(update, pos)
            _client, pos = protocol.read_varuint(update, pos)
            first, pos = protocol.read_varuint(update, pos)
            clock = max(clock, first + 1)
        out.append(clock)
    return out


class RelaySession:
    """A sender and a receiver in one room of ``server``, fed the trace a chunk at a time.

    ``window``: the sender stays at most that many edits ahead of what the
    receiver has integrated, as a typist who sees the screen would (0: no
    limit, as fast as the server takes them); ``yield_every``: the sender lets
    its event loop run after that many sends. Time and server CPU are summed
    over the chunks only, so servers fed in turn do not pay for each other.
    """

    def __init__(self, server: ServerProcess, updates: list[bytes], window: int = 0,
                 *, yield_every: int = 64, pattern: str = "") -> None:
        self.server, self.updates, self.window = server, updates, window
        self.yield_every, self.pattern = yield_every, pattern
        self.messages = [protocol.sync_update(u) for u in updates]
        self.clock_after = clocks(updates) if window else []
        self.receiver_doc: Doc[Any] = Doc(client_id=2)
        self.received = self.have = 0
        self.target = b""  # the state vector that ends the current chunk
        self.reached, self.progress = asyncio.Event(), asyncio.Event()
        self.ended = ""  # why the receiver stopped, if it did
        self.seconds = self.send_seconds = 0.0
        self.cpu: float | None = 0.0
        self.sent = 0  # updates sent so far
        self.room = f"ws://127.0.0.1:{server.port}/bench-{server.kind}"

    async def open(self) -> None:
        self.receiver = await handshake(self.room, self.receiver_doc)
        self.sender = await handshake(self.room, Doc(client_id=3))
        self.echo = asyncio.create_task(drain(self.sender))
        self.receiving = asyncio.create_task(self._receive())

    async def _receive(self) -> None:
        try:
            while True:  # no time limit here: the receiver waits while the others take turns
                frame = await self.receiver.recv()
                message = protocol.parse(frame, check_update=False)  # type: ignore[arg-type]
                if message.kind in ("update", "step2"):
                    self.received += 1
                    self.receiver_doc.apply_update(message.payload)
                    state = self.receiver_doc.get_state()
                    if self.window:
                        self.have = sum(protocol.decode_state_vector(state).values())
                        self.progress.set()
                    if state == self.target:
                        self.reached.set()
        except ConnectionClosed as closed:
            self.ended = f"the server closed the receiver's connection: {closed}"
            self.reached.set()

    async def feed(self, end: int, target: bytes) -> bool:
        """Send the updates up to index ``end``; wait until the receiver's state is
        ``target``. False if the receiver gave up (the rest is not fed)."""
        if self.ended:
            return False
        self.target = target
        self.reached.clear()
        cpu_before = self.server.cpu()
        started = time.perf_counter()
        window, have_to = self.window, self.clock_after
        for index in range(self.sent, end):
            while window and index >= window and have_to[index - window] > self.have:
                if self.receiving.done():
                    break  # the receiver gave up: send the rest anyway, it is counted as lost
                self.progress.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1):  # no task per wait, unlike wait_for
                        await self.progress.wait()
            await self.sender.send(self.messages[index])
            if index % self.yield_every == self.yield_every - 1:
                # send() rarely suspends on loopback: let the receiver (and keepalive
                # pongs) run too, or the server times the connections out.
                await asyncio.sleep(0)
        self.sent = end
        self.send_seconds += time.perf_counter() - started
        while not self.reached.is_set():
            before = self.received
            try:
                await asyncio.wait_for(self.reached.wait(), QUIET_LIMIT)
            except TimeoutError:
                if self.received == before:
                    self.ended = f"nothing arrived for {QUIET_LIMIT:g} s"
                    break
        seconds = time.perf_counter() - started
        cpu_after = self.server.cpu()
        if self.ended:
            seconds -= QUIET_LIMIT  # the wait for nothing is not part of the run
        self.seconds += seconds
        if self.cpu is not None and cpu_before is not None and cpu_after is not None:
            self.cpu += cpu_after - cpu_before
        else:
            self.cpu = None
        return not self.ended

    async def close(self) -> RelayResult:
        state = self.target
        have = sum(protocol.decode_state_vector(self.receiver_doc.get_state()).values())
        total = sum(protocol.decode_state_vector(state).values())
        converged = not self.ended and self.sent == len(self.updates)
        result = RelayResult(
            self.server.kind, len(self.updates), self.seconds, self.send_seconds,
            self.received, converged, missing_chars=total - have, total_chars=total,
            ended=self.ended, cpu_seconds=self.cpu or None, pattern=self.pattern,
            peak_rss=self.server.peak_rss(),
        )
        if not converged:  # does the room itself have everything? Ask as a new client,
            # while the others are still connected (pycrdt-websocket deletes an empty room).
            fresh_doc: Doc[Any] = Doc(client_id=4)
            fresh = await handshake(self.room, fresh_doc)
            result.fresh_client_complete = fresh_doc.get_state() == state
            await fresh.close()
        self.receiving.cancel()
        for ws in (self.sender, self.receiver):
            await ws.close()
        self.echo.cancel()
        return result


def chunk_ends(updates: list[bytes], chunks: int) -> list[tuple[int, bytes]]:
    """``chunks`` cut points of the trace, each with the state vector the receiver has then."""
    doc: Doc[Any] = Doc()
    size = -(-len(updates) // chunks)
    ends = []
    for start in range(0, len(updates), size):
        for update in updates[start : start + size]:
            doc.apply_update(update)
        ends.append((min(start + size, len(updates)), doc.get_state()))
    return ends


async def relay(
    server: ServerProcess,
    updates: list[bytes],
    final_state: bytes,
    window: int = 0,
    *,
    yield_every: int = 64,
    pattern: str = "",
) -> RelayResult:
    """Send every update through ``server`` in one go; time the receiver until it has them all."""
    session = RelaySession(server, updates, window, yield_every=yield_every, pattern=pattern)
    await session.open()
    await session.feed(len(updates), final_state)
    return await session.close()


def print_row(result: RelayResult) -> None:
    print(result.row(), flush=True)
    if result.fresh_client_complete is not None:
        verdict = "has every edit" if result.fresh_client_complete else "lacks edits too"
        print(f"  {'':<17}(receiver: {result.ended}; a client joining afterwards: "
              f"the room {verdict})", flush=True)


async def run_all(
    updates: list[bytes],
    *,
    patterns: list[str],
    servers: list[str],
    repeat: int = 1,
    profile: Path | None = None,
    window: int | None = None,
) -> list[RelayResult]:
    """Relay ``updates`` through every server, pattern by pattern, the servers in turn.

    Each run starts a process per server, then feeds them the trace in
    :data:`CHUNKS` chunks, taking turns (the order rotates each chunk): a
    machine that slows down or speeds up during the minutes of a run then
    weighs on every server alike, where running one server after another let
    it favour whichever ran in a quiet minute. ``window``: overrides the
    patterns' own (0: the sender never waits).
    """
    chunks = chunk_ends(updates, max(1, min(CHUNKS, len(updates) // 1000)))
    results = []
    for pattern in patterns:
        how = PATTERNS[pattern]
        if window is not None:
            says = f"sender up to {window:,} edits ahead" if window else "sender never waits"
            how = Pattern(window, how.yield_every, f"{says}, {how.yield_every} sends per turn")
        print(f" {pattern} ({how.says}):", flush=True)
        for attempt in range(repeat):
            processes: list[ServerProcess] = []
            try:
                for kind in servers:
                    stats = None
                    if profile is not None:
                        stats = profile / f"{kind}-{pattern}-{attempt + 1}.prof"
                    processes.append(await ServerProcess.start(kind, stats))
                sessions = [
                    RelaySession(server, updates, how.window, yield_every=how.yield_every,
                                 pattern=pattern)
                    for server in processes
                ]
                for session in sessions:
                    await session.open()
                for turn, (end, state) in enumerate(chunks):
                    for k in range(len(sessions)):
                        await sessions[(k + turn) % len(sessions)].feed(end, state)
                for session in sessions:
                    result = await session.close()
                    print_row(result)
                    results.append(result)
            finally:
                for server in processes:
                    await server.stop()
    return results


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def median_cpu(runs: list[RelayResult], kind: str) -> float | None:
    per_edit = [r.cpu_per_edit for r in runs if r.server == kind and r.cpu_per_edit]
    return median(per_edit) if per_edit else None


def compare(results: list[RelayResult], patterns: list[str]) -> None:
    """Per pattern: the course's server against Node's (median over repeats)."""
    for pattern in patterns:
        runs = [r for r in results if r.pattern == pattern]
        node_cpu = median_cpu(runs, "node")
        for kind in JUDGED:
            ours = median_cpu(runs, kind)
            mine = [r for r in runs if r.server == kind]
            if ours is None or node_cpu is None or not mine:
                continue
            ok = all(r.converged for r in mine) and ours <= node_cpu
            print(f"  {pattern}: {kind} server CPU/edit {ours * 1e6:.0f} us vs node "
                  f"{node_cpu * 1e6:.0f} us ({ours / node_cpu:.2f}x); every run converged and "
                  f"at or under Node: {'yes' if ok else 'NO'}")


async def bytecodes_per_message(
    updates: list[bytes], warm: int = 2000, counted: int = 1000
) -> float:
    """Python bytecodes the course's server runs per relayed update: a figure that, unlike
    CPU time on a shared machine, does not move from run to run (same Python, same pycrdt).

    An in-process server and two real clients; each update is handed to the sender's
    connection as one read (as one edit at a time arrives), the receiver's writes
    are dropped, and ``sys.settrace`` counts opcodes over ``counted`` updates.
    """
    from websockets.frames import Frame, Opcode

    from rtlab.topics.collaboration.server import SyncServer

    frames = [Frame(Opcode.BINARY, protocol.sync_update(u)).serialize(mask=True, extensions=[])
              for u in updates[: warm + counted]]
    server = await SyncServer.start("bench-bytecodes")
    clients = [await connect(server.room_url("count"), proxy=None) for _ in range(2)]
    await asyncio.sleep(0.1)  # both have joined
    sender, receiver = (peer.conn for peer in server.members["count"].values())
    receiver.transport.write = lambda data: None  # type: ignore[method-assign]
    opcodes = 0

    def trace(frame: Any, event: str, arg: Any) -> Any:
        nonlocal opcodes
        frame.f_trace_opcodes = True
        opcodes += event == "opcode"
        return trace

    try:
        for data in frames[:warm]:
            sender.data_received(data)
        sys.settrace(trace)
        try:
            for data in frames[warm:]:
                sender.data_received(data)
        finally:
            sys.settrace(None)
    finally:
        del receiver.transport.write
        for client in clients:
            await client.close()
        await server.stop()
    return opcodes / max(1, len(frames) - warm)


def bench_collab(
    edits: int | None = None,
    patterns: list[str] | None = None,
    servers: list[str] | None = None,
    repeat: int = 1,
    profile: Path | None = None,
    window: int | None = None,
) -> list[RelayResult]:
    """Print (and return) the relay figures of every server on this machine, both patterns.

    ``edits``: a prefix of the trace (None: all of it); ``patterns``, ``servers``: subsets
    of :data:`PATTERNS` and :data:`SERVERS`; ``repeat``: runs of each, to see the
    spread; ``profile``: a folder for cProfile statistics of the course's servers;
    ``window``: edits the sender may be ahead, for every pattern (0: never waits).
    """
    reason = traces.missing(TRACE)
    if reason:
        print(f"Collaboration relay benchmark skipped: {reason}")
        return []
    updates, how = trace_updates()
    if edits is not None:
        updates = updates[:edits]
    patterns = patterns or list(PATTERNS)
    kinds = [
        k for k in servers or SERVERS
        if (k != "node" or node.missing() is None)
        and (k != "course-uvloop" or uvloop_available())
    ]
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
    print(f"Yjs relay: {len(updates):,} edits of the {TRACE} trace (one update each; {how}), "
          f"sender -> server -> receiver on 127.0.0.1; each server in its own "
          f"process, its CPU time and peak memory read from /proc", flush=True)
    results = asyncio.run(run_all(
        updates, patterns=patterns, servers=kinds, repeat=repeat, profile=profile,
        window=window))
    if node.missing() is not None and (servers is None or "node" in servers):
        print(f"  node              skipped: {node.missing()}")
    compare(results, patterns)
    if servers is None or "course" in servers:
        count = asyncio.run(bytecodes_per_message(updates))
        print(f"  course server: {count:,.0f} Python bytecodes per relayed update, one per read "
              f"(counted with sys.settrace over 1,000 updates; steady from run to run)")
    print(f"  {traces.ATTRIBUTION}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rtlab.topics.collaboration.bench", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=None, help="replay only the first N edits")
    parser.add_argument("--pattern", action="append", choices=list(PATTERNS),
                        help="arrival pattern (repeatable; default: both)")
    parser.add_argument("--server", action="append", choices=SERVERS,
                        help="server to run (repeatable; default: all)")
    parser.add_argument("--window", type=int, default=None,
                        help="edits the sender may be ahead, in every pattern (0: never waits)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each server and pattern")
    parser.add_argument("--profile", type=Path, default=None,
                        help="folder for cProfile stats of the course's servers (slows them)")
    parser.add_argument("--serve", choices=SERVERS[:4], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serving = serve_until_stdin_closes(args.serve, args.profile and str(args.profile))
        run_standalone(serving, uvloop=args.serve == "course-uvloop")
        return 0
    bench_collab(args.edits, args.pattern, args.server, args.repeat, args.profile,
                 args.window)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
