"""The live presence service on real loopback sockets, as the presence notebook uses it."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from rtlab.learner import load_module
from rtlab.live import running
from rtlab.topics.presence.live import (
    STAYING,
    PresenceServer,
    RosterView,
    Watcher,
    crowd_plans,
    roster_demo,
)

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = load_module(ROOT / "solutions" / "presence.py", "live_presence_solution")
IMMEDIATE = load_module(ROOT / "tests" / "known_bad" / "presence_immediate_removal.py",
                        "live_presence_immediate")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def wait_for(predicate, timeout: float = 3.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    return predicate()


async def user(url: str, name: str):
    ws = await connect(url, proxy=None, ping_interval=None, close_timeout=0.5)
    await ws.send(json.dumps({"hello": name}))
    return ws


def kinds(events, who):
    return [kind for _, kind, u in events if u == who]


def test_a_watcher_sees_a_join_and_after_the_grace_period_a_leave():
    async def scenario():
        server = await PresenceServer.start("t-presence-basic",
                                            SOLUTION.PresenceTracker(grace=0.3, ttl=10))
        try:
            watcher = await Watcher.start(server.url, server.now)
            ws = await user(server.url, "ada")
            assert await wait_for(lambda: "ada" in watcher.roster)
            await ws.close()
            await asyncio.sleep(0.15)
            assert "ada" in watcher.roster, "the leave must wait for the grace period"
            assert await wait_for(lambda: "ada" not in watcher.roster)
            assert kinds(watcher.events, "ada") == ["join", "leave"]
            await watcher.stop()
        finally:
            await server.stop()
        assert not running()

    run(scenario())


def test_a_reconnect_inside_the_grace_period_is_silent():
    async def scenario():
        server = await PresenceServer.start("t-presence-blip",
                                            SOLUTION.PresenceTracker(grace=0.5, ttl=10))
        try:
            ws = await user(server.url, "bo")
            await wait_for(lambda: server.events)
            ws.transport.abort()  # the link dies: no close frame
            await asyncio.sleep(0.1)
            ws = await user(server.url, "bo")
            await asyncio.sleep(0.8)
            assert kinds(server.events, "bo") == ["join"]
            late = await Watcher.start(server.url, server.now)
            assert late.roster == {"bo"}, "a newcomer starts from online()"
            await late.stop()
            await ws.close()
        finally:
            await server.stop()

    run(scenario())


def test_a_silent_connection_is_expired_by_its_ttl():
    async def scenario():
        server = await PresenceServer.start("t-presence-ttl",
                                            SOLUTION.PresenceTracker(grace=0.2, ttl=0.4))
        try:
            ws = await user(server.url, "cy")  # says hello, then never a heartbeat
            assert await wait_for(lambda: kinds(server.events, "cy") == ["join", "leave"])
            leave = next(t for t, kind, _ in server.events if kind == "leave")
            assert leave >= 0.6 - 0.05, f"left after {leave:.2f} s, before ttl + grace"
            await ws.close()
        finally:
            await server.stop()

    run(scenario())


def test_a_tracker_that_raises_is_reported_at_stop():
    class Broken:
        def connect(self, user, conn, now):
            raise ValueError("boom")

        def tick(self, now):
            return []

        def online(self):
            return set()

    async def scenario():
        server = await PresenceServer.start("t-presence-broken", Broken())
        ws = await user(server.url, "di")
        await asyncio.sleep(0.1)
        await ws.close()
        with pytest.raises(ValueError, match="boom"):
            await server.stop()
        assert not running()

    run(scenario())


def test_crowd_plans_are_seeded_and_mixed():
    plans = crowd_plans(7, 60)
    assert plans == crowd_plans(7, 60)
    roles = {p.role for p in plans}
    assert roles == {"steady", "blipper", "multitab", "handoff", "leaver", "crasher"}
    assert len({p.user for p in plans}) == 60
    assert len({p.user for p in crowd_plans(1, 130)}) == 130


def test_a_crowd_of_60_converges_with_grace_and_ttl():
    async def scenario():
        view = RosterView([])
        result = await roster_demo(SOLUTION.PresenceTracker(grace=1.0, ttl=1.0),
                                   name="t-presence-crowd", seed=7, view=view, settle=2.0)
        assert not running(), running()
        return result, view

    result, view = run(scenario())
    assert len(result.roles) == 60
    assert not result.ghosts and not result.missing, result.summary()
    assert all(roster == result.present for roster in result.rosters)
    assert result.flicker <= 4, result.summary()
    assert "online" in view.widget.value


def test_immediate_removal_flickers_and_keeps_crashed_users():
    async def scenario():
        return await roster_demo(IMMEDIATE.PresenceTracker(grace=0, ttl=math.inf),
                                 name="t-presence-immediate", users=40, seed=3)

    result = run(scenario())
    crashed = {u for u, r in result.roles.items() if r == "crasher"}
    assert result.flicker >= 6, result.summary()
    assert result.ghosts == crashed
    staying = {u for u, r in result.roles.items() if r in STAYING}
    assert staying <= result.present
