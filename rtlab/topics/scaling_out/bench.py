"""Benchmark: one chat server process alone, then 2 and 4 behind Redis, same run.

``make bench`` (``python -m rtlab.bench --only scaling``) starts a redis-server, then for
1, 2 and 4 server *processes* (each a :class:`~.live.RelayNode` with the pub/sub demo
relay, started as ``python -m rtlab.topics.scaling_out.bench serve``), connects the
same clients round robin straight to the servers, offers the same message rate for a
few seconds, and prints messages per second delivered, p50/p99 delivery latency, the
scaling ratio against one process, and the CPU each process used: the busiest one is
where scaling stops. Loopback only; clients run in this process.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
from dataclasses import dataclass

from rtlab.topics.scaling_out.live import RoomClient, tally
from rtlab.topics.scaling_out.parts import RedisServer, missing

ROOMS, PER_ROOM = 10, 8  # 80 clients; each message fans out to the 8 of its room
RATE = 1500.0  # messages per second offered for throughput (more than one process takes)
STEADY = 200.0  # messages per second for the latency run (well under saturation)
SECONDS = 3.0


@dataclass
class Row:
    servers: int
    per_second: float
    p50_ms: float
    p99_ms: float
    missing: int  # in the latency run
    cpu: dict[str, float]  # process -> share of one core during the run


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _start_server(name: str, redis_url: str) -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rtlab.topics.scaling_out.bench", "serve", name, redis_url,
        stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 10)
    return proc, int(line)


async def _round(redis: RedisServer, servers: int) -> Row:
    procs = [await _start_server(f"s{i + 1}", redis.url) for i in range(servers)]
    people = [RoomClient(f"ws://127.0.0.1:{procs[i % servers][1]}", f"c{i}",
                         f"r{i % ROOMS}") for i in range(ROOMS * PER_ROOM)]
    try:
        for p in people:
            p.start()
        await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in people)), 10)
        await asyncio.sleep(0.3)
        pids = {"redis": redis.proc.pid if redis.proc else 0, "clients": os.getpid(),
                **{f"server s{i + 1}": proc.pid for i, (proc, _) in enumerate(procs)}}
        # Throughput: offer more than a process can take; count what arrives in time.
        before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
        start, spent = await _offer(people, RATE, SECONDS, "t")
        cpu = {name: (_cpu_seconds(pid) - before[name]) / spent for name, pid in pids.items()}
        arrived = sum(1 for p in people for r in p.received
                      if r.text.startswith("t") and r.t <= start + spent)
        await asyncio.sleep(2.0)  # let the backlog drain before the latency run
        # Latency: a steady rate well under saturation.
        for p in people:
            p.received.clear()
        sent: dict[str, dict[str, tuple[float, str]]] = {f"r{r}": {} for r in range(ROOMS)}
        await _offer(people, STEADY, SECONDS, "l", sent)
        await asyncio.sleep(1.0)
        rooms = [tally([p for p in people if p.room == room], msgs)
                 for room, msgs in sent.items()]
        latencies = sorted(x for t in rooms for x in t.latencies)
        p50 = 1000 * latencies[len(latencies) // 2] if latencies else math.nan
        p99 = 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else math.nan
        return Row(servers, arrived / PER_ROOM / spent, p50, p99,
                   sum(t.missing for t in rooms), cpu)
    finally:
        for p in people:
            await p.stop()
        for proc, _ in procs:
            proc.kill()
            await proc.wait()


async def _offer(people: list[RoomClient], rate: float, seconds: float, tag: str,
                 sent: dict[str, dict[str, tuple[float, str]]] | None = None
                 ) -> tuple[float, float]:
    """Send ``rate`` messages a second, round the clients, for ``seconds``."""
    start, k = time.monotonic(), 0
    while (elapsed := time.monotonic() - start) < seconds:
        while k < int(elapsed * rate):
            speaker = people[k % len(people)]
            text = f"{tag}{k}"
            if sent is not None:
                sent[speaker.room][text] = (time.monotonic(), speaker.client)
            await speaker.send(text)
            k += 1
        await asyncio.sleep(0.002)
    return start, time.monotonic() - start


async def run_bench() -> list[Row]:
    redis = await RedisServer.start("bench-redis")
    try:
        return [await _round(redis, n) for n in (1, 2, 4)]
    finally:
        await redis.stop()


def bench_scaling() -> None:
    """Print messages/s, p50/p99 latency and CPU per process for 1, 2 and 4 servers."""
    absent = missing("redis-server")
    if absent:
        print(f"skipped: {absent}")
        return
    rows = asyncio.run(run_bench())
    print(f"{ROOMS} rooms x {PER_ROOM} clients; throughput: {RATE:.0f} messages/s offered "
          f"for {SECONDS:g} s; latency: {STEADY:.0f} messages/s; {os.cpu_count()} CPUs")
    base = rows[0].per_second
    for row in rows:
        busiest = max(row.cpu, key=lambda name: row.cpu[name])
        shares = ", ".join(f"{name} {share:.0%}" for name, share in row.cpu.items())
        print(f"{row.servers} server process{'es' if row.servers > 1 else ''}: "
              f"{row.per_second:7.0f} messages/s ({row.per_second * PER_ROOM:.0f} deliveries/s, "
              f"x{row.per_second / base:.2f} of one), p50 {row.p50_ms:6.1f} ms, "
              f"p99 {row.p99_ms:6.1f} ms at {STEADY:.0f}/s, {row.missing} missing; "
              f"busiest: {busiest} ({row.cpu[busiest]:.0%} of a core); all processes "
              f"{sum(row.cpu.values()):.0%} of one core  [{shares}]")


async def _serve(name: str, redis_url: str) -> None:
    from rtlab.topics.scaling_out.demo import DemoRelay
    from rtlab.topics.scaling_out.live import RelayNode

    node = await RelayNode.start(name, DemoRelay(name), redis_url)
    print(node.port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "serve":
    asyncio.run(_serve(sys.argv[2], sys.argv[3]))
