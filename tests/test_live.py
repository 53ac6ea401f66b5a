"""Live servers and fleets on real loopback sockets, as the notebooks use them."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from rtlab.learner import load_module
from rtlab.live import LiveServer, running, stop_all
from rtlab.topics.reconnection.live import Fleet, live_connector

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = load_module(ROOT / "solutions" / "reconnection.py", "live_solution")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def greet(url: str) -> str:
    async with connect(url, proxy=None, open_timeout=2) as ws:
        return str(await ws.recv())


def test_a_server_binds_loopback_on_a_free_port_and_greets():
    async def scenario():
        server = await LiveServer.start("t-greet")
        try:
            assert server.url.startswith("ws://127.0.0.1:") and server.port > 0
            assert await greet(server.url) == "welcome"
            assert len(server.arrivals) == 1
        finally:
            await server.stop()

    run(scenario())


def test_starting_a_server_with_a_taken_name_replaces_the_old_one():
    async def scenario():
        first = await LiveServer.start("t-replace")
        second = await LiveServer.start("t-replace")
        try:
            assert not first.listening, "the first server should have been stopped"
            assert running().get("LiveServer t-replace") is second
            with pytest.raises(OSError):
                await greet(first.url)
            assert await greet(second.url) == "welcome"
        finally:
            await second.stop()
        assert "LiveServer t-replace" not in running()

    run(scenario())


def test_a_restart_closes_with_1001_refuses_then_serves_on_the_same_port():
    async def scenario():
        server = await LiveServer.start("t-restart")
        try:
            ws = await connect(server.url, proxy=None)
            await ws.recv()
            await server.restart(downtime=0.3)
            await ws.wait_closed()
            assert ws.close_code == 1001
            with pytest.raises(OSError):
                await greet(server.url)
            await asyncio.sleep(0.5)
            assert await greet(server.url) == "welcome"
        finally:
            await server.stop()

    run(scenario())


def test_a_herd_over_capacity_knocks_the_server_over_and_it_comes_back():
    async def scenario():
        server = await LiveServer.start("t-crash", capacity=(5, 1.0), crash_downtime=0.3)
        try:
            survivors = [await connect(server.url, proxy=None) for _ in range(5)]
            with pytest.raises((OSError, Exception)):
                await greet(server.url)  # the sixth handshake in a second: it falls over
            assert len(server.crashes) == 1
            for ws in survivors:
                with pytest.raises(ConnectionClosedError):
                    while True:
                        await ws.recv()
                assert ws.close_code == 1006, "a crash sends no close frame"
            await asyncio.sleep(1.2)
            assert await greet(server.url) == "welcome"
        finally:
            await server.stop()

    run(scenario())


def test_handler_errors_are_collected_and_raised_at_check_and_stop():
    async def flaky(conn: ServerConnection) -> None:
        message = await conn.recv()
        if message == "boom":
            raise ValueError("handler bug")
        await conn.send(f"echo {message}")

    async def scenario():
        server = await LiveServer.start("t-errors", flaky)
        async with connect(server.url, proxy=None) as bad:
            await bad.send("boom")
            with pytest.raises(ConnectionClosed):
                await bad.recv()
        async with connect(server.url, proxy=None) as good:
            await good.send("hi")
            assert await good.recv() == "echo hi", "other connections keep being served"
        with pytest.raises(ValueError, match="handler bug"):
            server.check()
        server.check()  # reported once, then forgotten
        async with connect(server.url, proxy=None) as bad:
            await bad.send("boom")
            with pytest.raises(ConnectionClosed):
                await bad.recv()
        with pytest.raises(ValueError):
            await server.stop()

    run(scenario())


def test_over_max_connections_the_connector_raises_connection_refused():
    async def scenario():
        server = await LiveServer.start("t-max", max_connections=1)
        try:
            first = await live_connector(server.url)()
            with pytest.raises(ConnectionRefusedError, match="503"):
                await live_connector(server.url)()
            assert len(server.rejected) == 1
            await first.close()
        finally:
            await server.stop()

    run(scenario())


def test_a_fleet_running_the_solution_comes_back_after_a_restart():
    async def scenario():
        server = await LiveServer.start("t-fleet")
        fleet = await Fleet.start(
            server.url, SOLUTION.stay_connected,
            lambda rng: SOLUTION.Backoff(base=0.05, cap=0.5, rng=rng),
            count=40, ramp=0.2, name="t-fleet",
        )
        try:
            assert await fleet.wait_connected(timeout=10), f"only {fleet.connected} connected"
            restart_at = fleet.elapsed()
            await server.restart(downtime=0.3)
            assert await fleet.wait_connected(timeout=10), f"only {fleet.connected} came back"
            assert len(fleet.times("open", since=restart_at)) >= 40
            assert fleet.times("refused", since=restart_at), "some attempts met the closed port"
        finally:
            await fleet.stop()
            await server.stop()
        assert not running()

    run(scenario())


def test_a_fleet_collects_the_errors_of_learner_code():
    stub = load_module(ROOT / "exercises" / "reconnection.py", "live_stub")

    async def scenario():
        server = await LiveServer.start("t-stub")
        fleet = await Fleet.start(server.url, stub.stay_connected,
                                  lambda rng: stub.Backoff(rng=rng), count=3, ramp=0.0,
                                  name="t-stub")
        await asyncio.sleep(0.1)
        with pytest.raises(NotImplementedError):
            await fleet.stop()
        await server.stop()

    run(scenario())


def test_stop_all_stops_everything_and_returns_errors_instead_of_raising():
    async def broken(conn: ServerConnection) -> None:
        raise RuntimeError("oops")

    async def scenario():
        server = await LiveServer.start("t-all-1", broken)
        await LiveServer.start("t-all-2")
        with pytest.raises(ConnectionClosed):
            async with connect(server.url, proxy=None) as ws:
                await ws.recv()
        errors = await stop_all()
        assert not running()
        assert [type(e) for e in errors] == [RuntimeError]

    run(scenario())


def test_the_fleet_gives_each_client_its_own_seeded_rng():
    seen = []

    def make(rng: random.Random):
        seen.append(rng.random())
        return SOLUTION.Backoff(rng=rng)

    async def scenario():
        server = await LiveServer.start("t-seed")
        fleet = await Fleet.start(server.url, SOLUTION.stay_connected, make, count=3,
                                  seed=7, name="t-seed")
        await fleet.stop()
        await server.stop()

    run(scenario())
    first = list(seen)
    seen.clear()
    run(scenario())
    assert seen == first and len(set(first)) == 3


def test_a_fleet_notices_learner_code_that_blocks_the_event_loop():
    import time as clock

    async def blocking(connect, backoff, sleep):
        conn = await connect()
        clock.sleep(2.5)  # the mistake: a blocking sleep inside async code
        await conn.wait_closed()

    async def scenario():
        server = await LiveServer.start("t-block")
        fleet = await Fleet.start(server.url, blocking, lambda rng: None, count=1, ramp=0.0,
                                  name="t-block")
        await asyncio.sleep(3.0)
        with pytest.raises(RuntimeError, match="blocked for"):
            await fleet.stop()
        await server.stop()

    run(scenario())


def test_collected_errors_are_raised_once_when_alike_and_as_a_group_when_not():
    from rtlab.live.registry import raise_collected

    raise_collected([], "nothing")  # no errors: returns
    alike = [NotImplementedError("TODO: next_delay") for _ in range(3)]
    with pytest.raises(NotImplementedError) as caught:
        raise_collected(alike, "fleet 'f'")
    assert caught.value.__notes__ == ["(the same error 3 times in fleet 'f')"]
    with pytest.raises(ExceptionGroup) as group:
        raise_collected([ValueError("a"), KeyError("b")], "server 's'")
    assert len(group.value.exceptions) == 2 and "2 errors in server 's'" in str(group.value)
