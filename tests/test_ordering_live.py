"""The live room server on real loopback sockets, as the ordering lesson uses it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtlab.learner import load_module
from rtlab.live import FaultProxy, running, stop_all
from rtlab.topics.ordering_and_rooms.live import (
    POLICY_VIOLATION,
    ArrivalClient,
    DemoRoom,
    InOrderClient,
    Member,
    RoomServer,
    burst,
    join_race,
    tally,
)

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = load_module(ROOT / "solutions" / "ordering.py", "live_ordering_solution")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def history_first(*args, **kwargs):
    return DemoRoom(*args, subscribe_first=False, **kwargs)


async def wait_for(predicate, timeout: float = 3.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    return predicate()


def test_50_joins_racing_a_burst_lose_and_duplicate_nothing_with_the_reference():
    async def main():
        server = await RoomServer.start("t-race", SOLUTION.Room, read_delay=0.05)
        race = await join_race(server, lambda room: SOLUTION.Client(room), joiners=50,
                               messages=300, rate=400, seed=1)
        await server.stop()
        return race

    race = run(main())
    assert race.joiners == 50 and race.published == 300
    assert sum(race.lost.values()) == 0, race.summary()
    assert sum(race.duplicated.values()) == 0, race.summary()
    assert sum(race.out_of_order.values()) == 0, race.summary()


def test_history_then_subscribe_loses_and_subscribe_then_history_duplicates():
    async def main():
        server = await RoomServer.start("t-race", history_first, read_delay=0.05)
        before = await join_race(server, lambda room: ArrivalClient(room, dedupe=True),
                                 joiners=20, messages=200, rate=400, seed=2)
        server = await RoomServer.start("t-race", DemoRoom, read_delay=0.05)
        after = await join_race(server, lambda room: ArrivalClient(room), joiners=20,
                                messages=200, rate=400, seed=2)
        await stop_all()
        return before, after

    before, after = run(main())
    assert sum(before.lost.values()) > 0 and sum(before.duplicated.values()) == 0
    assert sum(after.lost.values()) == 0 and sum(after.duplicated.values()) > 0


def test_two_hops_reorder_and_a_pending_buffer_puts_them_back():
    async def main():
        server = await RoomServer.start("t-hops", DemoRoom, hops=0.03, seed=3)
        naive = await Member.start("naive", ArrivalClient("lobby"), server.url)
        ordered = await Member.start("ordered", InOrderClient("lobby"), server.url)
        await wait_for(lambda: len(server.joins) == 2)
        await asyncio.sleep(0.1)
        await burst(server.url, 150, 500)
        await wait_for(lambda: len(ordered.shown) == len(naive.shown) == 150)
        result = tally(server, [naive, ordered])
        await stop_all()
        return result

    result = run(main())
    assert result.out_of_order["naive"] > 0
    assert result.out_of_order["ordered"] == 0
    assert result.lost == {"naive": 0, "ordered": 0}


def test_a_member_cut_by_the_proxy_resumes_after_its_last_seq():
    async def main():
        server = await RoomServer.start("t-cut", SOLUTION.Room)
        proxy = await FaultProxy.start("t-cut", server.port)
        member = await Member.start("m", SOLUTION.Client("lobby"), proxy.url)
        await wait_for(lambda: len(server.joins) == 1)
        publisher = asyncio.get_running_loop().create_task(burst(server.url, 200, 400))
        await asyncio.sleep(0.2)
        proxy.tunnels[-1].cut()
        await publisher
        await wait_for(lambda: len(member.shown) == 200)
        resumed = [j.since for j in server.joins[1:]]
        seqs = [m["seq"] for m in member.shown]
        connections = member.connections
        await stop_all()
        return seqs, resumed, connections

    seqs, resumed, connections = run(main())
    assert connections == 2
    assert resumed and resumed[0] is not None and resumed[0] > 0, resumed
    assert seqs == list(range(1, 201))


def test_bad_input_gets_a_clear_answer_and_hurts_nobody_else():
    async def main():
        server = await RoomServer.start("t-bad", SOLUTION.Room, rooms=("lobby", "games"))
        watcher = await Member.start("watcher", SOLUTION.Client("lobby"), server.url)
        await wait_for(lambda: len(server.joins) == 1)
        answers = {}
        async with connect(server.url) as ws:
            await ws.send(json.dumps({"type": "send", "room": "lobby", "id": "a-1", "body": "x"}))
            await ws.send(json.dumps({"type": "send", "room": "lobby", "id": "a-1", "body": "x"}))
            for label, since, room in [("future", 99, "lobby"), ("malformed", "abc", "lobby"),
                                       ("negative", -3, "lobby"), ("unknown", None, "attic")]:
                await ws.send(json.dumps({"type": "join", "room": room, "since": since}))
                answers[label] = json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "join", "room": "games", "since": None}))
            answers["games"] = json.loads(await ws.recv())
            await ws.send("{not json")
            try:
                await ws.recv()
            except ConnectionClosed:
                pass
            closed = (ws.close_code, ws.close_reason)
        async with connect(server.url) as ws:
            await ws.send(b"\x00\x01")
            try:
                await ws.recv()
            except ConnectionClosed:
                pass
            binary = ws.close_code
        await burst(server.url, 5, 200, start=2, sender="a")
        await wait_for(lambda: len(watcher.shown) == 6)
        shown = [m["id"] for m in watcher.shown]
        await stop_all()
        return answers, closed, binary, shown

    answers, closed, binary, shown = run(main())
    for label in ("future", "malformed", "negative", "unknown"):
        assert answers[label]["type"] == "error" and answers[label]["reason"], label
    assert "attic" in answers["unknown"]["reason"]
    assert answers["games"] == {"type": "joined", "room": "games", "after": 0}
    assert closed == (POLICY_VIOLATION, "not JSON")
    assert binary == POLICY_VIOLATION
    assert shown == ["a-1", "a-2", "a-3", "a-4", "a-5", "a-6"], "a retry dropped, nothing lost"


def test_stop_all_stops_the_room_server_and_its_members():
    async def main():
        server = await RoomServer.start("t-stop", DemoRoom)
        await Member.start("t-member", InOrderClient("lobby"), server.url)
        await asyncio.sleep(0.1)
        names, before = list(running()), ours()
        await stop_all()
        await asyncio.sleep(0)
        return names, list(running()), before, ours()

    def ours():
        return [t for t in asyncio.all_tasks() if not t.done()
                and "rtlab" in getattr(getattr(t.get_coro(), "cr_code", None), "co_filename", "")]

    names, after, before, left = run(main())
    assert any("t-stop" in n for n in names) and any("t-member" in n for n in names)
    assert before, "the member's tasks should be running before stop_all"
    assert after == [] and left == []


def test_a_client_that_raises_is_reported_when_its_member_stops():
    class Broken(InOrderClient):
        def receive(self, message, now):
            raise NotImplementedError("Client.receive")

    async def main():
        server = await RoomServer.start("t-broken", DemoRoom)
        member = await Member.start("t-broken", Broken("lobby"), server.url)
        await wait_for(lambda: bool(member.errors))
        try:
            await member.stop()
        except NotImplementedError as error:
            return str(error)
        finally:
            await stop_all()
        return None

    assert run(main()) == "Client.receive"
