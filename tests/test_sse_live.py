"""The live SSE server and client on real loopback sockets, with the reference event log.

Each test starts an :class:`rtlab.topics.server_sent_events.live.SSEServer` serving the solution's
``EventLog`` and reads it over real HTTP (aiohttp's client, or the course's
``SSEClient`` built on ``rtlab.wire.sse.EventParser``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from rtlab.learner import LearnerTimeout, load_module
from rtlab.live import running, stop_all
from rtlab.topics.server_sent_events.live import (
    SSEClients,
    SSEServer,
    lost_and_duplicated,
    resume_demo,
)
from rtlab.wire.sse import EventParser

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = load_module(ROOT / "solutions" / "sse.py", "sse_live_solution")
FAST = 0.02  # clients wait 2 % of the announced retry: (10 s -> 0.2 s)


def run(coro):
    async def guarded():
        try:
            return await asyncio.wait_for(coro, 30)
        finally:
            errors = await stop_all()
            assert not errors, errors

    return asyncio.run(guarded())


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(trust_env=False)


async def read_for(response: aiohttp.ClientResponse, seconds: float) -> str:
    """Whatever the stream sends within ``seconds``."""
    chunks: list[bytes] = []

    async def collect() -> None:
        async for chunk in response.content.iter_any():
            chunks.append(chunk)

    try:
        await asyncio.wait_for(collect(), seconds)
    except TimeoutError:
        pass
    return b"".join(chunks).decode()


def published_ids(server: SSEServer) -> list[str]:
    return [event_id for _, event_id in server.published]


def test_the_server_binds_loopback_and_streams_with_the_right_headers():
    async def scenario():
        server = await SSEServer.start("t-headers", SOLUTION.EventLog(10))
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        async with session() as http, http.get(server.url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            assert response.headers["Cache-Control"] == "no-cache"
            assert response.headers["X-Accel-Buffering"] == "no"
            server.publish("hello")
            text = await read_for(response, 0.3)
        parser = EventParser()
        events = parser.feed(text)
        assert parser.retry == SOLUTION.RETRY_MS, f"no retry: first in {text!r}"
        assert [e.data for e in events] == ["hello"] and events[0].has_own_id

    run(scenario())


def test_keep_alive_comments_arrive_on_a_quiet_stream():
    async def scenario():
        server = await SSEServer.start("t-keepalive", SOLUTION.EventLog(10), keepalive=0.1)
        async with session() as http, http.get(server.url) as response:
            text = await read_for(response, 0.55)
        comments = [line for line in text.splitlines() if line.startswith(":")]
        assert len(comments) >= 3, f"expected a comment every 0.1 s, got {text!r}"
        assert EventParser().feed(text) == [], "comments must not become events"

    run(scenario())


def test_after_a_cut_every_client_gets_the_missed_events_exactly_once_in_order():
    async def scenario():
        server = await SSEServer.start("t-cut", SOLUTION.EventLog(100))
        clients = await SSEClients.start(server.url, 5, time_scale=FAST, name="t-cut")
        assert await clients.wait_for(lambda: len(server.streams) == 5)
        for i in range(10):
            server.publish(f"before {i}")
        assert await clients.wait_for(lambda: all(len(c.received) == 10 for c in clients.clients))
        last_before_cut = published_ids(server)[-1]
        assert server.cut() == 5
        for i in range(10):  # published while every client is away
            server.publish(f"during {i}\nsecond line")
        assert await clients.wait_for(lambda: len(server.streams) == 5)
        for i in range(5):
            server.publish(f"after {i}")
        assert await clients.wait_for(lambda: all(len(c.received) == 25 for c in clients.clients))
        for client in clients.clients:
            assert client.ids == published_ids(server), "events lost, repeated or reordered"
            assert lost_and_duplicated(client.ids, published_ids(server)) == (0, 0)
            assert client.received[10].data == "during 0\nsecond line"
        resumed = [r for r in server.requests if r.last_event_id is not None]
        assert [r.last_event_id for r in resumed] == [last_before_cut] * 5

    run(scenario())


def test_an_id_older_than_the_log_gets_a_resync_instead_of_a_silent_gap():
    async def scenario():
        server = await SSEServer.start("t-resync", SOLUTION.EventLog(5))
        clients = await SSEClients.start(server.url, 1, time_scale=FAST, name="t-resync")
        client = clients.clients[0]
        assert await clients.wait_for(lambda: len(server.streams) == 1)
        server.publish("first")
        assert await clients.wait_for(lambda: len(client.received) == 1)
        server.cut()
        for i in range(20):  # far more than the log keeps
            server.publish(f"missed {i}")
        assert await clients.wait_for(lambda: len(client.attempts) == 2)
        assert await clients.wait_for(lambda: any(r.event == "resync" for r in client.received))
        assert "missed 0" not in [r.data for r in client.received]

    run(scenario())


def test_a_restart_loses_the_log_and_returning_clients_are_told_to_resync():
    async def scenario():
        server = await SSEServer.start("t-restart", SOLUTION.EventLog(50))
        clients = await SSEClients.start(server.url, 2, time_scale=FAST, name="t-restart")
        assert await clients.wait_for(lambda: len(server.streams) == 2)
        for i in range(3):
            server.publish(f"old {i}")
        assert await clients.wait_for(lambda: all(len(c.received) == 3 for c in clients.clients))
        await server.restart(SOLUTION.EventLog(50), downtime=0.1)
        assert await clients.wait_for(lambda: len(server.streams) == 2)
        for client in clients.clients:
            assert await clients.wait_for(lambda c=client: c.received[-1].event == "resync")

    run(scenario())


def test_http_204_stops_clients_for_good():
    async def scenario():
        server = await SSEServer.start("t-204", SOLUTION.EventLog(10))
        clients = await SSEClients.start(server.url, 3, time_scale=FAST, name="t-204")
        assert await clients.wait_for(lambda: len(server.streams) == 3)
        server.tell_clients_to_stop()
        assert await clients.wait_for(lambda: all(c.stopped for c in clients.clients))
        asked = len(server.requests)
        await asyncio.sleep(0.5)  # more than two reconnection times at this scale
        assert len(server.requests) == asked, "a client came back after 204"
        assert [r.status for r in server.requests[-3:]] == [204] * 3
        assert all(c.stopped == "HTTP 204" for c in clients.clients)

    run(scenario())


@pytest.mark.parametrize(
    ("method", "last_event_id", "status", "says"),
    [
        ("GET", "not-an-id", 400, "Last-Event-ID"),
        ("GET", "9" * 1000, 400, "Last-Event-ID"),
        ("GET", "x" * 100_000, 400, ""),  # over aiohttp's header limit: refused by its parser
        ("POST", None, 405, "GET"),
        ("DELETE", "1", 405, "GET"),
    ],
    ids=["malformed-id", "huge-id", "enormous-header", "post", "delete"],
)
def test_malformed_requests_get_a_clear_error_and_other_streams_keep_flowing(
    method, last_event_id, status, says
):
    async def scenario():
        server = await SSEServer.start("t-bad", SOLUTION.EventLog(100))
        clients = await SSEClients.start(server.url, 2, time_scale=FAST, name="t-bad")
        assert await clients.wait_for(lambda: len(server.streams) == 2)
        headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
        async with session() as http:
            for i in range(3):
                server.publish(f"event {i}")
                async with http.request(method, server.url, headers=headers) as response:
                    assert response.status == status
                    body = await response.text()
                    assert says in body, body
            if method == "GET":  # the same id as a query parameter (the fallback)
                url = f"{server.url}?lastEventId=not-an-id"
                async with http.get(url) as response:
                    assert response.status == 400
        assert await clients.wait_for(lambda: all(len(c.received) == 3 for c in clients.clients))
        for client in clients.clients:
            assert len(client.attempts) == 1, "an ordinary client was disturbed"
        if not says:  # aiohttp's own 400: logged where the lesson can see it, not printed
            assert any("8190 bytes" in message for message in server.http_errors)
        server.check()  # malformed requests are the client's fault, not server errors

    run(scenario())


class BrokenLog:
    """The reference log, except that reopening a stream raises (a bug in the log)."""

    def __init__(self) -> None:
        self.log = SOLUTION.EventLog(10)

    def publish(self, data: str, event: str | None = None) -> str:
        return str(self.log.publish(data, event))

    def open(self, last_event_id: str | None) -> str:
        if last_event_id is not None:
            raise KeyError("resume is broken")
        return str(self.log.open(last_event_id))


def test_errors_in_the_log_end_that_request_with_500_and_are_raised_at_check():
    async def scenario():
        server = await SSEServer.start("t-broken", BrokenLog())
        clients = await SSEClients.start(server.url, 1, time_scale=FAST, name="t-broken")
        assert await clients.wait_for(lambda: len(server.streams) == 1)
        server.publish("one")
        async with session() as http:
            async with http.get(server.url, headers={"Last-Event-ID": "1"}) as response:
                assert response.status == 500
            server.publish("two")
            async with http.get(server.url) as response:  # a fresh stream still works
                assert response.status == 200
        assert await clients.wait_for(lambda: len(clients.clients[0].received) == 2)
        with pytest.raises(KeyError, match="resume is broken"):
            server.check()
        server.check()  # raised once, then forgotten

    run(scenario())



class HangingLog(BrokenLog):
    """Reopening a stream never returns: a learner's infinite loop."""

    def open(self, last_event_id: str | None) -> str:
        while last_event_id is not None:
            pass
        return str(self.log.open(last_event_id))


