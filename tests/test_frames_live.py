"""WebSocket on the wire, live: raw handshakes and frames, uploads on a real server, byte counts."""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import InvalidStatus

from rtlab.learner import load_module
from rtlab.live import LiveServer, running, stop_all
from rtlab.topics.websocket_basics.live import (
    RFC_KEY,
    UploadLog,
    accept_for,
    client_frame,
    encode,
    measure_encodings,
    raw_connect,
    send_frames,
    upload_handler,
)
from rtlab.wire.websocket import frames_size

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = load_module(ROOT / "solutions" / "frames.py", "frames_live_solution")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def test_the_accept_value_is_the_rfc_example():
    assert accept_for(RFC_KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455, section 1.3


def test_a_hand_written_handshake_and_masked_frame_get_a_real_answer():
    async def scenario():
        server = await LiveServer.start("t-raw", echo)
        try:
            raw = await raw_connect(server.port)
            assert raw.status == 101
            assert raw.headers()["sec-websocket-accept"] == accept_for(RFC_KEY)
            hello = client_frame(0x1, b"Hello", bytes.fromhex("37fa213d"))
            assert hello == bytes.fromhex("818537fa213d7f9f4d5158")  # RFC 6455, section 5.7
            await raw.send(hello)
            frame = await raw.read_frame()
            assert (frame.kind, frame.header, frame.payload) == ("text", b"\x81\x05", b"Hello")
            big = client_frame(0x2, bytes(70_000), bytes(4))
            await raw.send(big)
            frame = await raw.read_frame()
            assert frame.kind == "binary" and len(frame.header) == 10
            assert len(frame.payload) == 70_000
            await raw.close()
        finally:
            await server.stop()

    run(scenario())


def test_process_request_refuses_before_the_upgrade_and_the_handler_never_runs():
    handled: list[str] = []

    async def greet(ws: ServerConnection) -> None:
        handled.append(ws.request.path)
        await ws.send("welcome")

    def token_required(conn, request):
        if "token=ok" not in request.path:
            return conn.respond(HTTPStatus.UNAUTHORIZED, "sign in first\n")
        return None

    async def scenario():
        server = await LiveServer.start("t-auth", greet, process_request=token_required)
        try:
            try:
                async with connect(server.url + "/?token=bad"):
                    raise AssertionError("a bad token must not get a connection")
            except InvalidStatus as refused:
                assert refused.response.status_code == 401
            async with connect(server.url + "/?token=ok") as ws:
                assert await ws.recv() == "welcome"
            assert handled == ["/?token=ok"]
            assert len(server.rejected) == 1 and len(server.arrivals) == 1
        finally:
            await server.stop()

    run(scenario())


def test_each_connection_gets_its_own_receiver_and_its_own_close_code():
    async def scenario():
        log = UploadLog()
        server = await LiveServer.start(
            "t-uploads", upload_handler(lambda: SOLUTION.Receiver(4096), log), compression=None)
        try:
            good = [f for size in (0, 10, 4096)
                    for f in SOLUTION.encode_upload({"name": str(size)}, bytes(size))]
            clients = [good, [json.dumps({"size": 5000, "meta": {}})], ["{not json"],
                       [b"\x00" * 3], [json.dumps({"size": 1, "meta": {}}), b"ab"]]
            ends = await asyncio.gather(*(send_frames(server.url, c) for c in clients))
        finally:
            await server.stop()
        assert [code for code, _ in ends] == [1000, 1009, 1007, 1003, 1007]
        good_conn = next(c for c, meta, _ in log.deliveries if meta == {"name": "0"})
        assert log.delivered_by(good_conn) == [0, 10, 4096]
        assert len(log.deliveries) == 3 and not log.errors

    run(scenario())


def test_a_receiver_that_raises_closes_only_its_connection_with_1011():
    class Fragile(SOLUTION.Receiver):
        def receive(self, frame):
            if frame == "boom":
                raise ValueError("learner bug")
            return super().receive(frame)

    async def scenario():
        log = UploadLog()
        server = await LiveServer.start("t-fragile", upload_handler(lambda: Fragile(1024), log))
        try:
            crashed = await send_frames(server.url, ["boom"])
            fine = await send_frames(server.url, SOLUTION.encode_upload({}, b"abc"))
        finally:
            await server.stop()  # the error was handled: stop() raises nothing
        assert crashed == (1011, "internal error") and fine[0] == 1000
        assert log.errors == ["connection 1: ValueError: learner bug"]
        assert log.delivered_by(2) == [3]

    run(scenario())


def test_bytes_counted_by_the_proxy_are_exactly_the_frames_and_base64_costs_a_third():
    payload = bytes(range(256)) * 256  # 64 KiB

    async def scenario():
        return await measure_encodings({"64 KiB": payload}, counts={"64 KiB": 3})

    results = run(scenario())
    by = {r.style: r for r in results}
    for style, r in by.items():
        assert r.wire == frames_size(encode(style, {"name": "64 KiB"}, payload), "client")
    assert 1.33 < by["base64 in JSON"].ratio < 1.34
    assert by["JSON + binary"].ratio < 1.002
    assert not running(), "measure_encodings stops its server and proxy"


def test_nothing_is_left_running():
    run(stop_all())
    assert not running()
