"""A Python Yjs sync client for the kernel: a pycrdt ``Doc`` kept in sync over a real WebSocket.

::

    doc = Doc(client_id=1)
    text = doc.get("text", type=Text)
    alice = await SyncClient.start(server.room_url("notes"), doc, name="alice",
                                   user={"name": "Alice"})
    await alice.wait_synced()
    text += "hello"            # sent as an update, like y-websocket does
    alice.cut()                # the link drops (no close frame); edits continue offline
    text += " offline"
    alice.restore()            # reconnects: step 1/2 exchange merges both sides
    alice.peers                # awareness states of the others: {client id: state}
    await alice.stop()         # or: await rtlab.live.stop_all()

The *sync logic* is pluggable: any object with the exercise's ``Client``
interface (``connect``, ``disconnect``, ``receive``, ``local_update``) built
from the doc, by default the course's solution, so a notebook can run the
learner's own client on a live connection. This class does the I/O around
it: connecting and reconnecting (y-websocket's delays: 100 ms doubling up to
2.5 s, no jitter), watching the doc for local edits, and the awareness
protocol, which the sync logic does not see.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from pycrdt import Awareness, Doc, TransactionEvent
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from rtlab.live.registry import forget, raise_collected, register
from rtlab.topics.collaboration.interface import ClientFactory, ClientLogic, learner_module
from rtlab.wire import yjs as protocol

__all__ = ["ClientLogic", "SyncClient"]

RECONNECT_MIN, RECONNECT_MAX = 0.1, 2.5  # y-websocket: min(2^n x 100 ms, 2,500 ms)


def solution_client() -> ClientFactory:
    """The course's reference client logic (``solutions/collab.py``)."""
    from rtlab import course
    from rtlab.learner import load_module

    module = load_module(course.root() / "solutions" / "collab.py", "collab_solution_client")
    return learner_module(module).Client


