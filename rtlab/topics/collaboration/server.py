"""A Yjs sync server for the kernel: real WebSockets, pluggable room logic.

``server = await SyncServer.start("collab", room=Room, store=folder)`` serves
``ws://127.0.0.1:PORT/<room name>``; y-websocket clients (JavaScript or the
course's Python :class:`rtlab.topics.collaboration.client.SyncClient`) connect to it. The
server does the I/O and the policy; *what* to answer is the room logic's job,
any object with the sans-I/O ``Room`` interface of the exercise
(:class:`rtlab.topics.collaboration.interface.RoomLogic`)::

    Room(saved: bytes | None)            # saved: what save() returned before a restart
    room.join(client)    -> [(client, message), ...]
    room.receive(client, message) -> [(client, message), ...]   # ValueError if invalid
    room.leave(client)   -> [(client, message), ...]            # awareness removal
    room.save()          -> bytes

What the server adds around the room logic
------------------------------------------
* **Rooms by path**, kept while empty (a client that comes back finds the
  document), and **persistence**: one file per room in ``store`` holding
  ``room.save()``, written atomically (temporary file + rename) a moment after
  changes, when a room empties, on :meth:`restart` and on :meth:`stop`. A
  server started again on the same folder reloads each room on first join.
  Why files and not pycrdt-store's SQLite store: ``save()`` already returns
  the whole state as bytes, a rename is atomic, and nothing needs an anyio
  task group that outlives a notebook cell.
* **Strict input**: every frame is checked (:func:`rtlab.wire.yjs.parse`)
  before the room sees it. A text frame closes that client with **1003**
  (unsupported data); a malformed message, truncated varint or undecodable
  update with **1007** (invalid payload data), with the reason in the close
  frame. The room is untouched, the other clients carry on. A frame over
  ``max_size`` (websockets' default 1 MiB; pass ``max_size=`` to change it)
  is closed by websockets itself with **1009** (message too big).
* **Bounded fan-out**: each client has its own send queue, written straight
  to its socket once the updates that arrived together have been handled (a
  callback, not a task per message: see "Cost per message" below); a run of
  queued updates goes out merged as one (a Yjs merge is about the size of
  what the client lacks, not of the number of edits). What the socket does
  not take at once (websockets' write buffer is full) waits in the queue,
  where it keeps merging. When a
  client's queue passes ``max_queue_bytes`` it is merged in place, and if
  what waits besides a sync step 2 (which may carry a whole document, once
  per connection) is still over half the limit, the client is cut with **1008**
  (policy violation): it reconnects and catches up with a sync step 1/2
  exchange. A slow reader never slows the room or grows the server
  without bound.
* **Awareness removal at once**: when a connection ends for any reason the
  room's ``leave`` tells the others, so nobody sees a ghost for 30 s.
  (Half-open links are found by keepalive pings: ``ping_interval`` plus
  ``ping_timeout``, 20 s each by default, then ``close_timeout``, 1 s here.)
* Room logic that raises anything but ``ValueError`` is a bug: that client is
  closed with **1011** and the error is raised by :meth:`check` / :meth:`stop`.

Cost per message
----------------
When edits arrive one at a time (each alone on the wire, nothing to batch),
every message costs a read, a room step and a write per recipient; the rest
is overhead. Server CPU per relayed edit, one edit in flight (see
:mod:`rtlab.topics.collaboration.bench`): reading with ``async for`` and
writing with ``send()`` from a writer task per client cost about 140 us
(Node.js's Yjs server, same runs: about 105 us). What changed, each measured:

* writes go out from a callback (at the end of the read that queued them, or
  ``call_soon``), not from a writer task per client; only a socket that
  pushes back is awaited: about a third less;
* reads of 64 KiB instead of asyncio's 256 KiB, which glibc served with
  mmap + mremap + munmap and two page faults on every read: system calls per
  relayed edit from 6 to 3, about a fifth less;
* once a connection is open, :class:`RelayConnection` splits the frames
  itself and hands a whole binary frame straight to the room (a small
  masked frame's 6-byte header is read inline), and a relayed message is one
  ``transport.write`` of its header and payload: websockets' generator-based
  parser, its queue for ``recv()`` and ``broadcast()`` cost about 15 us per
  edit (73 us to 56-66 us per edit over 60,000 edits, same machine);
* the strict check reads a keystroke's message without decoding varints,
  skips client ids with one regular-expression match and decodes small
  numbers inline: 7.5 us to 2.6 us a message;
* the only message of a read goes straight out to a peer with nothing
  waiting, without the queue and the flush pass (which exist to merge what
  arrives together).

Counted in Python bytecodes per relayed message (a deterministic measure,
unlike timings on a shared machine): 1,313 before the last trims, 1,051
after, of which the strict check takes 370, this module's plumbing 370 and
the reference room with pycrdt's wrappers 290. What is left, from /proc:
about half in the kernel (the three system calls, and waking the reader on
loopback) and half in the process. Full trace, one edit at a time, three
runs with the servers taking turns: this server 48-56 us per edit, on uvloop
44-52 us, Node's server 56-62 us, 0.86-0.90x Node's in every run (see
:mod:`rtlab.topics.collaboration.bench`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from pycrdt import merge_updates
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import Event, State

try:  # websockets' C unmasking, as websockets itself uses it
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - a build without the extension
    from websockets.utils import apply_mask

from rtlab.live.registry import forget, raise_collected, register
from rtlab.live.server import LiveServer
from rtlab.topics.collaboration.interface import Outgoing, RoomFactory, RoomLogic, learner_module
from rtlab.wire import yjs as protocol
from rtlab.wire.websocket import binary_frame, read_frame_head

__all__ = ["CLOSE_INVALID", "CLOSE_SLOW", "CLOSE_TEXT", "Peer", "RoomLogic", "SyncServer"]

CLOSE_TEXT = 1003  # unsupported data: y-protocols is binary
CLOSE_INVALID = 1007  # invalid payload data: not a well-formed message or update
CLOSE_SLOW = 1008  # policy violation: the client reads too slowly
CLOSE_BUG = 1011  # internal error: the room logic raised
UPDATE_PREFIX = bytes((protocol.SYNC, protocol.UPDATE))
STEP2_PREFIX = bytes((protocol.SYNC, protocol.STEP2))
ARROWS = {"in": "->", "out": "<-"}
# pycrdt's merge_updates costs more than linear time in the number of updates
# (measured: 100 small updates 0.24 ms, 1,000 12 ms, 5,000 218 ms), so runs are
# merged in pieces of this many.
MERGE_RUN = 64
READ_SIZE = 64 * 1024  # bytes asyncio reads from a socket at once (see RelayConnection)

def solution_room() -> RoomFactory:
    """The course's reference room logic (``solutions/collab.py``)."""
    from rtlab import course
    from rtlab.learner import load_module

    module = load_module(course.root() / "solutions" / "collab.py", "collab_solution_room")
    return learner_module(module).Room


