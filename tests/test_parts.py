"""The real parts the course starts (redis-server, HAProxy) never outlive their kernel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from rtlab.live.parts import missing

CHILD = """
import asyncio, sys
from rtlab.live.parts import HAProxy, RedisServer

async def main():
    redis = await RedisServer.start("orphan-check")
    proxy = await HAProxy.start("orphan-check", {"s1": redis.port})
    print(redis.proc.pid, proxy.proc.pid, flush=True)
    await asyncio.sleep(60)  # killed long before

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead, only not yet reaped
        return stat.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_kernel_killed_outright_leaves_no_redis_server_or_haproxy_behind():
    if (absent := missing("redis-server", "haproxy")) and os.environ.get("CI") != "true":
        pytest.skip(absent)
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    pids = [int(pid) for pid in child.stdout.readline().split()]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    child.send_signal(signal.SIGKILL)  # no stop_all, no atexit: what a dead kernel does
    child.wait()
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = [pid for pid in pids if alive(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"still running after their parent was killed: {survivors}"
