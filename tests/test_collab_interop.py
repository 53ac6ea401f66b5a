"""The course's sync server with the real JavaScript Yjs client (yjs + y-websocket on Node).

Node and the npm packages pinned in js/package-lock.json are needed
(bash scripts/npm-deps.sh installs them). Without them the tests skip, except
under CI=true, where a missing piece is a failure.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from pycrdt import Doc, Text

from rtlab.live import FaultProxy, stop_all
from rtlab.topics.collaboration import SyncClient, SyncServer
from rtlab.topics.collaboration.node import NodeClient, missing

NODE_ID, ALICE_ID, BOB_ID = 101, 1, 2

reason = missing()
if reason:
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI=true but the Node.js interop test cannot run: {reason}")
    pytest.skip(reason, allow_module_level=True)


def run(coro):
    async def guarded():
        try:
            return await asyncio.wait_for(coro, 60)
        finally:
            await stop_all()

    return asyncio.run(guarded())


async def python_editor(url: str, client_id: int, name: str) -> tuple[SyncClient, Text]:
    doc: Doc = Doc(client_id=client_id)
    text = doc.get("text", type=Text)
    client = await SyncClient.start(url, doc, name=name)
    await client.wait_synced()
    return client, text


def test_node_and_python_clients_edit_concurrently_survive_a_cut_and_converge():
    async def scenario():
        server = await SyncServer.start("t-interop")
        proxy = await FaultProxy.start("t-interop-net", server.port)
        node = await NodeClient.start(f"ws://127.0.0.1:{proxy.port}", "doc", NODE_ID, "nadia")
        try:
            await node.wait_for(lambda s: s["synced"])
            alice, a = await python_editor(server.room_url("doc"), ALICE_ID, "alice")
            _, b = await python_editor(server.room_url("doc"), BOB_ID, "bob")
            # Everyone types at once: 40 + 30 + 30 one-character transactions.
            typing = asyncio.create_task(node.call("type", text="n" * 40, seed=7))
            for i in range(30):
                a.insert(len(a) * (i % 2), "a")
                b.insert(len(b) // 2, "b")
                await asyncio.sleep(0.002)
            await typing
            state = await node.wait_for(lambda s: len(s["text"]) == 100)
            await alice.wait_for(lambda: str(a) == str(b) == state["text"])
            assert sorted(state["text"]) == sorted("n" * 40 + "a" * 30 + "b" * 30)

            # Cut the Node client's link: both sides keep editing, it reconnects by itself.
            proxy.tunnels[-1].cut()
            await node.wait_for(lambda s: not s["connected"])
            await node.call("insert", index=0, text="[node offline]")
            a += "[alice meanwhile]"
            state = await node.wait_for(lambda s: s["synced"] and len(s["text"]) == 131)
            await alice.wait_for(lambda: str(a) == str(b) == state["text"])
            assert state["text"].startswith("[node offline]")
            assert state["text"].endswith("[alice meanwhile]")
            statuses = [e["status"] for e in node.events if e.get("event") == "status"]
            assert statuses.count("connected") >= 2, statuses
        finally:
            await node.stop()

    run(scenario())


def test_a_node_clients_awareness_appears_in_python_and_vanishes_when_it_dies():
    async def scenario():
        server = await SyncServer.start("t-interop")
        alice, _ = await python_editor(server.room_url("doc"), ALICE_ID, "alice")
        node = await NodeClient.start(server.url, "doc", NODE_ID, "nadia")
        try:
            await alice.wait_for(lambda: NODE_ID in alice.peers, timeout=10)
            assert alice.peers[NODE_ID] == {"user": {"name": "nadia"}}
            state = await node.wait_for(lambda s: str(ALICE_ID) in s["peers"])
            assert state["peers"][str(ALICE_ID)] == {"name": "alice"}
            node.kill()  # no goodbye from the client: the server must tell
            took = await alice.wait_for(lambda: NODE_ID not in alice.peers, timeout=5)
            assert took < 1.0, f"ghost for {took:.2f} s"
        finally:
            await node.stop()

    run(scenario())