class RelayConnection(ServerConnection):
    """A websockets connection that hands each binary message to ``on_message`` as it arrives.

    websockets parses every frame with a generator coroutine, queues each
    message for ``recv()`` and wakes the handler's task for it: several
    microseconds of Python and an event-loop turn per message, which a relay
    forwarding small updates one at a time pays on every edit. So once the
    opening handshake is done, this connection splits the byte stream into
    frames itself (a header is 2 to 14 bytes: :func:`rtlab.wire.websocket.read_frame_head`)
    and unmasks a complete, unfragmented binary frame straight into
    ``on_message``. Every other frame (ping, pong, close, text, fragments, a
    frame with RSV bits or no mask) goes to websockets whole, which answers it
    as usual, so websockets always sees frame boundaries and stays in charge of
    the protocol: keepalive, the closing handshake, and 1002/1009 refusals.
    It takes over the stream for good (nothing is split any more) when the
    connection starts closing, when a frame is over ``max_size`` (so it is never
    buffered here) and when a client sent bytes after its handshake request
    before the answer (websockets may hold part of a frame then).

    Binary messages go to ``recv()`` instead while ``on_message`` is None, and
    while earlier messages still wait there (so the order holds). After each
    read, ``after_read`` runs (the server writes what it queued).
    ``process_event`` and ``protocol`` are websockets' own, not public API:
    websockets is pinned in requirements.txt. tests/test_collab_framing.py
    covers frames split anywhere and every refusal, tests/test_collab_fanout.py
    the order, tests/test_collab_browser.py Chromium's WebSocket, and
    tests/test_fuzz_servers.py any byte stream.
    """

    on_message: Callable[[bytes], None] | None = None
    alone = False  # the message on_message has is all that this read brought
    after_read: Callable[[], None] | None = None
    waiting = 0  # messages handed to recv() and not taken yet
    _splitting = False  # this connection splits frames (see the class docstring)
    _can_split = True  # False: websockets takes every byte from now on
    _request = b""  # the bytes received before the handshake completed
    _partial = b""  # the start of a frame whose end has not arrived yet
    _limit = sys.maxsize  # the largest frame payload websockets would take (max_size)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # asyncio's socket transport reads into a new bytes object of max_size
        # (256 KiB) each time; glibc serves that size with mmap, so every read
        # cost mmap + mremap + munmap and two page faults (half the system calls
        # of a relayed message, measured). 64 KiB comes from the heap.
        if isinstance(getattr(transport, "max_size", None), int):
            transport.max_size = READ_SIZE  # type: ignore[attr-defined]

    def process_event(self, event: Event) -> None:
        if not isinstance(event, Frame):  # the opening handshake's request
            super().process_event(event)
            return
        if (
            self.on_message is not None and not self.waiting
            and event.opcode is Opcode.BINARY and event.fin
        ):
            self.on_message(bytes(event.data))
            return
        if event.fin and event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            self.waiting += 1
        super().process_event(event)

    def data_received(self, data: bytes) -> None:
        try:
            if self._splitting:
                self._split(data)
            elif self._can_split and self.protocol.state is State.OPEN:
                self._splitting = True
                sizes = (self.protocol.max_message_size, self.protocol.max_fragment_size)
                self._limit = min((n for n in sizes if n is not None), default=sys.maxsize)
                self._split(data)
            else:
                if self.protocol.state is State.CONNECTING:
                    self._watch_request(data)
                super().data_received(data)
        finally:
            if self.after_read is not None:
                self.after_read()

    def _watch_request(self, data: bytes) -> None:
        """Give up splitting if anything follows the request before the answer."""
        self._request += data
        end = self._request.find(b"\r\n\r\n")
        if (end != -1 and end + 4 < len(self._request)) or len(self._request) > READ_SIZE:
            self._can_split = False

    def _split(self, data: bytes) -> None:
        if self._partial:
            data = self._partial + data
            self._partial = b""
        protocol, limit = self.protocol, self._limit
        pos, size = 0, len(data)
        if protocol.state is not State.OPEN:
            return self._give_up(data)
        while pos < size:
            if size - pos > 6 and data[pos] == 0x82 and 0x80 <= data[pos + 1] < 0xFE:
                # The usual frame, read inline: a whole binary message under 126 bytes,
                # masked (2 bytes of header, 4 of mask).
                end = pos + 6 + data[pos + 1] - 0x80
                if end > size:
                    break  # the rest of the frame is still on its way
                if (
                    end - pos - 6 <= limit and self.on_message is not None
                    and not self.waiting and protocol.current_size is None
                ):
                    self.alone = pos == 0 and end == size
                    try:
                        self.on_message(apply_mask(data[pos + 6 : end], data[pos + 2 : pos + 6]))
                    finally:
                        self.alone = False
                    pos = end
                    continue
            head = read_frame_head(data, pos)
            if head is not None and head[3] - head[2] > limit:
                return self._give_up(data[pos:])  # websockets refuses it with 1009
            if head is None or head[3] > size:
                break
            first, masked, start, end = head
            if (
                first == 0x82 and masked and self.on_message is not None
                and not self.waiting and protocol.current_size is None
            ):  # a whole binary message, as a client must send it
                self.on_message(apply_mask(data[start:end], data[start - 4 : start]))
            else:
                super().data_received(data[pos:end])
                if protocol.state is not State.OPEN:  # a close frame, or a refusal
                    return self._give_up(data[end:])
            pos = end
        self._partial = data[pos:]

    def _give_up(self, rest: bytes) -> None:
        """From now on websockets reads every byte, starting with ``rest``."""
        self._splitting = self._can_split = False
        if rest:
            super().data_received(rest)

    def eof_received(self) -> None:
        if self._partial:  # a frame cut short: websockets reports it as it would
            partial, self._partial = self._partial, b""
            super().data_received(partial)
        super().eof_received()

    def send_now(self, message: bytes) -> bool:
        """Write ``message`` as one binary frame now; False if the connection is closing.

        What ``broadcast`` does for one connection, minus its per-call work.
        """
        if self.protocol.state is not State.OPEN or self.transport.is_closing():
            return False
        self.transport.write(binary_frame(message))
        return True


