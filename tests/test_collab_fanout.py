"""The sync server's send path: what arrives together goes out merged, nothing waits on a
task per message, and a reader behind a full socket loses nothing.

Real loopback sockets and the reference room logic, as in test_collab_server.py.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from pycrdt import Doc, Text, TransactionEvent
from websockets.asyncio.client import ClientConnection, connect

from rtlab.live import stop_all
from rtlab.topics.collaboration import SyncServer
from rtlab.topics.collaboration.server import MERGE_RUN
from rtlab.wire import yjs as protocol


def run(coro):
    async def guarded():
        try:
            return await asyncio.wait_for(coro, 30)
        finally:
            await stop_all()

    return asyncio.run(guarded())


def typed(edits: int, chars: int) -> tuple[list[bytes], str]:
    """``edits`` Yjs updates, each appending ``chars`` characters, and the final text."""
    doc: Doc[Any] = Doc(client_id=7)
    text = doc.get("text", type=Text)
    updates: list[bytes] = []

    def keep(event: TransactionEvent) -> None:
        updates.append(event.update)

    doc.observe(keep)
    for index in range(edits):
        text += f"{index % 10}" * chars
    return updates, str(text)


async def raw(server: SyncServer, room: str, **options: Any) -> ClientConnection:
    return await connect(server.room_url(room), proxy=None, open_timeout=2, **options)


async def read_until(ws: ClientConnection, doc: Doc[Any], want: str, within: float = 10) -> int:
    """Apply what arrives to ``doc`` until its text is ``want``; return the updates read."""
    text = doc.get("text", type=Text)
    count = 0
    async with asyncio.timeout(within):
        while str(text) != want:
            message = protocol.parse(await ws.recv())  # type: ignore[arg-type]
            if message.kind == "update":
                count += 1
                doc.apply_update(message.payload)
    return count


def test_updates_that_arrive_in_one_read_go_out_merged_and_in_order():
    updates, final = typed(200, 3)

    async def scenario():
        server = await SyncServer.start("t-fanout")
        reader = await raw(server, "r")
        sender = await raw(server, "r")
        await asyncio.sleep(0.05)  # both joined
        # All 200 frames in one write, so they reach the server in one read.
        for update in updates:
            sender.protocol.send_binary(protocol.sync_update(update))
        sender.send_data()
        got = await read_until(reader, Doc(client_id=1), final)
        assert got <= -(-len(updates) // MERGE_RUN), f"{got} messages for one burst"
        assert not server.closes
        await server.stop()

    run(scenario())


def test_updates_sent_one_at_a_time_go_out_one_at_a_time():
    updates, final = typed(20, 3)

    async def scenario():
        server = await SyncServer.start("t-fanout")
        reader = await raw(server, "r")
        sender = await raw(server, "r")
        await asyncio.sleep(0.05)
        doc: Doc[Any] = Doc(client_id=1)
        text = doc.get("text", type=Text)
        for index, update in enumerate(updates):
            await sender.send(protocol.sync_update(update))
            # Each one is relayed on its own, without waiting for more to batch.
            assert await read_until(reader, doc, final[: 3 * (index + 1)], within=1) == 1
        assert str(text) == final
        await server.stop()

    run(scenario())


def test_a_reader_behind_a_full_socket_gets_every_update_once_it_reads():
    updates, final = typed(300, 4000)  # 1.2 MB: far more than the socket buffers hold

    async def scenario():
        server = await SyncServer.start("t-fanout", send_buffer=16 * 1024)
        # A reader that does not read yet: small receive buffer, websockets queue of 1.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        reader = await connect(server.room_url("r"), sock=sock, max_queue=1, proxy=None,
                               max_size=None)
        sender = await raw(server, "r")
        await asyncio.sleep(0.05)
        for update in updates:
            await sender.send(protocol.sync_update(update))
        room = server.rooms["r"].doc.get("text", type=Text)  # type: ignore[attr-defined]
        async with asyncio.timeout(10):
            while str(room) != final:
                await asyncio.sleep(0.01)
        waiting = next(p for p in server.members["r"].values() if p.id == 1)
        assert waiting.queued_bytes > 256 * 1024, "the socket took everything: no backpressure"
        assert waiting.most_queued_bytes <= server.max_queue_bytes
        await read_until(reader, Doc(client_id=1), final)
        assert waiting.queued_bytes == 0 and waiting.merged > 0  # what waited went out merged
        assert not server.closes, "a reader within the limit is not cut"
        await server.stop()

    run(scenario())


def test_a_fragmented_message_keeps_its_place_among_the_messages_around_it():
    updates, final = typed(3, 5)

    async def scenario():
        server = await SyncServer.start("t-fanout", record=20)
        reader = await raw(server, "r")
        sender = await raw(server, "r")
        await asyncio.sleep(0.05)
        first, middle, last = (protocol.sync_update(u) for u in updates)
        # One write: a whole frame, a message in three fragments, a whole frame.
        sender.protocol.send_binary(first)
        sender.protocol.send_binary(middle[:4], fin=False)
        sender.protocol.send_continuation(middle[4:9], fin=False)
        sender.protocol.send_continuation(middle[9:], fin=True)
        sender.protocol.send_binary(last)
        sender.send_data()
        await read_until(reader, Doc(client_id=1), final)
        handled = [message for *_, direction, message in server.log if direction == "in"]
        assert handled[-3:] == [first, middle, last]
        assert not server.closes
        await server.stop()

    run(scenario())


def test_nothing_after_a_refused_message_reaches_the_room():
    updates, _ = typed(2, 5)

    async def scenario():
        server = await SyncServer.start("t-fanout")
        vandal = await raw(server, "r")
        await asyncio.sleep(0.05)
        # One write: a good update, garbage, then another good update.
        vandal.protocol.send_binary(protocol.sync_update(updates[0]))
        vandal.protocol.send_binary(b"\x07\x00")
        vandal.protocol.send_binary(protocol.sync_update(updates[1]))
        vandal.send_data()
        async with asyncio.timeout(3):
            while not server.closes:
                await asyncio.sleep(0.01)
        assert [code for _, _, code, _ in server.closes] == [1007]
        room = server.rooms["r"].doc.get("text", type=Text)  # type: ignore[attr-defined]
        assert str(room) == "0" * 5, "the update after the garbage was applied"
        await server.stop()

    run(scenario())


def test_the_benchmark_measures_both_arrival_patterns_in_separate_server_processes():
    """The machinery of `make bench` on 300 edits (the figures come from `make bench`)."""
    from rtlab.topics.collaboration import bench

    updates, _ = typed(300, 2)
    results = asyncio.run(asyncio.wait_for(
        bench.run_all(updates, patterns=list(bench.PATTERNS), servers=["course"]), 60))
    assert [r.pattern for r in results] == list(bench.PATTERNS)
    # The same server on uvloop (the course-uvloop row) relays everything too.
    on_uvloop = asyncio.run(asyncio.wait_for(
        bench.run_all(updates, patterns=["one-per-turn"], servers=["course-uvloop"]), 60))
    assert on_uvloop[0].converged and on_uvloop[0].server == "course-uvloop", on_uvloop[0].row()
    # The deterministic figure: bytecodes per relayed update (about a thousand today).
    count = asyncio.run(bench.bytecodes_per_message(updates, warm=100, counted=100))
    assert 100 < count < 100_000, count
    for result in results:
        assert result.converged and result.missing_chars == 0, result.row()
        assert result.cpu_per_edit is not None and result.cpu_per_edit > 0  # ns precision
        assert result.peak_rss is not None and result.peak_rss > 10 * 2**20
    one_at_a_time, bursts = results
    assert one_at_a_time.received > bursts.received  # bursts go out merged