def test_a_log_that_hangs_is_interrupted_and_reported_instead_of_freezing_the_server():
    async def scenario():
        server = await SSEServer.start("t-hang", HangingLog(), call_limit=0.2)
        clients = await SSEClients.start(server.url, 1, time_scale=FAST, name="t-hang")
        assert await clients.wait_for(lambda: len(server.streams) == 1)
        async with session() as http:
            async with http.get(server.url, headers={"Last-Event-ID": "1"}) as response:
                assert response.status == 500
            server.publish("after the hang")
        assert await clients.wait_for(lambda: len(clients.clients[0].received) == 1)
        with pytest.raises(LearnerTimeout, match=r"HangingLog.open\(\) did not finish"):
            server.check()

    run(scenario())

def test_a_failing_endpoint_is_flooded_without_backoff_and_not_with_it():
    async def scenario():
        server = await SSEServer.start("t-flood", SOLUTION.EventLog(10))
        server.fail(503)
        naive = await SSEClients.start(server.url, 10, default_retry_ms=20, name="t-naive")
        await asyncio.sleep(1.0)
        flood = len(server.requests)
        await naive.stop()
        t0 = server.elapsed()
        backing_off = await SSEClients.start(
            server.url, 10, policy=lambda rng: SOLUTION.RetryPolicy(rng), name="t-policy"
        )
        await asyncio.sleep(1.0)
        polite = len(server.request_times(since=t0))
        assert flood > 150, f"10 clients retrying every 20 ms made only {flood} requests in 1 s"
        assert polite <= 30, f"10 clients with backoff made {polite} requests in 1 s"
        server.fail(None)  # the endpoint recovers: every client gets its stream back
        assert await backing_off.wait_for(lambda: len(server.streams) == 10, timeout=10)

    run(scenario())