class Peer:
    """One connection: its id (what the room logic sees), queue and counters."""

    def __init__(self, peer_id: int, room: str, conn: RelayConnection) -> None:
        self.id = peer_id
        self.room = room
        self.conn = conn
        self.queue: deque[bytes] = deque()
        self.queued_bytes = 0
        self.most_queued_bytes = 0  # high-water mark, for the bounded-fan-out claim
        self.sent = self.received = 0
        self.merged = 0  # queued updates folded into merged ones
        # A flush of the queue is scheduled, or waits for the socket to drain.
        self.flushing = False
        self.drainer: asyncio.Task[None] | None = None
        self.cut = False
        self.refused = False  # a message was refused: the connection is being closed
        self.fault: tuple[int, str] = (CLOSE_INVALID, "rejected")  # why the room logic refused
        self.next_check = 0  # queued bytes at which to merge and check the backlog

    def __repr__(self) -> str:
        waiting = f"{len(self.queue)} queued ({self.queued_bytes} B)"
        return f"<Peer {self.id} in {self.room!r}: {waiting}>"


class SyncServer:
    """A named y-websocket compatible server on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        name: str,
        room: RoomFactory,
        store: Path | None,
        *,
        max_queue_bytes: int,
        save_delay: float,
        record: int,
        send_buffer: int | None,
        merge_run: int,
    ) -> None:
        self.name = name
        self.room_factory = room
        self.store = store
        self.max_queue_bytes = max_queue_bytes
        self.save_delay = save_delay
        self.send_buffer = send_buffer
        self.merge_run = merge_run
        self.rooms: dict[str, RoomLogic] = {}
        self.members: dict[str, dict[Hashable, Peer]] = {}
        self.closes: list[tuple[int, str, int, str]] = []  # (peer, room, code, reason)
        # (seconds, room, peer, "in"/"out", message): the last ``record`` messages
        self.log: deque[tuple[float, str, int, str, bytes]] = deque(maxlen=record or None)
        self.record = record
        self.errors: list[BaseException] = []
        self._ids = itertools.count(1)
        self._closing: set[asyncio.Task[None]] = set()
        self._dirty: set[str] = set()
        self._saver: asyncio.TimerHandle | None = None
        self._unflushed: list[Peer] = []  # peers with something queued to write
        self._reading = False  # inside a connection's read: it flushes when done
        self._alone = False  # handling the only message of a read (see _enqueue)
        self._flush_soon = False  # a flush of _unflushed is scheduled
        self._live: LiveServer | None = None
        self.t0 = time.monotonic()

    # -- life cycle ---------------------------------------------------------
    @classmethod
    async def start(
        cls,
        name: str = "collab",
        *,
        room: RoomFactory | None = None,
        store: str | Path | None = None,
        max_queue_bytes: int = 4 * 1024 * 1024,
        save_delay: float = 0.5,
        record: int = 0,
        send_buffer: int | None = None,
        merge_run: int = MERGE_RUN,
        **serve_options: Any,
    ) -> SyncServer:
        """Serve on ``127.0.0.1`` (a free port), replacing any sync server of that name.

        ``room``: the room logic class (default: the course's solution); ``store``:
        a folder for persistence (None: rooms live in memory only); ``record``:
        keep the last N messages in :attr:`log` for a timeline; ``send_buffer``:
        the kernel's send buffer per connection in bytes (None: the OS default,
        which grows to megabytes and hides a slow reader); ``merge_run``: how many
        queued updates may go out merged as one (1: one message per update).
        ``serve_options``
        go to ``websockets`` (e.g. ``ping_interval``, ``max_size``).
        """
        folder = Path(store) if store is not None else None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        server = cls(
            name, room or solution_room(), folder,
            max_queue_bytes=max_queue_bytes, save_delay=save_delay, record=record,
            send_buffer=send_buffer, merge_run=merge_run,
        )
        await register(name, server)
        # No permessage-deflate unless asked: Yjs updates are compact binary already,
        # and compressing every relayed message costs CPU per client (ws, the Node
        # server's library, leaves it off too).
        serve_options.setdefault("compression", None)
        # A peer that does not answer our close frame within 1 s is gone (default 10 s):
        # its awareness is removed only once its connection has ended.
        serve_options.setdefault("close_timeout", 1.0)
        serve_options.setdefault("create_connection", RelayConnection)
        server._live = await LiveServer.start(name, server._serve, **serve_options)
        return server

    async def stop(self) -> None:
        """Close every connection (1001), save every room, stop; raise collected errors."""
        forget(self.name, self)
        live, self._live = self._live, None
        try:
            if live is not None:
                await live.stop()
        finally:
            self._save_all()
        self.check()

    async def restart(self, downtime: float = 0.5) -> None:
        """Like a redeploy: close everyone (1001), save, forget the rooms in memory,
        refuse connections for ``downtime`` s, then serve rooms reloaded from the store.

        Without a store, rooms stay in memory (there is nothing to reload from).
        """
        assert self._live is not None, "server is stopped"
        await self._live.restart(downtime)
        self._save_all()
        if self.store is not None:
            self.rooms.clear()

    # -- rooms and persistence ------------------------------------------------
    def room(self, name: str) -> RoomLogic:
        """The room logic of ``name``, loaded from the store (or created) on first use."""
        if name not in self.rooms:
            path = self._path(name)
            saved = path.read_bytes() if path is not None and path.exists() else None
            self.rooms[name] = self.room_factory(saved)
        return self.rooms[name]

    def _path(self, room: str) -> Path | None:
        if self.store is None:
            return None
        return self.store / (quote(room, safe="") + ".ydoc")

    def stored_rooms(self) -> list[str]:
        """Room names with a saved file in the store."""
        if self.store is None:
            return []
        return sorted(unquote(p.name[: -len(".ydoc")]) for p in self.store.glob("*.ydoc"))

    def save(self, room: str) -> None:
        """Write ``room``'s state now (temporary file, then an atomic rename)."""
        path = self._path(room)
        self._dirty.discard(room)
        if path is None or room not in self.rooms:
            return
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(self.rooms[room].save())
        os.replace(temporary, path)

    def _save_all(self) -> None:
        if self._saver is not None:
            self._saver.cancel()
            self._saver = None
        for room in list(self._dirty):
            self.save(room)

    def _changed(self, room: str) -> None:
        self._dirty.add(room)
        if self._saver is None:
            self._saver = asyncio.get_running_loop().call_later(self.save_delay, self._save_due)

    def _save_due(self) -> None:
        self._saver = None
        try:
            self._save_all()
        except Exception as error:  # a full disk must not kill the loop; report it
            self.errors.append(error)

    # -- one connection -------------------------------------------------------
    async def _serve(self, conn: ServerConnection) -> None:
        assert isinstance(conn, RelayConnection)
        name = room_name(conn.request.path if conn.request else "/")
        room = self.room(name)
        peer = Peer(next(self._ids), name, conn)
        peer.next_check = self.max_queue_bytes
        if self.send_buffer is not None:
            sock = conn.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
        members = self.members.setdefault(name, {})
        members[peer.id] = peer
        try:
            if self._apply(peer, room.join, peer.id):
                conn.on_message = functools.partial(self._on_message, peer, room)
                conn.after_read = self._after_read
                await self._read(peer, room)
            else:
                await self._close(peer, *peer.fault)
        finally:
            conn.on_message = conn.after_read = None
            del members[peer.id]
            self._apply(peer, room.leave, peer.id)
            peer.cut = True  # nothing more goes to this connection
            if peer.drainer is not None:
                peer.drainer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await peer.drainer
            if not members and name in self._dirty:
                self.save(name)  # the last one left: write now, not in save_delay

    async def _read(self, peer: Peer, room: RoomLogic) -> None:
        """The messages the connection did not hand to :meth:`_on_message`."""
        async for frame in peer.conn:
            peer.conn.waiting -= 1
            if peer.refused:
                continue  # the close is under way: nothing more from this client
            refused = self._receive(peer, room, frame)
            if refused is not None:
                await self._close(peer, *refused)
                return

    def _on_message(self, peer: Peer, room: RoomLogic, frame: bytes) -> None:
        """A message, handled as soon as websockets has read it (no task switch)."""
        self._reading = True  # the connection calls _after_read when its read is done
        self._alone = peer.conn.alone
        refused = self._receive(peer, room, frame)
        self._alone = False
        if refused is not None:
            peer.refused = True
            peer.conn.on_message = None  # what follows goes to _read, which skips it
            task = asyncio.get_running_loop().create_task(self._close(peer, *refused))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def _receive(self, peer: Peer, room: RoomLogic, frame: str | bytes) -> tuple[int, str] | None:
        """Check one message and give it to the room; the close code and reason if refused."""
        if isinstance(frame, str):
            return CLOSE_TEXT, "y-protocols messages are binary; got a text frame"
        peer.received += 1
        if self.record:
            self._note(peer, "in", frame)
        try:
            protocol.parse(frame)
        except protocol.ProtocolError as error:
            return CLOSE_INVALID, str(error)
        if not self._apply(peer, room.receive, peer.id, frame):
            return peer.fault
        if self.store is not None:
            self._changed(peer.room)
        return None

    def _after_read(self) -> None:
        self._reading = False
        self._flush_all()

    def _apply(self, peer: Peer, step: Callable[..., Outgoing], *args: Any) -> bool:
        """Run one step of the room logic and queue what it says to send."""
        try:
            outgoing = list(step(*args))
        except ValueError as error:
            peer.fault = (CLOSE_INVALID, f"rejected by the room: {error}")
            return False
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # incl. pycrdt's PanicException (a BaseException)
            self.errors.append(error)
            peer.fault = (CLOSE_BUG, f"room logic failed: {type(error).__name__}")
            return False
        members = self.members.get(peer.room, {})
        for target, message in outgoing:
            to = members.get(target)
            if to is not None and not to.cut:
                self._enqueue(to, message)
        return True

    def _enqueue(self, peer: Peer, message: bytes) -> None:
        if self._alone and not peer.flushing and not peer.queue and not peer.conn.paused:
            # The only message of its read, to a peer with nothing waiting: there is
            # nothing to merge it with, so it goes out now.
            peer.conn.send_now(message)
            peer.sent += 1
            if self.record:
                self._note(peer, "out", message)
            return
        peer.queue.append(message)
        peer.queued_bytes += len(message)
        if peer.queued_bytes > peer.most_queued_bytes:
            peer.most_queued_bytes = peer.queued_bytes
        if peer.queued_bytes > peer.next_check:
            compact(peer, self.merge_run)
            # A sync step 2 may be big (it carries the whole document to a newcomer)
            # and is sent once per connection; a backlog beyond it means the client
            # does not keep up.
            step2 = max((len(m) for m in peer.queue if m.startswith(STEP2_PREFIX)), default=0)
            backlog = peer.queued_bytes - step2
            if backlog > self.max_queue_bytes // 2:
                self._cut_slow(peer)
                return
            # Merge again only after another half limit: merging is not free.
            peer.next_check = peer.queued_bytes + self.max_queue_bytes // 2
        if not peer.flushing:
            # Write once the messages that arrived together are handled (at the end
            # of the read, or in a callback), so that a burst goes out merged.
            peer.flushing = True
            self._unflushed.append(peer)
            if not self._reading and not self._flush_soon:
                self._flush_soon = True
                asyncio.get_running_loop().call_soon(self._flush_all)

    def _flush_all(self) -> None:
        self._flush_soon = False
        peers, self._unflushed = self._unflushed, []
        for peer in peers:
            self._flush(peer)

    def _cut_slow(self, peer: Peer) -> None:
        waiting = peer.queued_bytes
        peer.cut = True
        peer.queue.clear()
        peer.queued_bytes = 0
        limit = self.max_queue_bytes
        reason = f"too slow: {waiting} B waiting (limit {limit} B); reconnect to catch up"
        self.closes.append((peer.id, peer.room, CLOSE_SLOW, reason))
        # The writer may be stuck in send() behind a full socket buffer, so a
        # polite close could wait forever: send the close frame if it fits,
        # then drop the connection.
        task = asyncio.get_running_loop().create_task(close_now(peer.conn, CLOSE_SLOW, reason))
        self._closing.add(task)  # asyncio keeps only a weak reference to a task
        task.add_done_callback(self._closing.discard)

    def _flush(self, peer: Peer) -> None:
        """Write the peer's queue straight to its socket until the socket pushes back.

        Each message is one write of a whole frame (:meth:`RelayConnection.send_now`);
        flow control is ours: when the transport's buffer passes its high-water
        mark (``paused``), the rest waits in the queue, where it merges and is
        bounded by ``max_queue_bytes``, until the socket drains.
        """
        conn, limit = peer.conn, self.max_queue_bytes
        while peer.queue and not peer.cut:
            if conn.paused:
                peer.drainer = asyncio.get_running_loop().create_task(self._drain(peer))
                return  # still flushing: _drain carries on
            message = take_next(peer, self.merge_run)
            if peer.next_check > limit:  # the backlog shrank: check it again sooner
                peer.next_check = min(peer.next_check, max(limit, peer.queued_bytes + limit // 2))
            conn.send_now(message)  # writes nothing to a connection that is closing
            peer.sent += 1
            if self.record:
                self._note(peer, "out", message)
        peer.flushing = False

    async def _drain(self, peer: Peer) -> None:
        with contextlib.suppress(Exception):  # the link failed: the reader finds out too
            await peer.conn.drain()
        peer.drainer = None
        self._flush(peer)  # writes nothing to a connection that is closing or gone

    async def _close(self, peer: Peer, code: int, reason: str) -> None:
        reason = shorten(reason)
        self.closes.append((peer.id, peer.room, code, reason))
        await peer.conn.close(code, reason)

    def _note(self, peer: Peer, direction: str, message: bytes) -> None:
        self.log.append((time.monotonic() - self.t0, peer.room, peer.id, direction, message))

    # -- observing ------------------------------------------------------------
    def timeline(self, room: str | None = None) -> list[str]:
        """The recorded messages, one described line each (needs ``record=N``)."""
        return [
            f"{t:8.3f} s  client {peer:>3} {ARROWS[d]} server  {protocol.describe(m)}"
            for t, r, peer, d, m in self.log
            if room is None or r == room
        ]

    @property
    def url(self) -> str:
        assert self._live is not None, "server is stopped"
        return self._live.url

    @property
    def port(self) -> int:
        assert self._live is not None, "server is stopped"
        return self._live.port

    def room_url(self, room: str) -> str:
        return f"{self.url}/{quote(room)}"

    def check(self) -> None:
        """Raise errors the room logic or the connections hit so far (and forget them)."""
        errors, self.errors = self.errors, []
        if self._live is not None:
            try:
                self._live.check()
            except BaseException as error:
                errors.append(error)
        raise_collected(errors, f"sync server {self.name!r}")

    def __repr__(self) -> str:
        where = self.url if self._live is not None else "stopped"
        clients = sum(len(m) for m in self.members.values())
        return f"<SyncServer {self.name!r} on {where}: {len(self.rooms)} rooms, {clients} clients>"


def room_name(path: str) -> str:
    """``/notes%20A?x=1`` -> ``notes A`` (y-websocket puts the room in the path)."""
    return unquote(urlsplit(path).path.lstrip("/"))


def merge_run(peer: Peer, run: list[bytes]) -> bytes:
    """One sync update message with the effect of all the update messages in ``run``."""
    if len(run) == 1:
        return run[0]
    peer.merged += len(run) - 1
    payloads = [protocol.parse(m, check_update=False).payload for m in run]
    return protocol.sync_update(merge_updates(*payloads))


def take_next(peer: Peer, most: int) -> bytes:
    """Pop the next message to send; a run of up to ``most`` queued updates goes out as one."""
    if len(peer.queue) == 1:  # one edit at a time: nothing to merge
        message = peer.queue.popleft()
        peer.queued_bytes -= len(message)
        return message
    run: list[bytes] = []
    while peer.queue and peer.queue[0].startswith(UPDATE_PREFIX) and len(run) < most:
        run.append(peer.queue.popleft())
    taken = run or [peer.queue.popleft()]
    peer.queued_bytes -= sum(map(len, taken))
    return merge_run(peer, taken)


def compact(peer: Peer, most: int) -> None:
    """Merge runs of up to ``most`` queued sync updates into one (same effect, fewer bytes)."""
    merged: deque[bytes] = deque()
    run: list[bytes] = []

    def flush() -> None:
        if run:
            merged.append(merge_run(peer, run))
        run.clear()

    for message in peer.queue:
        if message.startswith(UPDATE_PREFIX):
            run.append(message)
            if len(run) == most:
                flush()
        else:
            flush()
            merged.append(message)
    flush()
    peer.queue = merged
    peer.queued_bytes = sum(map(len, merged))


async def close_now(conn: ServerConnection, code: int, reason: str, grace: float = 0.2) -> None:
    """Close with ``code`` if the peer takes the frame within ``grace`` s, else drop the link."""
    try:
        await asyncio.wait_for(conn.close(code, reason), grace)
    except (TimeoutError, ConnectionClosed):
        conn.transport.abort()


def shorten(reason: str, limit: int = 123) -> str:
    """A close reason must fit in 123 bytes of UTF-8."""
    encoded = reason.encode()
    if len(encoded) <= limit:
        return reason
    return encoded[: limit - 3].decode(errors="ignore") + "..."
