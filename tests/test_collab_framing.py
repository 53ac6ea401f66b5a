"""The sync server splits WebSocket frames itself once a connection is open
(:class:`rtlab.topics.collaboration.server.RelayConnection`): whatever way the
bytes are cut into reads, every message arrives whole and in order, control
frames still get their answers, and a frame websockets would refuse is refused
with the same close code.

Real loopback sockets; the reads are forced apart by writing a few bytes at a
time with TCP_NODELAY and a pause between writes.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import socket

import pytest
from pycrdt import Doc, Text
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from rtlab.topics.collaboration import SyncServer
from rtlab.wire import websocket as wire
from rtlab.wire import yjs as protocol
from tests.test_collab_fanout import raw, read_until, run, typed


def masked(opcode: Opcode, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    """One frame as a client sends it (masked); ``rsv1`` sets a bit no extension claimed."""
    frame = bytearray(Frame(opcode, payload, fin).serialize(mask=True, extensions=[]))
    frame[0] |= 0x40 if rsv1 else 0
    return bytes(frame)


async def handshake(
    server: SyncServer, room: str, then: bytes = b""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened by hand on a plain socket; ``then`` is written with the request."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /{room} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    writer.write(request + then)
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return reader, writer


async def next_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The next frame the server sent: (first header byte, payload)."""
    data = await reader.readexactly(2)
    while (head := wire.read_frame_head(data)) is None or head[3] > len(data):
        data += await reader.readexactly(1 if head is None else head[3] - len(data))
    assert not head[1], "a server must not mask its frames"
    return head[0], data[head[2] : head[3]]


async def trickle(writer: asyncio.StreamWriter, data: bytes, rng: random.Random) -> None:
    """Write ``data`` in pieces of 1 to 9 bytes (some larger), with a pause after each,
    so that the server's reads split it anywhere."""
    pos = 0
    while pos < len(data):
        step = rng.randint(1, 9) if rng.random() < 0.7 else rng.randint(10, 400)
        writer.write(data[pos : pos + step])
        pos += step
        await writer.drain()
        await asyncio.sleep(0.001)


def edits(sizes: list[int]) -> tuple[list[bytes], list[str]]:
    """One Yjs update per size (that many characters appended) and the text after each."""
    doc = Doc(client_id=7)
    text = doc.get("text", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    texts = []
    for index, size in enumerate(sizes):
        text += str(index % 10) * size
        texts.append(str(text))
    return updates, texts


@pytest.mark.parametrize("seed", range(3))
def test_messages_cut_anywhere_arrive_whole_and_in_order(seed: int) -> None:
    """Headers of every size (7-bit, 16-bit and 64-bit lengths) split across reads,
    with a ping among them: every update is relayed in order and the ping is answered."""
    # 300 characters: a 16-bit length; 70,000: a 64-bit one.
    updates, texts = edits([2] * 10 + [300] + [2] * 20 + [70_000])
    messages = [protocol.sync_update(u) for u in updates]
    rng = random.Random(seed)

    async def scenario() -> None:
        server = await SyncServer.start("t-framing", record=100)
        reader = await raw(server, "r", max_size=None)
        replies, sender = await handshake(server, "r")
        await asyncio.sleep(0.05)
        stream = b"".join(masked(Opcode.BINARY, m) for m in messages[:15])
        stream += masked(Opcode.PING, b"still there?")
        stream += b"".join(masked(Opcode.BINARY, m) for m in messages[15:])
        await trickle(sender, stream, rng)
        await read_until(reader, Doc(client_id=1), texts[-1])
        handled = [message for *_, direction, message in server.log if direction == "in"]
        assert handled[-len(messages) :] == messages
        async with asyncio.timeout(5):  # after the room's sync step 1: the pong
            while (frame := await next_frame(replies))[0] != 0x8A:
                assert frame[0] == 0x82, frame
        assert frame[1] == b"still there?"
        assert not server.closes
        sender.close()
        await server.stop()

    run(scenario())


async def closed_with(server: SyncServer, frame: bytes) -> tuple[int | None, str | None]:
    """Send ``frame`` after a few good ones; the close code and reason the server sent."""
    updates, _ = typed(3, 1)
    ws = await raw(server, "r")
    good = b"".join(masked(Opcode.BINARY, protocol.sync_update(u)) for u in updates)
    ws.transport.write(good + frame)
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(5):
            while True:
                await ws.recv()
    return ws.close_code, ws.close_reason


@pytest.mark.parametrize(
    ("frame", "code", "reason"),
    [
        (bytes((0x82, 5)) + b"hello", 1002, "incorrect masking"),  # clients must mask
        (masked(Opcode.BINARY, b"\x00\x02\x00", rsv1=True), 1002, "reserved bits"),
        (masked(Opcode.BINARY, b"x" * 70_000), 1009, "exceeds limit of 65536 bytes"),
        (masked(Opcode.TEXT, b"hi"), 1003, "text frame"),
        (masked(Opcode.BINARY, b"\x00\x09"), 1007, "unknown sync step"),
        (  # a whole message in the middle of a fragmented one
            masked(Opcode.BINARY, b"\x00", fin=False) + masked(Opcode.BINARY, b"\x00\x00\x00"),
            1002,
            "expected a continuation frame",
        ),
    ],
    ids=["unmasked", "rsv-bit", "oversize", "text", "invalid-message", "inside-fragments"],
)
def test_a_frame_websockets_refuses_is_refused_with_its_code(frame, code, reason) -> None:
    async def scenario() -> None:
        server = await SyncServer.start("t-framing", max_size=65_536)
        got_code, got_reason = await closed_with(server, frame)
        assert got_code == code and reason in (got_reason or ""), (got_code, got_reason)
        # The room is untouched: a newcomer still gets a clean sync.
        newcomer = await raw(server, "r")
        assert protocol.parse(await newcomer.recv()).kind == "step1"
        await newcomer.close()
        await server.stop()

    run(scenario())


def test_frames_sent_with_the_handshake_request_are_not_lost() -> None:
    """A client that pipelines an update behind its upgrade request (no browser does):
    websockets keeps those bytes, so the server leaves the splitting to it."""
    updates, final = typed(2, 4)

    async def scenario() -> None:
        server = await SyncServer.start("t-framing")
        reader = await raw(server, "r")
        first, second = (masked(Opcode.BINARY, protocol.sync_update(u)) for u in updates)
        # The second frame is cut inside its header.
        _, sender = await handshake(server, "r", then=first + second[:3])
        await asyncio.sleep(0.05)
        sender.write(second[3:])
        await read_until(reader, Doc(client_id=1), final)
        sender.close()
        await server.stop()

    run(scenario())


def test_binary_frame_matches_what_websockets_writes() -> None:
    for size in (0, 1, 125, 126, 65_535, 65_536, 70_000):
        payload = bytes(size)
        assert wire.binary_frame(payload) == Frame(Opcode.BINARY, payload).serialize(
            mask=False, extensions=[]
        )
        head = wire.read_frame_head(masked(Opcode.BINARY, payload))
        assert head is not None
        first, is_masked, start, end = head
        assert (first, is_masked, end - start) == (0x82, True, size)
        assert start == wire.header_size(size, "client")