def test_starting_a_server_with_a_taken_name_replaces_the_old_one():
    async def scenario():
        first = await SSEServer.start("t-replace", SOLUTION.EventLog(10))
        second = await SSEServer.start("t-replace", SOLUTION.EventLog(10))
        assert running()["SSEServer t-replace"] is second
        async with session() as http:
            with pytest.raises(aiohttp.ClientConnectorError):
                await http.get(first.url)
            async with http.get(second.url) as response:
                assert response.status == 200
        await second.stop()
        assert "SSEServer t-replace" not in running()

    run(scenario())



def test_a_client_that_stops_reading_is_cut_and_the_others_keep_everything(monkeypatch):
    # a short queue: quick to fill
    monkeypatch.setattr("rtlab.topics.server_sent_events.live.MAX_QUEUED", 10)

    async def scenario():
        server = await SSEServer.start("t-slow", SOLUTION.EventLog(1000))
        clients = await SSEClients.start(server.url, 1, time_scale=FAST, name="t-slow")
        async with session() as http, http.get(server.url) as stalled:
            assert stalled.status == 200
            assert await clients.wait_for(lambda: len(server.streams) == 2)
            big = "x" * 20_000
            for i in range(600):  # 12 MB: more than the socket buffers hold
                server.publish(f"{i} {big}")
                await asyncio.sleep(0)  # let the streams write
            reader = clients.clients[0]
            assert await clients.wait_for(lambda: len(reader.received) == 600, timeout=10)
            assert len(server.streams) == 1, "the stalled stream should have been cut"
            # Had the reader been cut too, it would have resumed: nothing lost either way.
            assert reader.ids == published_ids(server)

    run(scenario())


