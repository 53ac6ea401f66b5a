"""The course's Yjs sync server and Python client, on real loopback sockets.

Runs the reference room logic (solutions/collab.py) in the server, as the
notebook does; a throwaway room class shows the logic is pluggable.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from pycrdt import Doc, Text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rtlab.live import running, stop_all
from rtlab.topics.collaboration import SyncClient, SyncServer
from rtlab.topics.collaboration.server import (
    CLOSE_BUG,
    CLOSE_INVALID,
    CLOSE_SLOW,
    CLOSE_TEXT,
    room_name,
)
from rtlab.wire import yjs as protocol


def run(coro):
    async def guarded():
        try:
            return await asyncio.wait_for(coro, 30)
        finally:
            await stop_all()

    return asyncio.run(guarded())


def editor(client_id: int) -> tuple[Doc, Text]:
    doc: Doc = Doc(client_id=client_id)
    return doc, doc.get("text", type=Text)


async def start_editor(
    server: SyncServer, room: str, client_id: int, name: str
) -> tuple[SyncClient, Text]:
    doc, text = editor(client_id)
    client = await SyncClient.start(server.room_url(room), doc, name=name)
    await client.wait_synced()
    return client, text


async def raw(server: SyncServer, room: str, **options) -> ClientConnection:
    """A bare WebSocket to a room, for sending what no Yjs client would."""
    return await connect(server.room_url(room), proxy=None, open_timeout=2, **options)


async def closed_with(ws: ClientConnection) -> tuple[int | None, str]:
    """Read until the server closes; return its close code and reason."""
    try:
        async with asyncio.timeout(3):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the server dropped the link without a close frame"
        return closed.rcvd.code, closed.rcvd.reason


def test_two_python_clients_converge_and_see_each_other():
    async def scenario():
        server = await SyncServer.start("t-collab")
        alice, a = await start_editor(server, "notes", 1, "alice")
        bob, b = await start_editor(server, "notes", 2, "bob")
        a += "hello "
        b += "world"
        await alice.wait_for(lambda: str(a) == str(b) and len(str(a)) == 11)
        await bob.wait_for(lambda: 1 in bob.peers and 2 in alice.peers)
        assert bob.peers[1] == {"name": "alice"}
        # Rooms are separate documents.
        _, c = await start_editor(server, "other", 3, "carol")
        assert str(c) == "" and 3 not in alice.peers

    run(scenario())


def test_a_cut_client_keeps_editing_offline_and_merges_on_restore():
    async def scenario():
        server = await SyncServer.start("t-collab")
        alice, a = await start_editor(server, "r", 1, "alice")
        bob, b = await start_editor(server, "r", 2, "bob")
        a += "shared. "
        await bob.wait_for(lambda: str(b) == "shared. ")
        alice.cut()
        await bob.wait_for(lambda: 1 not in bob.peers)  # no ghost: gone at once, not in 30 s
        a += "alice offline. "
        b += "bob online."
        await asyncio.sleep(0.2)
        assert "alice" not in str(b) and "bob" not in str(a), "a cut link must carry nothing"
        alice.restore()
        await alice.wait_for(lambda: str(a) == str(b) and len(str(a)) == 34)
        assert "alice offline. " in str(a) and "bob online." in str(a)
        await bob.wait_for(lambda: 1 in bob.peers)
        assert alice.connects == 2

    run(scenario())


def test_awareness_of_a_dropped_client_is_removed_at_once_and_newcomers_see_who_is_there():
    async def scenario():
        server = await SyncServer.start("t-collab")
        await start_editor(server, "r", 1, "alice")
        bob, _ = await start_editor(server, "r", 2, "bob")
        await bob.wait_for(lambda: 1 in bob.peers)
        carol, _ = await start_editor(server, "r", 3, "carol")  # joins later
        await carol.wait_for(lambda: set(carol.peers) == {1, 2})
        server_side = next(p for p in server.members["r"].values() if p.id == 1)
        server_side.conn.transport.abort()  # the server sees alice's link die
        took = await carol.wait_for(lambda: 1 not in carol.peers, timeout=2)
        assert took < 1.0
        await bob.stop()  # a polite goodbye removes bob too
        await carol.wait_for(lambda: 2 not in carol.peers, timeout=2)

    run(scenario())


GARBAGE = [
    pytest.param(b"", "empty message", id="empty"),
    pytest.param(b"\x07\x00", "unknown message type 7", id="unknown-type"),
    pytest.param(b"\x00\x09\x00", "unknown sync step 9", id="unknown-step"),
    pytest.param(b"\x00\x02\xff\xff", "truncated varint", id="truncated-varint"),
    pytest.param(b"\x00\x02\x05ab", "says 5 bytes but only 2 follow", id="short-payload"),
    pytest.param(b"\x00\x02\x03abc", "not a valid Yjs update", id="invalid-update"),
    pytest.param(b"\x00\x01\x04\x01\x01\x01\x00", "not a valid Yjs update", id="invalid-step2"),
    pytest.param(b"\x00\x02\x02\x00\x00junk", "unexpected bytes after", id="trailing-bytes"),
    pytest.param(protocol.awareness(b"\x01\x05\x01\x03{x}"), "not UTF-8 JSON", id="bad-json"),
    pytest.param(b"\xff" * 12, "longer than 8 bytes", id="endless-varint"),
]


@pytest.mark.parametrize("frame, reason", GARBAGE)
def test_garbage_closes_that_client_with_1007_and_leaves_the_room_intact(frame, reason):
    async def scenario():
        server = await SyncServer.start("t-collab")
        alice, a = await start_editor(server, "r", 1, "alice")
        bob, b = await start_editor(server, "r", 2, "bob")
        a += "before"
        await bob.wait_for(lambda: str(b) == "before")
        vandal = await raw(server, "r")
        await vandal.send(frame)
        code, why = await closed_with(vandal)
        assert code == CLOSE_INVALID and reason in why, (code, why)
        # The others carry on: edits still flow both ways, and a newcomer gets it all.
        b += " after"
        await alice.wait_for(lambda: str(a) == "before after")
        _, c = await start_editor(server, "r", 3, "carol")
        assert str(c) == "before after"
        assert server.check() is None and alice.online and bob.online

    run(scenario())


def test_a_text_frame_closes_with_1003():
    async def scenario():
        server = await SyncServer.start("t-collab")
        ws = await raw(server, "r")
        await ws.send('{"type": "update"}')
        code, why = await closed_with(ws)
        assert code == CLOSE_TEXT and "binary" in why

    run(scenario())


def test_an_update_the_room_rejects_closes_with_1007_and_room_logic_bugs_with_1011():
    class PickyRoom:  # a throwaway room logic: the server runs whatever it is given
        def __init__(self, saved: bytes | None = None) -> None:
            self.members: set[int] = set()

        def join(self, client):
            self.members.add(client)
            return []

        def receive(self, client, message):
            if message == protocol.sync_update(b"\x00\x00"):
                raise ValueError("empty updates are not welcome here")
            if message.startswith(b"\x01"):
                raise KeyError("bug in awareness")
            if message == protocol.sync_step1(b"\x01\x05\x05"):
                from pycrdt import Doc, Text

                del Doc().get("t", type=Text)[0:3]  # pycrdt panics: a BaseException

            return [(c, message) for c in self.members if c != client]

        def leave(self, client):
            self.members.discard(client)
            return []

        def save(self) -> bytes:
            return b""

    async def scenario():
        server = await SyncServer.start("t-picky", room=PickyRoom)
        listener = await raw(server, "r")
        ws = await raw(server, "r")
        await ws.send(protocol.sync_update(b"\x00\x00"))
        code, why = await closed_with(ws)
        assert code == CLOSE_INVALID
        assert why == "rejected by the room: empty updates are not welcome here"
        ws = await raw(server, "r")
        relayed = protocol.sync_step1(b"\x00")
        await ws.send(relayed)
        assert await asyncio.wait_for(listener.recv(), 2) == relayed
        await ws.send(protocol.awareness(b"\x00"))
        code, why = await closed_with(ws)
        assert (code, why) == (CLOSE_BUG, "room logic failed: KeyError")
        with pytest.raises(KeyError, match="bug in awareness"):
            server.check()
        ws = await raw(server, "r")
        await ws.send(protocol.sync_step1(b"\x01\x05\x05"))
        code, why = await closed_with(ws)
        assert (code, why) == (CLOSE_BUG, "room logic failed: PanicException")
        with pytest.raises(BaseException, match="remove"):
            server.check()

    run(scenario())


def test_a_client_that_stops_reading_is_cut_with_1008_and_memory_stays_bounded():
    limit = 64 * 1024

    async def scenario():
        server = await SyncServer.start("t-collab", max_queue_bytes=limit, send_buffer=16 * 1024)
        alice, a = await start_editor(server, "r", 1, "alice")
        bob, b = await start_editor(server, "r", 2, "bob")
        # A reader that never reads: tiny receive buffer, websockets queue of 1.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        stuck = await connect(server.room_url("r"), sock=sock, max_queue=1, proxy=None)
        await asyncio.sleep(0.05)
        slow = max(p.id for p in server.members["r"].values())
        sent = 0
        while not server.closes and sent < 1000:  # up to 3.5 MB: far beyond the buffers
            a += f"{sent:07d}" * 500  # 3.5 kB per edit
            sent += 1
            await asyncio.sleep(0.001)  # typing speed, so that bob keeps up
        await bob.wait_for(lambda: len(str(b)) == len(str(a)), timeout=10)
        assert [(peer, code) for peer, _, code, _ in server.closes] == [(slow, CLOSE_SLOW)]
        assert "too slow" in server.closes[0][3]
        await bob.wait_for(lambda: slow not in server.members["r"], timeout=1)  # closed or dropped
        # Bounded: the queue never held more than the limit plus one message.
        most = max(p.most_queued_bytes for p in server.members["r"].values())
        assert most <= limit + 4000
        assert bob.online and alice.online, "only the slow reader is cut"
        stuck.transport.abort()
        # Cut is not lost: a client coming back catches up with step 1/2.
        _, c = await start_editor(server, "r", 3, "carol")
        assert str(c) == str(a)

    run(scenario())


def test_rooms_persist_across_a_stop_and_a_new_server_on_the_same_store(tmp_path: Path):
    async def scenario():
        server = await SyncServer.start("t-persist", store=tmp_path)
        _, a = await start_editor(server, "diary/2026", 1, "alice")
        a += "kept across restarts"
        await asyncio.sleep(0.1)
        await server.stop()  # saves every room
        assert [p.name for p in tmp_path.iterdir()] == ["diary%2F2026.ydoc"]
        again = await SyncServer.start("t-persist", store=tmp_path)
        assert again.stored_rooms() == ["diary/2026"]
        _, b = await start_editor(again, "diary/2026", 2, "bob")
        assert str(b) == "kept across restarts"

    run(scenario())


def test_a_restart_reloads_rooms_from_the_store_and_merges_edits_made_meanwhile(tmp_path: Path):
    async def scenario():
        server = await SyncServer.start("t-persist", store=tmp_path, save_delay=0.05)
        alice, a = await start_editor(server, "r", 1, "alice")
        bob, b = await start_editor(server, "r", 2, "bob")
        a += "one "
        await bob.wait_for(lambda: str(b) == "one ")
        restarting = asyncio.create_task(server.restart(downtime=0.3))
        await bob.wait_for(lambda: not bob.online and not alice.online)
        b += "two "  # while the server is down
        await restarting
        assert server.rooms == {}, "the rooms were dropped from memory: reloaded from files"
        await alice.wait_for(lambda: str(a) == str(b) == "one two ", timeout=5)
        a += "three"
        await bob.wait_for(lambda: str(b) == "one two three")
        await asyncio.sleep(0.1)  # the debounced save
        fresh = Doc()
        fresh.apply_update((tmp_path / "r.ydoc").read_bytes())
        assert str(fresh.get("text", type=Text)) == "one two three"

    run(scenario())


def test_the_log_describes_the_sync_handshake_in_order():
    async def scenario():
        server = await SyncServer.start("t-log", record=100)
        alice, a = await start_editor(server, "r", 7, "alice")
        a += "hi"
        await alice.wait_for(lambda: any("sync update" in line for line in server.timeline()))
        lines = server.timeline("r")
        kinds = [line.split("  ", 2)[-1].split(":")[0] for line in lines]
        assert kinds[0].endswith("<- server  sync step 1"), lines
        assert any("-> server  sync step 2" in k for k in kinds)
        assert any("<- server  sync step 2" in k for k in kinds)
        assert "sync update: " in lines[-1] and "client   1 -> server" in lines[-1]

    run(scenario())


def test_registry_and_room_names():
    async def scenario():
        first = await SyncServer.start("t-same")
        url = first.room_url("r")
        second = await SyncServer.start("t-same")  # re-running a cell replaces the server
        assert running().get("SyncServer t-same") is second
        with pytest.raises(OSError):
            await connect(url, proxy=None, open_timeout=1)
        await second.stop()
        assert "SyncServer t-same" not in running()

    run(scenario())
    assert room_name("/notes%20A?x=1") == "notes A"
    assert room_name("/") == ""


def test_a_half_open_client_is_found_by_keepalive_and_its_awareness_removed():
    async def scenario():
        from rtlab.live import FaultProxy

        server = await SyncServer.start(
            "t-collab", ping_interval=0.2, ping_timeout=0.3, close_timeout=0.2
        )
        proxy = await FaultProxy.start("t-collab-net", server.port)
        doc, _ = editor(1)
        alice = await SyncClient.start(f"ws://127.0.0.1:{proxy.port}/r", doc, name="alice")
        await alice.wait_synced()
        bob, _ = await start_editor(server, "r", 2, "bob")
        await bob.wait_for(lambda: 1 in bob.peers)
        proxy.tunnels[-1].stall()  # no FIN, no RST: only the missing pongs tell
        took = await bob.wait_for(lambda: 1 not in bob.peers, timeout=5)
        # Found after a missed pong (0.2-0.5 s) plus the unanswered close (0.2 s).
        assert 0.2 < took < 2.5, f"alice's ghost stayed {took:.2f} s"

    run(scenario())


def test_a_client_logic_that_raises_is_reported_not_swallowed():
    class Broken:  # a learner's client logic with a bug in receive()
        def __init__(self, doc):
            self.doc = doc

        def connect(self):
            return [protocol.sync_step1(self.doc.get_state())]

        def disconnect(self):
            pass

        def receive(self, message):
            raise RuntimeError("forgot to handle step 1")

        def local_update(self, update):
            return []

    async def scenario():
        server = await SyncServer.start("t-collab")
        client = await SyncClient.start(server.room_url("r"), Doc(client_id=1), logic=Broken)
        await client.wait_for(lambda: client.errors, timeout=3)
        with pytest.raises(Exception) as caught:  # one error, or a group after retries
            await client.stop()
        assert "forgot to handle step 1" in repr(caught.value)

    run(scenario())


def test_a_frame_over_max_size_closes_with_1009():
    async def scenario():
        server = await SyncServer.start("t-collab", max_size=64 * 1024)
        ws = await raw(server, "r")
        await ws.send(protocol.sync_update(b"x" * 100_000))
        code, why = await closed_with(ws)
        assert code == 1009 and "exceeds limit of 65536 bytes" in why

    run(scenario())
