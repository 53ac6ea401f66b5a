"""Real infrastructure the course starts itself, on free loopback ports.

Used by module 10 (scaling out) and the capstone; it knows neither.

- :class:`RedisServer`: a ``redis-server`` with an append-only file in a temporary
  folder (so streams and presence keys survive :meth:`RedisServer.restart`, as in
  production), bound to 127.0.0.1, no persistence outside that folder.
- :class:`HAProxy`: an ``haproxy`` in front of 2-4 servers, configured per demo:
  ``"roundrobin"``, ``"sticky"`` (a cookie names the server), or ``"room-hash"``
  (consistent hashing of the ``room`` query parameter). ``idle`` is its tunnel timeout:
  a WebSocket silent for that long both ways is cut, as a cloud load balancer does.

Both are asyncio subprocesses in a process group of their own, registered with
:mod:`rtlab.live.registry` so ``stop_all`` ends them; neither is a system service. On
Linux each also asks the kernel for SIGTERM when the process that started it dies, so a
Jupyter kernel killed outright (SIGKILL, a crash) leaves no redis-server or haproxy behind.
:func:`missing` says what is not installed and the command that installs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

from rtlab.live.registry import forget, register

__all__ = ["HAProxy", "RedisServer", "free_port", "missing"]

LOOPBACK = "127.0.0.1"
INSTALL = {"redis-server": "redis-server", "haproxy": "haproxy"}


def missing(*programs: str) -> str | None:
    """None when every program is installed, else what to run to install the rest."""
    absent = [p for p in programs if shutil.which(p) is None
              and not os.access(f"/usr/sbin/{p}", os.X_OK)]
    if not absent:
        return None
    packages = " ".join(INSTALL.get(p, p) for p in absent)
    return (f"{', '.join(absent)} not installed: sudo apt-get install {packages} "
            "(conda: conda install -c conda-forge redis-server; Binder reads apt.txt)")


def _which(program: str) -> str:
    found = shutil.which(program) or (f"/usr/sbin/{program}"
                                      if os.access(f"/usr/sbin/{program}", os.X_OK) else None)
    if found is None:
        raise FileNotFoundError(missing(program))
    return found


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux's PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


# Other systems have no such request; there a killed kernel leaves them to kill by pid.
CHILD_SETUP = _die_with_parent if sys.platform == "linux" else None


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


async def _wait_for_port(port: int, proc: asyncio.subprocess.Process, what: str,
                         timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        try:
            _, writer = await asyncio.open_connection(LOOPBACK, port)
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not listen on port {port} within "
                                   f"{timeout:g} s") from None
            await asyncio.sleep(0.02)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


async def _kill(proc: asyncio.subprocess.Process | None, sig: int = signal.SIGKILL) -> None:
    if proc is None or proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    await proc.wait()


class RedisServer:
    """A real redis-server on a free loopback port; data in a temporary folder."""

    def __init__(self, name: str, home: Path, port: int) -> None:
        self.name, self.home, self.port = name, home, port
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts: list[float] = []

    @classmethod
    async def start(cls, name: str = "redis") -> RedisServer:
        home = Path(tempfile.mkdtemp(prefix="rtlab-redis-"))
        server = cls(name, home, free_port())
        await register(name, server)
        await server._launch()
        return server

    async def _launch(self) -> None:
        args = [_which("redis-server"), "--port", str(self.port), "--bind", LOOPBACK,
                "--dir", str(self.home), "--appendonly", "yes", "--appendfsync", "always",
                "--save", "", "--daemonize", "no", "--logfile", str(self.home / "redis.log")]
        self.proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
            preexec_fn=CHILD_SETUP)
        await _wait_for_port(self.port, self.proc, "redis-server")

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    async def restart(self, downtime: float = 0.5) -> None:
        """Kill the process (no goodbye to any client), wait, start it again: the
        append-only file brings back streams and keys; pub/sub subscribers are cut."""
        self.restarts.append(time.monotonic())
        await _kill(self.proc)
        await asyncio.sleep(downtime)
        await self._launch()

    async def stop(self) -> None:
        forget(self.name, self)
        await _kill(self.proc)
        shutil.rmtree(self.home, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<RedisServer {self.name!r} on {self.url}>"


BALANCE = {
    "roundrobin": "balance roundrobin",
    "sticky": "balance roundrobin\n    cookie SERVERID insert indirect nocache",
    "room-hash": "balance url_param room\n    hash-type consistent",
}


class HAProxy:
    """A real HAProxy in front of ``servers`` ({name: port}), on a free loopback port."""

    def __init__(self, name: str, home: Path, port: int, balance: str,
                 servers: dict[str, int], idle: float = 60.0) -> None:
        self.name, self.home, self.port = name, home, port
        self.balance, self.servers, self.idle = balance, servers, idle
        self.proc: asyncio.subprocess.Process | None = None

    @classmethod
    async def start(cls, name: str, servers: dict[str, int],
                    balance: str = "roundrobin", idle: float = 60.0) -> HAProxy:
        if balance not in BALANCE:
            raise ValueError(f"balance must be one of {sorted(BALANCE)}, not {balance!r}")
        home = Path(tempfile.mkdtemp(prefix="rtlab-haproxy-"))
        proxy = cls(name, home, free_port(), balance, servers, idle)
        await register(name, proxy)
        (home / "haproxy.cfg").write_text(proxy.config(), encoding="utf-8")
        proxy.proc = await asyncio.create_subprocess_exec(
            _which("haproxy"), "-db", "-f", str(home / "haproxy.cfg"),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
            preexec_fn=CHILD_SETUP)
        await _wait_for_port(proxy.port, proxy.proc, "haproxy")
        return proxy

    def config(self) -> str:
        cookie = self.balance == "sticky"
        lines = [f"    server {name} {LOOPBACK}:{port} check inter 200ms fall 1 rise 1"
                 + (f" cookie {name}" if cookie else "") for name, port in self.servers.items()]
        return "\n".join([
            "global",
            "    maxconn 4000",  # about 2 fds per proxied connection: stay under ulimit -n
            "defaults",
            "    mode http",
            "    timeout connect 1s",
            "    timeout client 60s",
            "    timeout server 60s",
            f"    timeout tunnel {round(self.idle * 1000)}ms",
            "    option redispatch",  # a dead server's clients go elsewhere, cookie or not
            "frontend front",
            f"    bind {LOOPBACK}:{self.port}",
            "    default_backend servers",
            "backend servers",
            f"    {BALANCE[self.balance]}",
            *lines,
            "",
        ])

    @property
    def url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}"

    async def stop(self) -> None:
        forget(self.name, self)
        await _kill(self.proc)
        shutil.rmtree(self.home, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<HAProxy {self.name!r} on {self.url}, {self.balance}, {len(self.servers)} servers>"
