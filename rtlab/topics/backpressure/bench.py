"""Benchmarks of module 08 (``make bench``): the reference room against bare
``websockets.broadcast()``, a stalled reader in a busy room for 60 s, and the cost of
one broadcast against room size.

They load the reference solution (``solutions/backpressure.py``): the figures are the
course's promises about its own room server, measured on this machine.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection

from rtlab import course
from rtlab.learner import load_module
from rtlab.live import FaultProxy, LiveServer
from rtlab.live.proxy import unsent_bytes
from rtlab.topics.backpressure.live import CountingEncoder, RoomServer, SqliteStore, fanout_cost

MESSAGE_BYTES = 100


def reference_room() -> Callable[..., Any]:
    path = course.load().exercise("backpressure").solution_path
    return load_module(path, "backpressure_bench_reference").Room  # type: ignore[no-any-return]


async def _clients(url: str, count: int) -> list[ClientConnection]:
    clients: list[ClientConnection] = []
    for start in range(0, count, 100):  # in batches: the backlog is 1024
        batch = [connect(url, compression=None, max_queue=None)
                 for _ in range(min(100, count - start))]
        clients += await asyncio.gather(*batch)
    return clients


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until every handler has started (a handshake ends before its handler runs)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


class _Fleet:
    """Clients that count, per message number, how many of them have it."""

    def __init__(self, clients: list[ClientConnection]) -> None:
        self.clients = clients
        self.got: dict[int, int] = {}
        self.done: dict[int, asyncio.Event] = {}
        self.readers = [asyncio.create_task(self._read(ws)) for ws in clients]

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            i = int(bytes(raw if isinstance(raw, bytes) else raw.encode())[:8])
            self.got[i] = self.got.get(i, 0) + 1
            if self.got[i] == len(self.clients):
                self.done[i].set()

    async def round(self, i: int, send: Callable[[bytes], Any]) -> tuple[float, float]:
        """(seconds to hand message ``i`` to every socket, seconds until all have it)."""
        self.done[i] = asyncio.Event()
        frame = f"{i:08d}".encode() + b"x" * (MESSAGE_BYTES - 8)
        started = time.perf_counter()
        send(frame)
        handed = time.perf_counter() - started
        await asyncio.wait_for(self.done[i].wait(), 30)
        return handed, time.perf_counter() - started

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        for ws in self.clients:
            ws.transport.abort()


async def _fanout(clients: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    conns: set[ServerConnection] = set()

    async def hold(conn: ServerConnection) -> None:
        conns.add(conn)
        try:
            await conn.wait_closed()
        finally:
            conns.discard(conn)

    bare = await LiveServer.start("bench-bare", hold, compression=None)
    room = await RoomServer.start("bench-room", reference_room(), users={"viewer": True},
                                  max_bytes=64 * 1024)
    # The reference formats with encode(); here it hands on the bare bench bytes, so both
    # sides send the same 100-byte frame and only the fan-out differs.
    room.room.encode = lambda message: message["body"]["text"].encode()
    bare_fleet = _Fleet(await _clients(bare.url, clients))
    room_fleet = _Fleet(await _clients(f"{room.url}/?user=viewer", clients))
    await _until(lambda: len(conns) == clients and len(room.conns) == clients)

    def publish(frame: bytes) -> None:
        closes = room.room.publish("feed", "event", "chat", {"text": frame.decode()},
                                   room.now())
        assert not closes
        room.flush()

    times: dict[str, list[tuple[float, float]]] = {"bare": [], "room": []}
    for i in range(rounds):  # interleaved, so both meet the same machine load
        times["bare"].append(await bare_fleet.round(i, lambda f: websockets.broadcast(conns, f)))
        await asyncio.sleep(0.05)
        times["room"].append(await room_fleet.round(i, publish))
        await asyncio.sleep(0.05)
    await bare_fleet.close()
    await room_fleet.close()
    await bare.stop()
    await room.stop()
    return times


def bench_fanout() -> None:
    """The reference room vs bare broadcast(): 100-byte messages to 1,000 loopback clients."""
    times = asyncio.run(_fanout(1000, 40))
    hand = {k: statistics.median(h for h, _ in v) for k, v in times.items()}
    end = {k: statistics.median(e for _, e in v) for k, v in times.items()}
    ratio = hand["room"] / hand["bare"]
    print(f"100-byte message to 1,000 loopback clients, median of 40 interleaved rounds:\n"
          f"  server hands it to every socket: bare broadcast() {hand['bare'] * 1000:.1f} ms, "
          f"reference room {hand['room'] * 1000:.1f} ms: {ratio:.2f}x "
          f"[budget <= 1.5x: {'within budget' if ratio <= 1.5 else 'OVER BUDGET'}]\n"
          f"  until the last client has it (clients in this process too): bare "
          f"{end['bare'] * 1000:.1f} ms, room {end['room'] * 1000:.1f} ms: "
          f"{end['room'] / end['bare']:.2f}x")


async def _stalled(seconds: float, fast: int, rate: float, size: int,
                   max_bytes: int) -> tuple[list[tuple[float, int, int]], int]:
    room = await RoomServer.start("bench-stall", reference_room(), users={"viewer": True},
                                  max_bytes=max_bytes, flood=(rate * 2, rate * 2))
    proxy = await FaultProxy.start("bench-stall-net", room.port)
    viewers = [await connect(f"{room.url}/?user=viewer", compression=None)
               for _ in range(fast)]
    stalled = await connect(f"{proxy.url}/?user=viewer", compression=None, max_queue=4)
    feed = await connect(room.url, compression=None)
    await proxy.wait_tunnels(1)
    proxy.stall_all("down")

    async def read(ws: ClientConnection) -> None:
        async for _ in ws:
            pass

    readers = [asyncio.create_task(read(ws)) for ws in viewers]
    tracing_here = not tracemalloc.is_tracing()  # stop what we start: it slows everything
    if tracing_here:
        tracemalloc.start()
    samples: list[tuple[float, int, int]] = []
    start = time.monotonic()
    pad = "p" * size
    for i in range(int(seconds * rate)):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        await feed.send(f'{{"kind":"live","key":"k{i % 5}","body":{{"i":{i},"p":"{pad}"}}}}')
        if i % int(rate) == 0:
            held = sum(unsent_bytes(c.transport) for c in room.conns.values())
            samples.append((time.monotonic() - start, tracemalloc.get_traced_memory()[0], held))
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    if tracing_here:
        tracemalloc.stop()
    for ws in [*viewers, stalled, feed]:
        ws.transport.abort()
    await proxy.stop()
    closes = len(room.closes)
    await room.stop()
    return samples, closes


def bench_stalled_reader(seconds: float = 60.0) -> None:
    """One client stops reading for ``seconds`` of a busy room: the server stays flat."""
    max_bytes, rate, size = 64 * 1024, 200.0, 1000
    samples, closes = asyncio.run(_stalled(seconds, 20, rate, size, max_bytes))
    first = samples[min(2, len(samples) - 1)]  # after the buffers have filled
    traced = [s[1] for s in samples]
    growth = max(traced) - first[1]
    print(f"one stalled reader for {seconds:g} s of a room sending {rate:g} x {size} B/s "
          f"to 20 readers: traced memory {first[1] / 2**20:.1f} MiB at {first[0]:.0f} s, "
          f"{traced[-1] / 2**20:.1f} MiB at the end, at most +{growth / 1024:.0f} KiB; "
          f"the room's bound is {max_bytes:,} bytes per client (plus a 16 KiB socket "
          f"buffer and websockets' 32 KiB write_limit); clients closed: {closes} (live data "
          "is dropped, oldest first, not the client) "
          f"[{'flat' if growth < 2 * max_bytes else 'GROWING'}]")


def bench_broadcast_cost() -> None:
    """One broadcast against room size, 10 to 10,000 members: reference room vs naive."""
    make_room = reference_room()
    print("members  reference room (publish + every take)      naive (query + dumps per member)")
    for members in (10, 100, 1000, 10000):
        store, encode = SqliteStore({f"u{i}": True for i in range(members)}), CountingEncoder()
        room = make_room(store, encode, max_bytes=64 * 1024, cursor_interval=0.05)
        for i in range(members):
            room.join(f"c{i}", f"u{i}", 0.0)
        before, rounds = store.queries, 5
        started = time.perf_counter()
        for r in range(rounds):
            room.publish("feed", "event", "chat", {"text": "x" * 100, "r": r}, 1.0)
            for i in range(members):
                room.take(f"c{i}")
        per = (time.perf_counter() - started) / rounds
        queries = (store.queries - before) / rounds
        naive = fanout_cost(members, "per recipient")
        print(f"{members:>7}  {per * 1000:8.2f} ms, {queries:.0f} queries, "
              f"{encode.calls / rounds:.0f} dumps     {naive.ms_per_broadcast:8.2f} ms, "
              f"{naive.queries_per_broadcast:.0f} queries, {naive.encodes_per_broadcast:.0f} dumps")
        store.db.close()
