"""Node.js Yjs programs in ``js/`` (the real JavaScript client and server), driven from asyncio.

``NodeClient`` runs ``js/interop-client.mjs``: a y-websocket ``WebsocketProvider``
with real yjs, which answers JSON-line commands on stdin/stdout. ``missing()``
says why Node parts cannot run here (no node, or ``npm ci`` not done yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

from rtlab import course

__all__ = ["NodeClient", "js_dir", "missing"]

PACKAGES = ("yjs", "y-websocket", "ws", "@y/websocket-server")


def js_dir() -> Path:
    return course.root() / "js"


def missing() -> str | None:
    """None if node and the pinned npm packages are there; else what to do about it."""
    if shutil.which("node") is None:
        return "node is not installed (Node.js 18 or newer; Debian: apt-get install nodejs npm)"
    absent = [p for p in PACKAGES if not (js_dir() / "node_modules" / p / "package.json").exists()]
    if absent:
        return f"npm packages missing in js/ ({', '.join(absent)}): run  bash scripts/npm-deps.sh"
    return None


class NodeClient:
    """One ``interop-client.mjs`` process: a Yjs doc with a ``Y.Text`` named "text"."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, url: str, room: str, client_id: int, user: str = "node") -> NodeClient:
        reason = missing()
        if reason:
            raise RuntimeError(reason)
        process = await asyncio.create_subprocess_exec(
            "node", str(js_dir() / "interop-client.mjs"), url, room, str(client_id), user,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=js_dir(),
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            message = json.loads(line)
            waiter = self._waiting.pop(message.get("id", -1), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            elif "event" in message:
                self.events.append(message)
        for waiter in self._waiting.values():  # the process ended: nobody will answer
            if not waiter.done():
                waiter.set_exception(RuntimeError(f"node exited: {await self._stderr()}"))

    async def _stderr(self) -> str:
        if self.process.stderr is None:
            return ""
        with contextlib.suppress(Exception):
            return (await asyncio.wait_for(self.process.stderr.read(), 1)).decode()[-2000:]
        return ""

    async def call(self, cmd: str, timeout: float = 10, **args: Any) -> dict[str, Any]:
        """Send one command and return the answer (raises if node reports an error)."""
        assert self.process.stdin is not None
        ident = next(self._ids)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = answer
        self.process.stdin.write((json.dumps({"id": ident, "cmd": cmd, **args}) + "\n").encode())
        await self.process.stdin.drain()
        result = await asyncio.wait_for(answer, timeout)
        if not result.get("ok"):
            raise RuntimeError(f"node client: {result.get('error')}")
        return result

    async def state(self) -> dict[str, Any]:
        return await self.call("state")

    async def wait_for(self, predicate: Any, timeout: float = 10) -> dict[str, Any]:
        """Poll ``state()`` until ``predicate(state)`` holds; return that state."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            state = await self.state()
            if predicate(state):
                return state
            if loop.time() > deadline:
                raise TimeoutError(f"node client never reached the expected state; last: {state}")
            await asyncio.sleep(0.02)

    def kill(self) -> None:
        """End the process at once (SIGKILL): no goodbye, the OS closes its socket."""
        if self.process.returncode is None:
            self.process.kill()

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(Exception):
                await self.call("quit", timeout=2)
            try:
                await asyncio.wait_for(self.process.wait(), 2)
            except TimeoutError:
                self.kill()
        await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