class SyncClient:
    """One named client: a doc, its sync logic, a WebSocket that comes back after drops."""

    def __init__(
        self,
        url: str,
        doc: Doc[Any],
        *,
        name: str,
        logic: ClientFactory,
        user: dict[str, Any] | None,
    ) -> None:
        self.url = url
        self.doc = doc
        self.name = name
        self.logic = logic(doc)
        self.awareness = Awareness(doc)
        self.awareness.set_local_state(user if user is not None else {"name": name})
        self.connects = 0  # successful connections so far
        self.closes: list[tuple[int | None, str]] = []  # (code, reason) the server closed with
        self.sent = self.received = 0
        self.errors: list[BaseException] = []
        self._ws: ClientConnection | None = None
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._synced = asyncio.Event()
        self._link_up = asyncio.Event()
        self._link_up.set()
        self._remote = False  # True while the sync logic applies what the server sent
        self._stopped = False
        self._task: asyncio.Task[None] | None = None
        self._doc_sub = doc.observe(self._on_doc)
        self._awareness_sub = self.awareness.observe(self._on_awareness)

    @classmethod
    async def start(
        cls,
        url: str,
        doc: Doc[Any] | None = None,
        *,
        name: str = "client",
        logic: ClientFactory | None = None,
        user: dict[str, Any] | None = None,
    ) -> SyncClient:
        """Connect (in the background) ``doc`` to a room URL, replacing any client of that name.

        ``logic``: the client sync logic class (default: the course's solution);
        ``user``: this client's awareness state (default ``{"name": name}``).
        """
        client = cls(url, doc if doc is not None else Doc(), name=name,
                     logic=logic or solution_client(), user=user)
        await register(name, client)
        client._task = asyncio.get_running_loop().create_task(client._run())
        return client

    async def stop(self) -> None:
        """Disconnect for good (telling the others this client's awareness is gone)."""
        self._stopped = True
        forget(self.name, self)
        ws = self._ws
        if ws is not None:  # like y-websocket on destroy: say "gone", then close politely
            self.awareness.set_local_state(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._outbox.join(), 1.0)
                await asyncio.wait_for(ws.close(), 1.0)
            ws.transport.abort()  # a dead link must not hold the close for close_timeout
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            self.doc.unobserve(self._doc_sub)
            self.awareness.unobserve(self._awareness_sub)
        self.check()

    # -- the link -------------------------------------------------------------
    def cut(self) -> None:
        """Drop the link now (no close frame) and stay offline until :meth:`restore`."""
        self._link_up.clear()
        if self._ws is not None:
            self._ws.transport.abort()

    def restore(self) -> None:
        """Let the client reconnect (at once) after :meth:`cut`."""
        self._link_up.set()

    @property
    def online(self) -> bool:
        return self._ws is not None

    @property
    def synced(self) -> bool:
        """Connected and the server's sync step 2 has arrived."""
        return self._synced.is_set()

    async def wait_synced(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._synced.wait(), timeout)

    async def _run(self) -> None:
        failures = 0
        while not self._stopped:
            await self._link_up.wait()
            try:
                async with connect(self.url, open_timeout=5, max_size=None, proxy=None) as ws:
                    failures = 0
                    await self._session(ws)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError):
                pass
            except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                raise
            except BaseException as error:  # the sync logic raised (or made pycrdt panic):
                self.errors.append(error)  # report it at check()/stop(), keep reconnecting
            finally:
                self._offline()
            if self._stopped:
                return
            if self._link_up.is_set():
                await asyncio.sleep(min(RECONNECT_MIN * 2**failures, RECONNECT_MAX))
                failures += 1

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.connects += 1
        self._outbox = asyncio.Queue()  # what was queued for the old link is covered by step 1/2
        writer = asyncio.get_running_loop().create_task(self._write(ws))
        try:
            for message in self.logic.connect():
                self._outbox.put_nowait(message)
            # Announce ourselves with a new clock (pycrdt's Awareness sends it through
            # _on_awareness): peers that saw us leave would ignore our old clock.
            state = self.awareness.get_local_state()
            if state is not None:
                self.awareness.set_local_state(state)
            async for frame in ws:
                if isinstance(frame, str):
                    raise protocol.ProtocolError("the server sent a text frame")
                self.received += 1
                self._handle(frame)
        except ConnectionClosed as closed:
            if closed.rcvd is not None:
                self.closes.append((closed.rcvd.code, closed.rcvd.reason))
            raise
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _handle(self, frame: bytes) -> None:
        message = protocol.parse(frame, check_update=False)
        if message.kind == "awareness":
            for entry in protocol.decode_awareness(message.payload):
                if entry.state is not None and entry.client_id not in self.awareness.states:
                    # Someone removed (they dropped, or we were offline) is back. Clients
                    # such as y-websocket reannounce with the clock they had, which pycrdt
                    # would ignore as old news: forget the old clock so they reappear.
                    self.awareness.meta.pop(entry.client_id, None)
            self.awareness.apply_awareness_update(message.payload, "remote")
            return
        self._remote = True
        try:
            replies = self.logic.receive(frame)
        finally:
            self._remote = False
        for reply in replies:
            self._outbox.put_nowait(reply)
        if message.kind == "step2":
            self._synced.set()

    async def _write(self, ws: ClientConnection) -> None:
        while True:
            message = await self._outbox.get()
            try:
                await ws.send(message)
            finally:
                self._outbox.task_done()
            self.sent += 1

    def _offline(self) -> None:
        was_online, self._ws = self._ws is not None, None
        self._synced.clear()
        if was_online:
            self.logic.disconnect()
        # Like y-websocket: without a link, others' presence is unknown, not "still there".
        others = [c for c in self.awareness.states if c != self.awareness.client_id]
        self.awareness.remove_awareness_states(others, "offline")

    # -- local changes ------------------------------------------------------------
    def _on_doc(self, event: TransactionEvent) -> None:
        if self._remote:
            return  # the server's update, applied by the sync logic: not ours to send
        for message in self.logic.local_update(event.update):
            self._outbox.put_nowait(message)

    def _on_awareness(self, topic: str, change: tuple[dict[str, Any], Any]) -> None:
        _, origin = change
        if topic == "update" and origin == "local":
            self._send_awareness([self.awareness.client_id])

    def _send_awareness(self, client_ids: list[int]) -> None:
        if self._ws is not None:
            payload = self.awareness.encode_awareness_update(client_ids)
            self._outbox.put_nowait(protocol.awareness(payload))

    # -- observing --------------------------------------------------------------------
    @property
    def peers(self) -> dict[int, dict[str, Any]]:
        """Awareness states of the other clients this one knows of."""
        mine = self.awareness.client_id
        return {c: s for c, s in self.awareness.states.items() if c != mine}

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> float:
        """Wait until ``condition()`` holds (checked every 5 ms); return the seconds it took."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{self.name}: condition not met within {timeout:g} s")
            await asyncio.sleep(0.005)
        return time.monotonic() - started

    def check(self) -> None:
        """Raise errors the sync logic hit (and forget them)."""
        errors, self.errors = self.errors, []
        raise_collected(errors, f"client {self.name!r}")

    def __repr__(self) -> str:
        state = "synced" if self.synced else "online" if self.online else "offline"
        peers, connects = len(self.peers), self.connects
        return f"<SyncClient {self.name!r} {state}, {peers} peers, {connects} connects>"