class ReplayFromStart:
    """Replays everything it keeps on every reconnect: duplicates."""

    def __init__(self) -> None:
        self.log = SOLUTION.EventLog(100, epoch="s")

    def publish(self, data: str, event: str | None = None) -> str:
        return str(self.log.publish(data, event))

    def open(self, last_event_id: str | None) -> str:
        return str(self.log.open("s-0" if last_event_id else None))


class OffByOne(ReplayFromStart):
    """Resumes one event too late: the first missed event is lost."""

    def open(self, last_event_id: str | None) -> str:
        if last_event_id:
            epoch, _, seq = last_event_id.rpartition("-")
            last_event_id = f"{epoch}-{int(seq) + 1}"
        return str(self.log.open(last_event_id))


class NoIds:
    """No ids, no retry:, no replay: the gap is silent."""

    def publish(self, data: str, event: str | None = None) -> str:
        return f"data: {data}\n\n"

    def open(self, last_event_id: str | None) -> str:
        return ""


@pytest.mark.parametrize(
    ("log", "lost", "duplicated"),
    [(lambda: SOLUTION.EventLog(100, epoch="r"), 0, 0), (ReplayFromStart, 0, 10),
     (OffByOne, 1, 0), (NoIds, None, 0)],
    ids=["reference", "replay-from-start", "off-by-one", "no-ids"],
)
def test_the_resume_demo_counts_what_each_log_loses_or_repeats_over_real_http(
    log, lost, duplicated
):
    async def scenario():
        return await resume_demo(log(), "t", clients=4, events=30, cut_after=10,
                                 time_scale=FAST)

    counts = run(scenario()).lost_and_duplicated()
    assert {d for _, d in counts} == {duplicated}, counts
    if lost is None:  # whatever was published during the gap, at least one event
        assert all(n > 0 for n, _ in counts), counts
    else:
        assert {n for n, _ in counts} == {lost}, counts


def test_a_stream_that_fails_after_opening_sends_retry_and_an_error_event_then_ends():
    async def scenario():
        server = await SSEServer.start("t-ending", SOLUTION.EventLog(10))
        server.fail(200)
        async with session() as http, http.get(server.url) as response:
            assert response.status == 200
            body = await asyncio.wait_for(response.text(), 2)  # the response ends by itself
        parser = EventParser()
        events = parser.feed(body)
        assert parser.retry == SOLUTION.RETRY_MS
        assert [(e.event, e.has_own_id) for e in events] == [("error", False)]
        clients = await SSEClients.start(server.url, 3, time_scale=FAST, name="t-ending")
        await asyncio.sleep(0.5)  # 2.5 reconnection times (0.2 s each at this scale)
        reconnects = len(server.requests) - 1 - 3
        assert 3 <= reconnects <= 9, f"{reconnects} reconnects: retry: not honoured"
        server.fail(None)
        assert await clients.wait_for(lambda: len(server.streams) == 3)

    run(scenario())
