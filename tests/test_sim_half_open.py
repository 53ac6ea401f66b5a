"""A stalled link behind an idle proxy (rtlab.sim.network), as the heartbeat lesson uses it.

The idle proxy sits beside the server, like a load balancer; the half-open break
lies between it and the client. So the proxy still sees what the server sends,
never what the client sends, and when it cuts a stalled link only the server
hears of it: the client stays a ghost.
"""

from __future__ import annotations

from websockets.exceptions import ConnectionClosedError

from rtlab.sim import Latency, SimConnection, SimLoop, SimServer

LATENCY = Latency(0.05, 0.02)


def test_an_idle_proxy_cuts_a_silent_stalled_link_but_only_the_server_hears_it() -> None:
    loop = SimLoop(1)
    server_saw: list[tuple[float, BaseException]] = []

    async def handler(conn: SimConnection) -> None:
        try:
            await conn.recv()
        except ConnectionClosedError as error:
            server_saw.append((loop.now, error))

    server = SimServer(loop, latency=LATENCY, handler=handler, idle_timeout=30)
    conns: list[SimConnection] = []

    async def client() -> None:
        conns.append(await server.connect("ghost"))

    loop.spawn(client(), "client")
    loop.call_at(5.0, lambda: server.link_of("ghost").stall())  # type: ignore[union-attr]
    loop.run(600)
    assert server.idle_cuts == 1, f"idle_cuts={server.idle_cuts}; expected one cut"
    assert len(server_saw) == 1, f"the server saw {server_saw}; expected one abrupt close"
    at = server_saw[0][0]
    assert 30 <= at <= 30.2, f"the server heard of the cut at t={at:.3f}; expected ~30 s"
    assert (conns[0].closed, conns[0].close_code) == (False, None), (
        "the client's side of a stalled link must not hear of the proxy's cut"
    )
    assert server.connections == 0, "the server no longer counts the ghost"
    loop.close()


def test_what_the_server_sends_into_a_stall_keeps_the_idle_proxy_from_cutting() -> None:
    loop = SimLoop(2)

    async def ticker(conn: SimConnection) -> None:
        while True:
            await conn.send("tick")
            await loop.sleep(10)

    server = SimServer(loop, latency=LATENCY, handler=ticker, idle_timeout=30)
    conns: list[SimConnection] = []

    async def client() -> None:
        conns.append(await server.connect("ghost"))

    loop.spawn(client(), "client")
    loop.call_at(5.0, lambda: server.link_of("ghost").stall())  # type: ignore[union-attr]
    loop.run(600)
    assert server.idle_cuts == 0, (
        "a server that sends every 10 s into a stalled link behind a 30 s idle proxy: "
        f"idle_cuts={server.idle_cuts}; expected 0 (the proxy forwards it into the break)"
    )
    assert server.connections == 1 and not conns[0].closed, "both ends still believe"
    assert conns[0].buffered == 0 and server.link_of("ghost").buffered["server"] >= 59  # type: ignore[union-attr]
    loop.close()
