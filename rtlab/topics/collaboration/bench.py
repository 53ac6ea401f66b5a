"""Relay benchmark: a 259,778-edit editing trace through three Yjs sync servers, side by side.

``bench_collab()`` replays the automerge-paper trace (one Yjs update per edit,
typed once and cached) from a sender to a receiver through, in one run:

(a) the course's :class:`~rtlab.topics.collaboration.server.SyncServer` with the reference
    room logic, as configured by default (a backlog of updates goes out merged, up to 64 in one
    message) and with one message per update (``merge_run=1``), like the others;
(b) pycrdt-websocket's ``WebsocketServer`` as shipped (with a channel adapter
    for websockets' ``ServerConnection``);
(c) the Node.js reference server, ``@y/websocket-server`` (if node is installed).

Each server runs in its own process on 127.0.0.1, so its CPU time is its own;
the sender and the receiver share this process (as two clients of one
machine would share it). The sender writes every update as fast as the
server takes them and drains whatever comes back (pycrdt-websocket and the
Node server echo each update to its sender too); the receiver applies what it
gets to a pycrdt ``Doc``. Reported per server: edits per second from the first
send until the receiver's document holds every edit, the time for that, the
messages the receiver got (the course's server merges a backlog into fewer
messages), updates lost on the way, and server CPU per edit.

Run it: ``python -m rtlab.topics.collaboration.bench`` (``--edits N`` for a prefix,
``--window 0`` for an unpaced burst).

Measured on the reference machine (2 cores, November 2026, otherwise idle),
all 259,778 edits, edits/s until the receiver had everything / server CPU per edit:

=====================  ====================  ============================================
server                 paced (5,000 ahead)   unpaced burst
=====================  ====================  ============================================
course (merged)        24,651/s, 41 us       26,675/s, 36 us (4,076 messages)
course, unmerged       7,438/s, 119 us       12,255/s, 52 us
pycrdt-websocket       4,133/s, 239 us       65,609 updates relayed, then none: 194,169
                                             lost on the way (the room itself had all)
@y/websocket-server    5,513/s, 106 us       9,552/s, 62 us
=====================  ====================  ============================================

Under load (other jobs sharing the 2 cores) every rate fell by half or more,
the order stayed the same.
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

from pycrdt import Doc, Text
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from rtlab import course
from rtlab.topics.collaboration import node, traces
from rtlab.wire import yjs as protocol

__all__ = ["RelayResult", "bench_collab", "relay", "trace_updates"]

TRACE = "automerge-paper"
QUIET_LIMIT = 10.0  # seconds without a message before the receiver gives up
# Edits the sender may be ahead of the receiver by default: far below pycrdt-websocket's
# 65,536-update buffer, so the run measures speed; --window 0 shows what a burst does.
WINDOW = 5_000
SERVERS = ("course", "course-unmerged", "pycrdt-websocket", "node")


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
    if profiler is not None:
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
        """CPU seconds used so far (Linux /proc), None where that cannot be read."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
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

    @property
    def rate(self) -> float:
        return self.edits / self.seconds if self.converged else 0.0

    def row(self) -> str:
        cpu = f"{self.cpu_seconds / self.edits * 1e6:6.0f} us" if self.cpu_seconds else "     n/a"
        if self.converged:
            outcome = f"{self.rate:>8,.0f} edits/s  converged in {self.seconds:6.2f} s"
        else:
            outcome = (
                f"NOT converged: {self.edits - self.received:,} updates never relayed; receiver "
                f"lacks {self.missing_chars:,} of {self.total_chars:,} inserted chars"
            )
        return (
            f"  {self.server:<17}{outcome}   {self.received:>8,} messages   server CPU/edit {cpu}"
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


async def relay(
    server: ServerProcess, updates: list[bytes], final_state: bytes, window: int = 0
) -> RelayResult:
    """Send every update through ``server`` and time the receiver until it has them all.

    ``window``: the sender stays at most that many edits ahead of what the
    receiver has integrated, as a typist who sees the screen would (0: no
    limit, a burst as fast as the server takes them).
    """
    room = f"ws://127.0.0.1:{server.port}/bench-{server.kind}"
    receiver_doc: Doc[Any] = Doc(client_id=2)
    receiver = await handshake(room, receiver_doc)
    sender = await handshake(room, Doc(client_id=3))
    echo = asyncio.create_task(drain(sender))
    messages = [protocol.sync_update(u) for u in updates]
    received = have = 0
    done, progress = asyncio.Event(), asyncio.Event()
    clock_after = clocks(updates) if window else []

    ended = ""  # why the receiver stopped, if not converged

    async def receive() -> None:
        nonlocal received, have, ended
        try:
            while True:
                try:
                    frame = await asyncio.wait_for(receiver.recv(), QUIET_LIMIT)
                except TimeoutError:
                    ended = f"nothing arrived for {QUIET_LIMIT:g} s"
                    return
                message = protocol.parse(frame, check_update=False)  # type: ignore[arg-type]
                if message.kind in ("update", "step2"):
                    received += 1
                    receiver_doc.apply_update(message.payload)
                    state = receiver_doc.get_state()
                    if window:
                        have = sum(protocol.decode_state_vector(state).values())
                        progress.set()
                    if state == final_state:
                        done.set()
                        return
        except ConnectionClosed as closed:
            ended = f"the server closed the receiver's connection: {closed}"

    cpu_before = server.cpu()
    started = time.perf_counter()
    receiving = asyncio.create_task(receive())
    for index, message in enumerate(messages):
        while window and index >= window and clock_after[index - window] > have:
            if receiving.done():
                break  # the receiver gave up: send the rest anyway, it is counted as lost
            progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(progress.wait(), 1)
        await sender.send(message)
        if index % 64 == 63:
            # send() rarely suspends on loopback: let the receiver (and keepalive
            # pongs) run too, or the server times the connections out.
            await asyncio.sleep(0)
    sent = time.perf_counter() - started
    await receiving
    seconds = time.perf_counter() - started
    cpu_after = server.cpu()
    converged = done.is_set()
    if not converged:
        seconds -= QUIET_LIMIT  # the wait for nothing is not part of the run
    have = sum(protocol.decode_state_vector(receiver_doc.get_state()).values())
    total = sum(protocol.decode_state_vector(final_state).values())
    result = RelayResult(
        server.kind, len(updates), seconds, sent, received, converged,
        missing_chars=total - have, total_chars=total, ended=ended,
        cpu_seconds=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
    )
    if not converged:  # does the room itself have everything? Ask as a new client,
        # while the others are still connected (pycrdt-websocket deletes an empty room).
        fresh_doc: Doc[Any] = Doc(client_id=4)
        fresh = await handshake(room, fresh_doc)
        result.fresh_client_complete = fresh_doc.get_state() == final_state
        await fresh.close()
    for ws in (sender, receiver):
        await ws.close()
    echo.cancel()
    return result


async def run_all(edits: int | None, window: int) -> tuple[list[RelayResult], str, int]:
    updates, how = trace_updates()
    if edits is not None:
        updates = updates[:edits]
    final: Doc[Any] = Doc()
    text = final.get("text", type=Text)
    for update in updates:
        final.apply_update(update)
    final_state = final.get_state()
    results = []
    kinds = [k for k in SERVERS if k != "node" or node.missing() is None]
    for kind in kinds:
        server = await ServerProcess.start(kind)
        try:
            results.append(await relay(server, updates, final_state, window))
        finally:
            await server.stop()
    return results, how, len(str(text))


def bench_collab(edits: int | None = None, window: int = WINDOW) -> list[RelayResult]:
    """Print (and return) the relay figures of every server on this machine.

    ``window``: edits the sender may be ahead of the receiver (0: an unpaced burst).
    """
    reason = traces.missing(TRACE)
    if reason:
        print(f"Collaboration relay benchmark skipped: {reason}")
        return []
    results, how, chars = asyncio.run(run_all(edits, window))
    count = results[0].edits if results else 0
    pace = f"sender at most {window:,} edits ahead" if window else "unpaced burst"
    print(f"Yjs relay: {count:,} edits of the {TRACE} trace (one update each; {how}), "
          f"sender -> server -> receiver on 127.0.0.1 ({pace}), final text {chars:,} chars")
    for result in results:
        print(result.row())
        if result.fresh_client_complete is not None:
            verdict = "has every edit" if result.fresh_client_complete else "lacks edits too"
            print(f"  {'':<17}(receiver: {result.ended}; a client joining afterwards: "
                  f"the room {verdict})")
    if node.missing() is not None:
        print(f"  node              skipped: {node.missing()}")
    runs = {r.server: r for r in results}
    baseline = runs.get("pycrdt-websocket")
    for kind in ("course-unmerged", "course"):
        if kind in runs and baseline is not None:
            ours = runs[kind]
            ok = ours.converged and (not baseline.converged or ours.seconds <= baseline.seconds)
            print(f"  {kind} no slower than pycrdt-websocket: {'yes' if ok else 'NO'}")
    print(f"  {traces.ATTRIBUTION}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rtlab.topics.collaboration.bench", description=__doc__)
    parser.add_argument("--edits", type=int, default=None, help="replay only the first N edits")
    parser.add_argument("--window", type=int, default=WINDOW,
                        help=f"edits the sender may be ahead (default {WINDOW:,}; 0: burst)")
    parser.add_argument("--serve", choices=SERVERS[:3], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve_until_stdin_closes(args.serve))
        return 0
    bench_collab(args.edits, args.window)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
