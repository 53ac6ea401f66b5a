"""The simulated WebSocket network and its faults (rtlab.sim.network).

Each test runs a few coroutines in virtual time against a SimServer and checks
what the ends saw, and when, against the bounds the Latency allows.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK

from rtlab.sim import Latency, SimConnection, SimLoop, SimServer, SimTask

BASE, JITTER = 0.05, 0.02
LATENCY = Latency(BASE, JITTER)
ONE_WAY = (BASE, BASE + JITTER)
RTT = (2 * BASE, 2 * (BASE + JITTER))
EPS = 1e-9


def within(t: float, bounds: tuple[float, float], offset: float = 0.0) -> bool:
    return offset + bounds[0] - EPS <= t <= offset + bounds[1] + EPS


def spawn(loop: SimLoop, coro: Coroutine[Any, Any, Any], name: str = "client") -> SimTask:
    return loop.spawn(coro, name)


async def hold_open(conn: SimConnection) -> None:
    await conn.wait_closed()


async def echo(conn: SimConnection) -> None:
    async for message in conn:
        await conn.send(message)


def network(
    handler: Callable[[SimConnection], Coroutine[Any, Any, Any]] | None = None,
    latency: Latency = LATENCY,
    seed: int = 0,
    **options: Any,
) -> tuple[SimLoop, SimServer]:
    loop = SimLoop(seed)
    return loop, SimServer(loop, latency=latency, handler=handler, **options)


# -- connecting -------------------------------------------------------------------


def test_connecting_to_an_up_server_takes_one_round_trip() -> None:
    loop, server = network()
    opened: list[tuple[float, SimConnection]] = []

    async def client() -> None:
        conn = await server.connect("alice")
        opened.append((loop.now, conn))

    spawn(loop, client())
    loop.run(1)
    assert len(opened) == 1, f"await server.connect('alice') gave {opened}; expected a connection"
    t, conn = opened[0]
    assert within(t, RTT), f"the connection opened at t={t:.4f} s; expected within one RTT {RTT}"
    outcomes = [(a.client, a.outcome) for a in server.attempts]
    assert outcomes == [("alice", "accepted")], f"server.attempts holds {outcomes}"
    assert (conn.closed, conn.close_code, conn.client_id, conn.remote_address) == (
        False,
        None,
        "alice",
        ("127.0.0.1", 8765),
    ), f"the new connection is {conn!r} closed={conn.closed} close_code={conn.close_code}"
    assert server.connections == 1, f"server.connections is {server.connections}; expected 1"


def test_connecting_while_the_server_is_down_is_refused_and_recorded() -> None:
    loop, server = network()
    server.go_down()
    refused: list[tuple[float, BaseException]] = []

    async def client() -> None:
        try:
            await server.connect("bob")
        except ConnectionRefusedError as error:
            refused.append((loop.now, error))

    task = spawn(loop, client())
    loop.run(1)
    assert task.error is None and len(refused) == 1, (
        f"connect() to a down server gave {refused} / {task.error!r}; "
        "expected ConnectionRefusedError"
    )
    assert isinstance(refused[0][1], OSError), "ConnectionRefusedError must be an OSError"
    assert within(refused[0][0], RTT), f"the refusal came at t={refused[0][0]:.4f}; expected {RTT}"
    outcomes = [(a.client, a.outcome) for a in server.attempts]
    assert outcomes == [("bob", "refused")], f"server.attempts holds {outcomes}"


def test_a_restart_closes_every_connection_with_1001_and_refuses_until_it_is_back() -> None:
    loop, server = network(handler=echo)
    ends: dict[str, tuple[float, int | None]] = {}
    later: list[tuple[float, str]] = []

    async def client(name: str) -> None:
        conn = await server.connect(name)
        async for _ in conn:  # ends quietly on a 1001
            pass
        ends[name] = (loop.now, conn.close_code)
        for at in (3.0, 6.5):
            await loop.sleep(at - loop.now)
            try:
                await server.connect(name)
                later.append((at, "accepted"))
            except ConnectionRefusedError:
                later.append((at, "refused"))

    tasks = [spawn(loop, client(f"c{i}"), f"c{i}") for i in range(3)]
    loop.call_at(1.0, server.restart, 5.0)
    loop.run(10)
    errors = [t.error for t in tasks if t.error is not None]
    assert errors == [], f"clients looping with `async for` raised {errors}; expected a quiet end"
    for name, (t, code) in sorted(ends.items()):
        assert code == 1001, f"after restart(), {name}'s close_code is {code}; expected 1001"
        assert within(t, ONE_WAY, offset=1.0), (
            f"{name} learned of the restart at t={t:.4f}; expected one way after t=1: {ONE_WAY}"
        )
    assert len(ends) == 3, f"only {sorted(ends)} saw their connection end; expected all 3"
    assert later == [(3.0, "refused")] * 3 + [(6.5, "accepted")] * 3, (
        f"connecting at t=3 (down until 6) and t=6.5 gave {later}; expected refused, then accepted"
    )


def test_go_down_during_a_restart_is_not_undone_when_the_restart_is_over() -> None:
    loop, server = network()
    loop.call_at(1.0, server.restart, 5.0)
    loop.call_at(2.0, server.go_down)  # a real outage starts while restarting
    loop.run(20)
    assert server.up is False, (
        "restart(5) at t=1, then go_down() at t=2: at t=20 server.up is True; "
        "expected the outage to last until go_up()"
    )
    server.go_up()
    assert server.up is True, "go_up() did not bring the server back"


# -- traffic ----------------------------------------------------------------------


def test_messages_in_one_direction_arrive_in_the_order_they_were_sent() -> None:
    loop, server = network(handler=echo, latency=Latency(0.01, 0.5))
    sent = [f"m{i}" for i in range(100)]
    received: list[str] = []

    async def client() -> None:
        conn = await server.connect()
        for message in sent:
            await conn.send(message)
            await loop.sleep(0.001)  # far less than the 0.5 s jitter
        for _ in sent:
            received.append(await conn.recv())

    task = spawn(loop, client())
    loop.run(60)
    assert task.error is None, f"the client raised {task.error!r}"
    assert received == sent, (
        f"100 messages sent 1 ms apart with 0.5 s jitter came back as {received[:8]}...; "
        "expected the order they were sent in (TCP keeps order)"
    )


def test_one_way_latency_stays_between_base_and_base_plus_jitter() -> None:
    delays: list[float] = []

    async def timer(conn: SimConnection) -> None:
        async for message in conn:
            delays.append(loop.now - float(message))

    loop, server = network(handler=timer)

    async def client() -> None:
        conn = await server.connect()
        for _ in range(200):
            await conn.send(repr(loop.now))
            await loop.sleep(1.0)  # far apart: only the latency decides the delay

    spawn(loop, client())
    loop.run(300)
    assert len(delays) == 200, f"the server got {len(delays)} of 200 messages"
    outside = [d for d in delays if not within(d, ONE_WAY)]
    assert outside == [], f"one-way delays {outside[:5]} fall outside {ONE_WAY} (Latency{LATENCY})"
    assert max(delays) - min(delays) > JITTER / 2, (
        f"200 delays spread only {max(delays) - min(delays):.4f} s; expected the jitter "
        f"({JITTER} s) to show"
    )


def test_a_close_frame_never_overtakes_the_messages_sent_before_it() -> None:
    async def farewell(conn: SimConnection) -> None:
        for i in range(20):
            await conn.send(f"bye {i}")
        await conn.close(1000)

    loop, server = network(handler=farewell, latency=Latency(0.01, 0.5))
    received: list[str | bytes] = []

    async def client() -> None:
        async for message in await server.connect():
            received.append(message)

    spawn(loop, client())
    loop.run(10)
    expected = [f"bye {i}" for i in range(20)]
    assert received == expected, (
        f"a handler sent 20 messages then close(1000); the client read {received}; "
        "expected all 20 before the close"
    )


# -- closing ----------------------------------------------------------------------


@pytest.mark.parametrize("code", [1000, 1001])
def test_a_clean_close_from_the_server_ends_async_for_without_an_exception(code: int) -> None:
    async def goodbye(conn: SimConnection) -> None:
        await conn.send("hello")
        await conn.close(code, "done")

    loop, server = network(handler=goodbye)
    seen: list[Any] = []

    async def client() -> None:
        conn = await server.connect()
        async for message in conn:
            seen.append(message)
        seen.append(conn.close_code)
        try:
            await conn.recv()
        except ConnectionClosedOK as closed:
            seen.append(closed)

    task = spawn(loop, client())
    loop.run(5)
    assert task.error is None, f"close({code}) from the server made the client raise {task.error!r}"
    assert seen[:2] == ["hello", code], (
        f"`async for` then close_code gave {seen[:2]}; expected ['hello', {code}]"
    )
    assert len(seen) == 3 and seen[2].rcvd.code == code, (
        f"recv() after the close gave {seen[2:]}; expected ConnectionClosedOK with code {code}"
    )


def test_a_dropped_link_raises_connection_closed_error_1006_on_both_ends_after_latency() -> None:
    server_saw: list[tuple[float, BaseException]] = []

    async def reader(conn: SimConnection) -> None:
        try:
            await conn.recv()
        except ConnectionClosed as error:
            server_saw.append((loop.now, error))
            assert conn.close_code == 1006, f"server side close_code is {conn.close_code}"

    loop, server = network(handler=reader)
    client_saw: list[tuple[float, BaseException, int | None]] = []

    async def client() -> None:
        conn = await server.connect("carol")
        try:
            async for _ in conn:
                pass
        except ConnectionClosed as error:
            client_saw.append((loop.now, error, conn.close_code))

    spawn(loop, client())
    loop.call_at(1.0, lambda: server.link_of("carol").drop())  # type: ignore[union-attr]
    loop.run(5)
    assert len(client_saw) == 1 and len(server_saw) == 1, (
        f"after link.drop() the client saw {client_saw} and the server {server_saw}; "
        "expected one ConnectionClosedError each"
    )
    for side, (t, error) in (("client", client_saw[0][:2]), ("server", server_saw[0])):
        assert type(error) is ConnectionClosedError and error.rcvd is None, (
            f"the {side} got {error!r}; expected ConnectionClosedError with no close frame (1006)"
        )
        assert within(t, ONE_WAY, offset=1.0), (
            f"the {side} learned of the drop at t={t:.4f}; expected one way after t=1: {ONE_WAY}"
        )
    assert server.handler_errors == [], f"the handler failed: {server.handler_errors}"
    assert client_saw[0][2] == 1006, (
        f"after a drop the client's close_code is {client_saw[0][2]}; expected 1006 "
        "(abnormal closure, as websockets reports it)"
    )


def test_wait_closed_returns_when_the_peer_closes() -> None:
    async def closer(conn: SimConnection) -> None:
        await loop.sleep(2)
        await conn.close()

    loop, server = network(handler=closer)
    returned: list[float] = []

    async def client() -> None:
        conn = await server.connect()
        await conn.wait_closed()
        returned.append(loop.now)
        await conn.wait_closed()  # already closed: returns at once
        returned.append(loop.now)

    spawn(loop, client())
    loop.run(10)
    assert len(returned) == 2 and returned[0] == returned[1], (
        f"wait_closed() returned at {returned}"
    )
    assert 2.0 < returned[0] < 2.0 + RTT[1] + ONE_WAY[1], (
        f"the server closed at about t=2; wait_closed() returned at t={returned[0]:.4f}"
    )


def test_send_on_a_closed_connection_raises_connection_closed() -> None:
    loop, server = network()
    raised: list[BaseException] = []

    async def client() -> None:
        conn = await server.connect()
        await conn.close()
        try:
            await conn.send("too late")
        except ConnectionClosedOK as error:
            raised.append(error)

    task = spawn(loop, client())
    loop.run(5)
    assert task.error is None and len(raised) == 1, (
        f"send() after close() raised {raised or task.error!r}; expected ConnectionClosedOK"
    )


def test_send_takes_only_str_or_bytes() -> None:
    loop, server = network()
    raised: list[BaseException] = []

    async def client() -> None:
        conn = await server.connect()
        try:
            await conn.send({"type": "hello"})  # type: ignore[arg-type]
        except TypeError as error:
            raised.append(error)

    spawn(loop, client())
    loop.run(5)
    assert len(raised) == 1 and "dict" in str(raised[0]), (
        f"send(a dict) raised {raised}; expected TypeError naming dict"
    )


# -- half-open links ----------------------------------------------------------------


def test_a_stalled_link_delivers_nothing_and_tells_nobody() -> None:
    server_got: list[str | bytes] = []
    server_conns: list[SimConnection] = []

    async def read_all(conn: SimConnection) -> None:
        async for message in conn:
            server_got.append(message)

    async def ticker(conn: SimConnection) -> None:
        server_conns.append(conn)
        loop.spawn(read_all(conn), "server reader")
        while True:
            await conn.send(f"tick sent at {loop.now:.3f}")
            await loop.sleep(1)

    loop, server = network(handler=ticker)
    client_got: list[tuple[float, str | bytes]] = []
    buffered_after_send: list[int] = []
    client_conns: list[SimConnection] = []

    async def read_ticks(conn: SimConnection) -> None:
        async for message in conn:
            client_got.append((loop.now, message))

    async def client() -> None:
        conn = await server.connect("dave")
        client_conns.append(conn)
        loop.spawn(read_ticks(conn), "client reader")
        await loop.sleep(0.99 - loop.now)
        await conn.send("in flight when the link stalls")
        buffered_after_send.append(conn.buffered)
        await loop.sleep(0.01)
        server.link_of("dave").stall()  # type: ignore[union-attr]
        for i in range(5):
            await conn.send(f"ping {i}")
            buffered_after_send.append(conn.buffered)
            await loop.sleep(1)

    spawn(loop, client())
    loop.run(601)  # ten virtual minutes
    late = [(t, m) for t, m in client_got if t >= 1.0]
    assert len(client_got) == 1 and late == [], (
        f"stall() at t=1: the client received {client_got[:4]}...; expected only the tick "
        "that arrived before the stall"
    )
    assert server_got == [], (
        f"the server received {server_got}; expected nothing, not even the message in flight"
    )
    client_conn, server_conn = client_conns[0], server_conns[0]
    state = (client_conn.closed, client_conn.close_code, server_conn.closed, server_conn.close_code)
    assert state == (False, None, False, None), (
        f"ten minutes after stall(): (client closed, code, server closed, code) = {state}; "
        "expected (False, None, False, None): a half-open link tells nobody"
    )
    assert buffered_after_send == [1, 2, 3, 4, 5, 6], (
        f"conn.buffered after one send in flight at the stall, then 5 sends on the stalled "
        f"link, was {buffered_after_send}; expected [1, 2, 3, 4, 5, 6]: nothing is ever consumed"
    )
    assert server_conn.buffered >= 599, (
        f"the server sent about 600 ticks into the stall; its buffered is {server_conn.buffered}"
    )
    loop.close()


# -- proxies and slow consumers -------------------------------------------------------


def test_an_idle_proxy_cuts_a_silent_connection_after_its_timeout() -> None:
    loop, server = network(handler=hold_open, idle_timeout=30)
    cut: list[tuple[float, float, BaseException]] = []

    async def client() -> None:
        conn = await server.connect()
        opened = loop.now
        try:
            await conn.recv()
        except ConnectionClosed as error:
            cut.append((opened, loop.now, error))

    spawn(loop, client())
    loop.run(100)
    assert len(cut) == 1, f"a silent connection behind a 30 s idle timeout gave {cut}"
    opened, at, error = cut[0]
    assert isinstance(error, ConnectionClosedError), f"the idle cut raised {error!r}; expected 1006"
    assert 30 - ONE_WAY[1] <= at - opened <= 30 + 2 * ONE_WAY[1], (
        f"the silent connection was cut {at - opened:.3f} s after opening; expected about 30 s"
    )
    assert server.idle_cuts == 1, f"server.idle_cuts is {server.idle_cuts}; expected 1"


def test_a_connection_that_talks_every_20_seconds_survives_an_idle_timeout_of_30() -> None:
    loop, server = network(handler=echo, idle_timeout=30)
    pongs: list[float] = []
    conns: list[SimConnection] = []

    async def client() -> None:
        conn = await server.connect()
        conns.append(conn)
        while True:
            await conn.send("ping")
            await conn.recv()
            pongs.append(loop.now)
            await loop.sleep(20)

    task = spawn(loop, client())
    loop.run(300)
    assert task.error is None, f"the chatty client failed with {task.error!r}"
    assert (conns[0].closed, server.idle_cuts) == (False, 0), (
        f"a ping every 20 s behind a 30 s idle timeout: at t=300 closed={conns[0].closed}, "
        f"idle_cuts={server.idle_cuts}; expected open, no cuts"
    )
    assert len(pongs) == 15, f"the client got {len(pongs)} pongs in 300 s; expected 15"
    loop.close()


def test_a_slow_consumer_gets_a_burst_at_its_read_rate_while_the_server_buffer_drains() -> None:
    server_conns: list[SimConnection] = []

    async def burst(conn: SimConnection) -> None:
        server_conns.append(conn)
        await conn.recv()  # "ready"
        for i in range(100):
            await conn.send(f"update {i}")
        await conn.wait_closed()

    loop, server = network(handler=burst)
    arrivals: list[float] = []
    received: list[str | bytes] = []

    async def client() -> None:
        conn = await server.connect("slow")
        server.link_of("slow").read_rate = 2  # type: ignore[union-attr]
        await conn.send("ready")
        async for message in conn:
            arrivals.append(loop.now)
            received.append(message)

    spawn(loop, client())
    samples: dict[float, int] = {}
    for t in (1.0, 25.0, 60.0):
        loop.call_at(t, lambda t=t: samples.__setitem__(t, server_conns[0].buffered))
    loop.run(70)
    assert received == [f"update {i}" for i in range(100)], (
        f"the slow consumer got {len(received)} messages, starting {received[:3]}"
    )
    start = arrivals[0]
    assert 49.0 <= arrivals[-1] - start <= 50.0, (
        f"100 messages at read_rate=2/s took {arrivals[-1] - start:.2f} s; expected about 50 s"
    )
    assert samples[1.0] >= 97, f"server-side buffered at t=1 is {samples[1.0]}; expected ~100"
    assert 40 <= samples[25.0] <= 60, f"buffered at t=25 is {samples[25.0]}; expected ~50"
    assert samples[60.0] == 0, f"buffered at t=60, all consumed, is {samples[60.0]}; expected 0"


def test_buffered_drops_to_zero_once_a_reading_peer_has_consumed_everything() -> None:
    async def sender(conn: SimConnection) -> None:
        server_conns.append(conn)
        for i in range(10):
            await conn.send(str(i))
        await conn.wait_closed()

    server_conns: list[SimConnection] = []
    loop, server = network(handler=sender, latency=Latency(0.05, 0.0))
    received: list[str | bytes] = []

    async def client() -> None:
        async for message in await server.connect():
            received.append(message)

    spawn(loop, client())
    loop.run(5)
    assert len(received) == 10, f"the client read {received}; expected 10 messages"
    assert server_conns[0].buffered == 0, (
        f"the client read all 10 messages but the server's buffered is "
        f"{server_conns[0].buffered}; expected 0"
    )


# -- capacity --------------------------------------------------------------------------


def test_a_burst_of_handshakes_beyond_capacity_crashes_the_server() -> None:
    loop, server = network(capacity=(3, 1.0), crash_downtime=5.0)
    fates: dict[str, Any] = {}

    async def early(name: str, at: float) -> None:
        await loop.sleep(at)
        try:
            conn = await server.connect(name)
        except ConnectionRefusedError:
            fates[name] = "refused"
            return
        try:
            await conn.recv()
        except ConnectionClosed as error:
            fates[name] = (type(error).__name__, conn.close_code)

    async def retry(name: str, at: float) -> None:
        await loop.sleep(at)
        try:
            await server.connect(name)
            fates[name] = "accepted"
        except ConnectionRefusedError:
            fates[name] = "refused"

    for i in range(4):
        spawn(loop, early(f"c{i}", 0.3 * i), f"c{i}")
    spawn(loop, retry("during", 3.0), "during")
    spawn(loop, retry("after", 7.0), "after")
    loop.run(20)

    assert len(server.crashes) == 1 and within(server.crashes[0], ONE_WAY, offset=0.9), (
        f"4 handshakes in 1 s with capacity (3, 1.0): server.crashes={server.crashes}; "
        "expected one crash when the 4th arrived (t~0.95)"
    )
    dropped = ("ConnectionClosedError", 1006)
    expected = {
        "c0": dropped,
        "c1": dropped,
        "c2": dropped,
        "c3": "refused",
        "during": "refused",
        "after": "accepted",
    }
    assert fates == expected, f"the clients fared {fates}; expected {expected}"
    outcomes = [a.outcome for a in server.attempts]
    assert outcomes == ["accepted"] * 3 + ["overload", "refused", "accepted"], (
        f"server.attempts outcomes are {outcomes}"
    )


# -- handlers ---------------------------------------------------------------------------


def test_a_handler_that_raises_is_recorded_and_the_server_keeps_serving_others() -> None:
    async def picky(conn: SimConnection) -> None:
        if conn.client_id == "bad":
            raise ValueError("I do not like this client")
        await echo(conn)

    loop, server = network(handler=picky)
    results: dict[str, Any] = {}

    async def client(name: str) -> None:
        conn = await server.connect(name)
        try:
            await conn.send("hi")
            results[name] = await conn.recv()
        except ConnectionClosed as error:
            results[name] = (type(error).__name__, conn.close_code)

    spawn(loop, client("bad"), "bad")
    loop.spawn(client("good"), "good", at=1.0)
    loop.run(5)
    errors = [(round(t, 3), repr(e)) for t, e in server.handler_errors]
    assert len(errors) == 1 and "I do not like this client" in errors[0][1], (
        f"server.handler_errors is {errors}; expected one ValueError"
    )
    assert results.get("good") == "hi", f"a later client got {results.get('good')!r}; expected 'hi'"
    assert results.get("bad") == ("ConnectionClosedError", 1011), (
        f"the client whose handler raised got {results.get('bad')!r}; expected the "
        "connection closed with 1011 (internal error), as websockets does"
    )


def test_a_handler_that_returns_closes_its_connection_with_1000() -> None:
    async def one_shot(conn: SimConnection) -> None:
        await conn.send("the answer")

    loop, server = network(handler=one_shot)
    seen: list[Any] = []

    async def client() -> None:
        conn = await server.connect()
        async for message in conn:
            seen.append(message)
        seen.append(conn.close_code)

    spawn(loop, client())
    loop.run(5)
    assert seen == ["the answer", 1000], (
        f"a handler that sent one message and returned gave the client {seen}; "
        "expected ['the answer', 1000], as websockets closes after the handler returns"
    )


# -- misuse -----------------------------------------------------------------------------


def test_recv_while_another_recv_is_waiting_raises_runtime_error() -> None:
    loop, server = network(handler=hold_open)
    raised: list[BaseException] = []

    async def first_reader(conn: SimConnection) -> None:
        await conn.recv()

    async def client() -> None:
        conn = await server.connect()
        loop.spawn(first_reader(conn), "first reader")
        await loop.sleep(1)
        try:
            conn.recv()
        except RuntimeError as error:
            raised.append(error)

    spawn(loop, client())
    loop.run(5)
    assert len(raised) == 1 and "already in recv()" in str(raised[0]), (
        f"a second recv() while one waits raised {raised}; expected RuntimeError"
    )
    loop.close()


def test_a_misspelled_connection_attribute_raises_an_attribute_error_naming_the_methods() -> None:
    loop, server = network()
    conns: list[SimConnection] = []

    async def client() -> None:
        conns.append(await server.connect())

    spawn(loop, client())
    loop.run(1)
    with pytest.raises(AttributeError) as caught:
        conns[0].recieve  # noqa: B018
    message = str(caught.value)
    for needed in ("'recieve'", "recv()", "send()", "close()", "wait_closed()"):
        assert needed in message, f"conn.recieve raised {message!r}; expected it to name {needed}"
    assert not hasattr(conns[0], "ping_interval"), "hasattr() must be False for unknown names"


def test_link_of_an_unknown_or_gone_client_is_none() -> None:
    loop, server = network()

    async def client() -> None:
        conn = await server.connect("erin")
        await conn.close()

    spawn(loop, client())
    loop.run(0.1)
    assert server.link_of("erin") is not None, "link_of('erin') while connected is None"
    assert server.link_of("nobody") is None, "link_of('nobody') should be None"
    loop.run(5)
    assert server.link_of("erin") is None, "link_of('erin') after its close should be None"
