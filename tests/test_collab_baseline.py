"""pycrdt-websocket's server wrapped for the kernel: it runs, and shows the faults cited."""

from __future__ import annotations

import asyncio

from pycrdt import Doc, Text

from rtlab.live import running, stop_all
from rtlab.topics.collaboration import SyncClient
from rtlab.topics.collaboration.baseline import PycrdtWebsocketServer


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_two_clients_sync_through_pycrdt_websocket_and_it_stops_cleanly():
    async def scenario():
        baseline = await PycrdtWebsocketServer.start("t-baseline")
        try:
            assert baseline.url.startswith("ws://127.0.0.1:")
            ada = await SyncClient.start(baseline.room_url("doc"), Doc(client_id=1), name="t-ada")
            await ada.wait_synced()
            bo = await SyncClient.start(baseline.room_url("doc"), Doc(client_id=2), name="t-bo")
            await bo.wait_synced()
            ada.doc.get("text", type=Text).insert(0, "hello")
            await bo.wait_for(lambda: str(bo.doc.get("text", type=Text)) == "hello")
        finally:
            errors = await stop_all()
        assert not errors and not running()
        assert not baseline.errors

    run(scenario())


def test_a_dropped_client_stays_in_its_peers_awareness():
    async def scenario():
        baseline = await PycrdtWebsocketServer.start("t-baseline-ghost")
        try:
            ada = await SyncClient.start(baseline.room_url("doc"), Doc(client_id=1), name="t-ada")
            await ada.wait_synced()
            bo = await SyncClient.start(baseline.room_url("doc"), Doc(client_id=2), name="t-bo")
            await bo.wait_synced()
            await ada.wait_for(lambda: 2 in ada.peers)
            bo.cut()
            await bo.wait_for(lambda: not bo.online)
            await asyncio.sleep(0.5)
            assert 2 in ada.peers, "pycrdt-websocket 0.16 was expected to keep the ghost"
        finally:
            await stop_all()

    run(scenario())


def test_an_emptied_room_is_deleted_with_its_document_unless_told_otherwise():
    async def write_and_read(auto_clean_rooms):
        baseline = await PycrdtWebsocketServer.start(
            "t-baseline-clean", auto_clean_rooms=auto_clean_rooms)
        try:
            writer = await SyncClient.start(baseline.room_url("doc"), Doc(client_id=1), name="w")
            await writer.wait_synced()
            writer.doc.get("text", type=Text).insert(0, "draft")
            room = baseline.server.rooms["/doc"]
            await writer.wait_for(lambda: str(room.ydoc.get("text", type=Text)) == "draft")
            await writer.stop()
            await asyncio.sleep(0.1)
            reader = await SyncClient.start(baseline.room_url("doc"), Doc(client_id=2), name="r")
            await reader.wait_synced()
            return str(reader.doc.get("text", type=Text))
        finally:
            await stop_all()

    assert run(write_and_read(True)) == ""
    assert run(write_and_read(False)) == "draft"
