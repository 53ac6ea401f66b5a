"""The transports lab on real loopback sockets: are its measurements right?"""

from __future__ import annotations

import asyncio
import gc
import itertools
import statistics

import aiohttp
import pytest

from rtlab.live import running, stop_all
from rtlab.topics.transports.live import TRANSPORTS, Setup, TransportLab, event_stream, measure


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 40))


def test_the_stream_is_seeded_and_has_rate_times_duration_events_in_order():
    a, b = event_stream(3, 4.0, 2.5), event_stream(3, 4.0, 2.5)
    assert a == b and len(a) == 10
    assert [e.seq for e in a] == list(range(1, 11))
    assert all(0 <= x.at <= y.at < 2.5 for x, y in itertools.pairwise(a))
    assert event_stream(4, 4.0, 2.5) != a


def test_every_transport_delivers_every_event_exactly_once_and_polling_waits_half_an_interval():
    interval = 0.4
    setup = Setup(rate=6, clients=4, duration=3.0, poll_interval=interval, seed=11)
    m = run(measure(setup, name="t-transports-main"))
    events = 18
    for t in TRANSPORTS:
        s = m[t]
        assert (s.events, s.delivered, s.duplicates, s.missing) == (events, events * 4, 0, 0), t
        assert s.connections == 4, f"{t}: one keep-alive connection per client"
        assert s.bytes_per_event > s.payload_per_event > 50, t
        assert s.cpu > 0, t
    polling = m["polling"]
    # Each client polls at its own phase, so an event waits on average half an interval.
    assert 0.3 * interval <= statistics.fmean(polling.delays) <= 0.7 * interval
    assert max(polling.delays) < interval + 0.25
    for t in ("long-polling", "sse", "websocket"):
        assert statistics.fmean(m[t].delays) < 0.3 * interval, f"{t} pushes at once"
    assert m["sse"].requests == m["websocket"].requests == 4, "one request per client, ever"
    assert m["long-polling"].requests >= events, "one request per answer"
    assert polling.requests >= 4 * 3.0 / interval, "every client polls every interval"
    # A server-to-client text frame is a 2-byte header plus the payload (< 126 bytes);
    # what is left of the bytes out is one handshake response per client.
    ws = m["websocket"]
    frames = ws.delivered * 2 + ws.payload_bytes
    assert 100 * 4 <= ws.bytes_out - frames <= 400 * 4
    assert 100 * 4 <= ws.bytes_in <= 600 * 4, "only the clients' handshakes came in"


def test_idle_polls_are_the_requests_that_carried_nothing():
    # One event in 2 s: each client gets it in exactly one poll; every other poll is idle.
    setup = Setup(rate=0.5, clients=3, duration=2.0, poll_interval=0.25, hold=0.3, seed=2)
    m = run(measure(setup, name="t-transports-idle"))
    assert gc.isenabled(), "the collector, paused while measuring, is back on"
    polling, long_polling = m["polling"], m["long-polling"]
    assert polling.events == 1 and polling.delivered == 3
    assert polling.idle == polling.requests - 3 >= 3 * 6
    assert polling.idle_per_minute_per_client > 60 / 0.25 * 0.5
    # Long polls are held up to 0.3 s: in 2 s of quiet some come back empty, fewer than polls.
    assert 3 <= long_polling.idle < polling.idle
    assert m["sse"].idle == m["websocket"].idle == 0


def test_bytes_are_counted_exactly_as_they_cross_the_socket():
    async def scenario():
        lab = await TransportLab.start("t-transports-bytes", Setup(), transports=["polling"])
        try:
            server = lab.servers["polling"]
            request = (f"GET /poll?after=0 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                       "Connection: close\r\n\r\n").encode()
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(request)
            response = await reader.read()  # until the server closes
            writer.close()
            await writer.wait_closed()
            assert response.startswith(b"HTTP/1.1 200 OK")
            assert response.endswith(b'{"next": 0, "events": []}')
            meter = server.meter
            assert (meter.bytes_in, meter.bytes_out) == (len(request), len(response))
            assert (meter.requests, meter.idle, meter.connections) == (1, 1, 1)
        finally:
            await lab.stop()

    run(scenario())


def test_a_bad_request_gets_a_clear_400_and_the_server_keeps_serving():
    async def scenario():
        lab = await TransportLab.start("t-transports-bad", Setup(),
                                       transports=["polling", "sse"])
        try:
            async with aiohttp.ClientSession() as session:
                for t in ("polling", "sse"):
                    url = lab.servers[t].url
                    async with session.get(url, params={"after": "yesterday"}) as response:
                        assert response.status == 400
                        assert "'after' must be the number" in await response.text()
                async with session.get(lab.servers["polling"].url) as response:
                    assert response.status == 200
            lab.check()  # a 400 is an answer, not a server error
        finally:
            await lab.stop()

    run(scenario())


def test_running_again_replaces_the_lab_and_stop_all_stops_every_thread():
    async def scenario():
        first = await TransportLab.start("t-transports-again", Setup())
        second = await TransportLab.start("t-transports-again", Setup())
        assert not any(s.thread.is_alive() for s in first.servers.values())
        assert all(s.thread.is_alive() for s in second.servers.values())
        assert "TransportLab t-transports-again" in running()
        assert await stop_all() == []
        assert not any(s.thread.is_alive() for s in second.servers.values())
        assert not running()

    run(scenario())


def test_unknown_transports_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown transports"):
        TransportLab("t", Setup(), ["carrier-pigeon"])


def test_a_handler_that_fails_answers_500_and_the_error_is_raised_by_check():
    async def scenario():
        lab = await TransportLab.start("t-transports-error", Setup(), transports=["polling"])
        server = lab.servers["polling"]

        def broken(after: int):
            raise RuntimeError("the event log is broken")

        server.hub.since = broken
        try:
            async with aiohttp.ClientSession() as session, session.get(server.url) as response:
                assert response.status == 500
            with pytest.raises(RuntimeError, match="the event log is broken"):
                lab.check()
            lab.check()  # raised once, then forgotten
        finally:
            await lab.stop()

    run(scenario())
