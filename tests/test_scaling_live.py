"""The scaling-out relay live: real redis-server, real HAProxy, real WebSockets, loopback.

redis-server and haproxy come from the Debian packages (system-packages.txt); the course
starts them on free loopback ports and stops them. Without them these tests are
skipped, except under CI=true, where they must run.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtlab.learner import load_module
from rtlab.live import running, stop_all
from rtlab.topics.scaling_out.live import RelayNode, RoomClient, publish_raw, tally
from rtlab.topics.scaling_out.parts import HAProxy, RedisServer, missing

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = load_module(ROOT / "solutions" / "scaling.py", "scaling_live_solution")
GARBAGE = load_module(ROOT / "tests" / "known_bad" / "scaling_crashes_on_garbage.py",
                      "scaling_live_garbage")

absent = missing("redis-server", "haproxy")
if absent and os.environ.get("CI") == "true":
    pytest.fail(f"CI must run the live Redis and HAProxy tests: {absent}",
                pytrace=False)
pytestmark = pytest.mark.skipif(absent is not None, reason=absent or "")


def run(coro):
    async def guarded():
        try:
            return await asyncio.wait_for(coro, 40)
        finally:
            await stop_all()
    return asyncio.run(guarded())


async def cluster(servers: int = 2, balance: str = "roundrobin", relay=SOLUTION.Relay):
    redis = await RedisServer.start("test-redis")
    nodes = [await RelayNode.start(f"s{i + 1}", relay(f"s{i + 1}"), redis.url)
             for i in range(servers)]
    proxy = await HAProxy.start("test-lb", {n.name: n.port for n in nodes}, balance)
    return redis, nodes, proxy


async def crowd(url: str, n: int, room: str = "r1") -> list[RoomClient]:
    people = [RoomClient(url, f"c{i + 1}", room, reconnect_after=0.1) for i in range(n)]
    for p in people:
        p.start()
    await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in people)), 5)
    await asyncio.sleep(0.1)
    return people


async def chatter(people: list[RoomClient], count: int, pause: float = 0.01,
                  during=None) -> dict[str, tuple[float, str]]:
    sent: dict[str, tuple[float, str]] = {}
    for k in range(count):
        if during is not None and k == count // 3:
            await during()
        speaker = people[k % len(people)]
        text = f"#{k} from {speaker.client}"
        if await speaker.send(text):
            sent[text] = (asyncio.get_running_loop().time(), speaker.client)
        await asyncio.sleep(pause)
    await asyncio.sleep(0.8)
    return sent


def test_every_member_gets_every_message_once_across_two_servers_and_a_redis_restart():
    async def scenario():
        redis, nodes, proxy = await cluster()
        people = await crowd(proxy.url, 6)
        assert {p.server for p in people} == {"s1", "s2"}, "round robin spreads the room"
        sent = await chatter(people, 60, during=lambda: redis.restart(0.3))
        result = tally(people, sent)
        assert result.sent >= 50 and result.missing == 0 and result.duplicates == 0, \
            result.summary()
        assert all(n.reconnects == 1 for n in nodes), [n.reconnects for n in nodes]
        answers = [await n.who("r1") for n in nodes]
        assert answers[0] == answers[1] == [p.client for p in people]
        for node in nodes:
            node.check()
    run(scenario())


def test_a_server_that_dies_loses_nothing_for_its_clients_who_come_back_elsewhere():
    async def scenario():
        _redis, nodes, proxy = await cluster(3)
        people = await crowd(proxy.url, 6)
        victims = [p for p in people if p.server == "s1"]

        async def kill():
            await nodes[0].kill()
        sent = await chatter(people, 60, during=kill)
        await asyncio.sleep(0.5)
        assert victims and all(p.server in ("s2", "s3") for p in victims)
        result = tally(people, sent)
        assert result.missing == 0 and result.duplicates == 0, result.summary()
    run(scenario())


def test_bad_input_gets_a_clear_close_code_and_harms_no_one_else():
    async def scenario():
        redis, nodes, proxy = await cluster()
        people = await crowd(proxy.url, 4)
        async with connect(f"{proxy.url}/?room=r1") as conn:
            with pytest.raises(ConnectionClosed):
                await conn.recv()
        assert conn.close_code == 1008 and "client" in (conn.close_reason or "")
        async with connect(f"{proxy.url}/?room=r1&client=x&last_seen=banana") as conn:
            with pytest.raises(ConnectionClosed):
                await conn.recv()
        assert conn.close_code == 1008 and "not a stream id" in (conn.close_reason or "")
        async with connect(f"{proxy.url}/?room=r1&client=y&last_seen=99999999999999-0") as conn:
            with pytest.raises(ConnectionClosed):
                await conn.recv()
        assert conn.close_code == 1008 and "ahead" in (conn.close_reason or "")
        await publish_raw(redis.url, "r1", "this is not an announcement")
        await asyncio.sleep(0.1)
        assert all(n.bad_input for n in nodes), "each server says what it skipped"
        result = tally(people, await chatter(people, 20))
        assert result.missing == 0 and result.duplicates == 0, result.summary()
        for node in nodes:
            node.check()
    run(scenario())


def test_a_relay_that_raises_is_reported_and_other_rooms_keep_working():
    async def scenario():
        redis, nodes, proxy = await cluster(relay=GARBAGE.Relay)
        good = await crowd(proxy.url, 4, room="r1")
        bad = [RoomClient(proxy.url, "victim", "r2")]
        bad[0].start()
        await bad[0].connected.wait()
        # a foreign producer writes a non-JSON entry into r2's stream and announces it
        from redis.asyncio import Redis
        db = Redis.from_url(redis.url)
        entry = (await db.xadd("stream:r2", {"d": "not json"})).decode()
        await db.publish("room:r2", f"{entry} not json")
        await db.aclose()
        await asyncio.sleep(0.2)
        result = tally(good, await chatter(good, 20))
        assert result.missing == 0, result.summary()
        raised = [e for n in nodes for e in n.errors]
        assert raised and "raised" in str(raised[0])
        for n in nodes:
            n.errors.clear()
    run(scenario())


def test_sticky_cookie_sends_a_returning_client_to_its_server_and_stop_all_ends_everything():
    async def scenario():
        redis, _nodes, proxy = await cluster(3, balance="sticky")
        person = RoomClient(proxy.url, "c1", "r1", cookies=True, reconnect_after=0.05)
        person.start()
        await person.connected.wait()
        first = person.server
        assert person.cookie and person.cookie.startswith("SERVERID=")
        for _ in range(3):
            assert person.conn is not None
            person.conn.transport.abort()
            await asyncio.sleep(0.3)
            assert person.server == first
        await person.stop()
        assert {"HAProxy test-lb", "RedisServer test-redis"} <= set(running())
        procs = [redis.proc, proxy.proc]
        await stop_all()
        assert all(p is not None and p.returncode is not None for p in procs)
    run(scenario())


def test_the_published_entry_reaches_pubsub_as_id_and_data():
    async def scenario():
        redis, _nodes, proxy = await cluster(1)
        people = await crowd(proxy.url, 1)
        await people[0].send("hello")
        await asyncio.sleep(0.3)
        assert [r.text for r in people[0].received] == ["hello"]
        from redis.asyncio import Redis
        db = Redis.from_url(redis.url, decode_responses=True)
        [(entry_id, fields)] = await db.xrange("stream:r1")
        await db.aclose()
        assert json.loads(fields["d"]) == {"from": "c1", "text": "hello"}
        assert people[0].last_seen == entry_id
    run(scenario())
