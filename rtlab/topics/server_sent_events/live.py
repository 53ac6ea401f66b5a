"""A real Server-Sent Events server and client in the kernel, on loopback (aiohttp).

Theory of operation. :class:`SSEServer` is a thin I/O shell around an
*event log*: any object with the exercise's two methods (the learner's
``EventLog`` or the solution's: ``interface.EventLog``),

    log.publish(data, event=None) -> str   # the text to send to every open stream
    log.open(last_event_id) -> str         # the first text of a (re)opened stream:
                                           # retry:, then the replay (or a resync);
                                           # ValueError for a malformed id

so the log decides *what* is sent and the server only moves text. ``GET /events``
answers ``text/event-stream`` with ``log.open(Last-Event-ID)``, then everything
published while the stream is open, and a comment every ``keepalive`` seconds
(a quiet stream looks dead to proxies and load balancers, which cut it). The
``Last-Event-ID`` header is what ``EventSource`` sends on a reconnect; the
``lastEventId`` query parameter is the fallback for a client that starts fresh
(a reloaded page) but kept the id.

Faults and answers on command, for the lesson: ``cut()`` drops every stream
(a network blip: the connection is reset), ``restart(log)`` drops them and
swaps in a new log (the old one is lost, as after a deploy), ``fail(503)``
answers every new request with an HTTP error, ``tell_clients_to_stop()``
answers 204 (``EventSource`` then stops for good). A reader that falls
``MAX_QUEUED`` events behind is cut (it resumes from the log), so a stalled
client cannot make the server buffer without limit. Malformed requests get a
clear error and every other stream keeps flowing:

- 400 for a bad ``Last-Event-ID``: longer than ``MAX_LAST_EVENT_ID`` (1,024)
  characters or not UTF-8 (refused before the log sees it), or refused by
  ``log.open`` with a ``ValueError``;
- 405 for a wrong method on ``/events``;
- ``/report`` takes one JSON value of at most ``MAX_REPORT_BYTES`` (64 KiB,
  else 413) nested at most ``MAX_REPORT_DEPTH`` (32) deep, with no ``NaN`` or
  ``Infinity`` (else 400 and the reason, see
  :func:`rtlab.wire.bounded_json.loads_bounded`);
- aiohttp itself answers 400 for a header line over 8,190 bytes or more than
  128 headers (kept in ``server.http_errors``).

Nothing a client sends is a server error: ``check()`` stays clean. Each request is
recorded with its time, status and ``Last-Event-ID`` (``server.requests``), so the
request rate at the server can be measured and plotted.

Errors the log raises (other than ``ValueError`` from ``open``) end that one
request with a 500 and are *collected*: ``check()`` and ``stop()`` raise them,
like :class:`rtlab.live.LiveServer` does (background errors are invisible to
nbval otherwise). Errors from ``publish()`` raise straight to the caller.

:class:`SSEClient` is a reading client built on :class:`rtlab.wire.sse.EventParser`:
it sends ``Last-Event-ID``, waits the announced ``retry:`` after a stream ends,
stops on 204, and on errors asks an optional retry policy (the exercise's
``RetryPolicy``: ``opened()``, ``failed(status) -> seconds | None``) how long
to wait; without one it simply waits its reconnection time again, like a
hand-written loop. :class:`SSEClients` runs many of them and is registered,
so re-running a cell replaces it and ``rtlab.live.stop_all()`` stops it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import aiohttp
from aiohttp import web

from rtlab import course
from rtlab.learner import LearnerTimeout, load_module, time_limit
from rtlab.live.registry import forget, raise_collected, register
from rtlab.topics.server_sent_events.interface import EventLog, RetryPolicy, learner_module
from rtlab.wire.bounded_json import JSONRefused, loads_bounded
from rtlab.wire.sse import (
    MEDIA_TYPE,
    STREAM_HEADERS,
    EventParser,
    format_comment,
    format_event,
)

__all__ = [
    "Attempt",
    "FailingRun",
    "Received",
    "RequestRecord",
    "ResumeRun",
    "SSEClient",
    "SSEClients",
    "SSEServer",
    "failing_endpoint",
    "lost_and_duplicated",
    "resume_demo",
]

LOOPBACK = "127.0.0.1"
STREAM_PATH = "/events"
MAX_QUEUED = 1_000  # chunks waiting for one slow stream before it is cut (it can resume)
CHROMIUM_DEFAULT_RETRY_MS = 3_000  # EventSource's reconnection time before any retry:
MAX_LAST_EVENT_ID = 1_024  # characters: far above any id a log issues, far below a header's 8 KiB
MAX_REPORT_BYTES = 64 * 1024  # a /report body (a browser page's findings)
MAX_REPORT_DEPTH = 32


@dataclass(frozen=True)
class RequestRecord:
    """One request to the stream endpoint, as the server saw it."""

    t: float  # seconds since the server started
    status: int
    last_event_id: str | None
    method: str = "GET"


class _Stream:
    """One open response: what is waiting to be written to it."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(MAX_QUEUED)

    def send(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            # A client this far behind is cut; it comes back with Last-Event-ID and the
            # log replays what it missed, so nothing is lost and memory stays bounded.
            self.cut()

    def end(self) -> None:
        """End the response cleanly once what is queued has been written."""
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            self.cut()

    def cut(self) -> None:
        """Reset the connection at once, as a network blip would."""
        if self.request.transport is not None:
            self.request.transport.abort()
        try:  # wake the handler if it is waiting; a full queue wakes it anyway
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            pass


class _CollectingHandler(logging.Handler):
    """aiohttp logs malformed HTTP (e.g. a 100 KB header) as errors: keep them, do not print."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        self.sink.append(record.getMessage() + (f": {error}" if error else ""))


class SSEServer:
    """A named SSE endpoint on 127.0.0.1 serving ``log``; faults on command."""

    def __init__(
        self, name: str, log: EventLog, keepalive: float, page: str | None, call_limit: float
    ) -> None:
        self.name = name
        self.log = log
        self.keepalive = keepalive
        self.page = page
        self.call_limit = call_limit
        self.port = 0
        self.t0 = time.monotonic()
        self.requests: list[RequestRecord] = []
        self.published: list[tuple[float, str]] = []  # (time, event id) per publish()
        self.reports: list[tuple[float, Any]] = []  # JSON posted to /report (a browser page)
        self.http_errors: list[str] = []  # malformed HTTP that aiohttp answered itself
        self.errors: list[BaseException] = []
        self.failing: int | None = None
        self.stopping_clients = False
        self.streams: set[_Stream] = set()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._stopped = False
        self._logger = logging.getLogger(f"rtlab.topics.server_sent_events.live.{id(self)}")
        self._logger.propagate = False
        self._logger.addHandler(_CollectingHandler(self.http_errors))

    # -- life cycle -----------------------------------------------------------------
    @classmethod
    async def start(
        cls,
        name: str,
        log: EventLog,
        *,
        keepalive: float = 15.0,
        page: str | None = None,
        call_limit: float = 2.0,
    ) -> SSEServer:
        """Serve ``log`` at ``http://127.0.0.1:<free port>/events``; re-running replaces ``name``.

        ``keepalive``: seconds of silence before a comment line is sent (15 s
        is common: well below the 30-60 s idle timeouts of proxies). ``page``:
        HTML served at ``/`` (a browser test page), which may POST JSON to
        ``/report`` (kept in ``server.reports``). ``call_limit``: seconds one
        call of the log may take; a log that hangs (a learner's infinite loop)
        is interrupted instead of freezing the kernel.
        """
        server = cls(name, log, keepalive, page, call_limit)
        await register(name, server)
        app = web.Application(client_max_size=MAX_REPORT_BYTES)  # bodies above it: 413
        app.router.add_route("*", STREAM_PATH, server._stream)
        app.router.add_get("/", server._page)
        app.router.add_post("/report", server._report)
        # No access log (it would print a line per request); a short shutdown: streams
        # are ended before cleanup, so nothing is left to wait for.
        server._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, logger=server._logger
        )
        await server._runner.setup()
        await server._listen()
        return server

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, LOOPBACK, self.port, backlog=1024)
        await self._site.start()
        if self.port == 0:
            self.port = self._site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop serving (every stream ends); raise any error the log hit meanwhile."""
        self._stopped = True
        forget(self.name, self)
        for stream in list(self.streams):
            stream.cut()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        self.check()

    # -- publishing -------------------------------------------------------------------
    def publish(self, data: str, event: str | None = None) -> str:
        """``log.publish`` and fan the text out to every open stream; returns the text."""
        with time_limit(self.call_limit, f"{type(self.log).__name__}.publish()"):
            text = self.log.publish(data, event)
        ids = [e.id for e in EventParser().feed(text) if e.has_own_id]
        self.published.append((self.elapsed(), ids[-1] if ids else ""))
        for stream in list(self.streams):
            stream.send(text)
        return text

    # -- faults and answers ------------------------------------------------------------
    def cut(self) -> int:
        """Reset every open stream (a network blip); returns how many were cut."""
        streams = list(self.streams)
        for stream in streams:
            stream.cut()
        return len(streams)

    async def restart(self, log: EventLog, downtime: float = 0.0) -> None:
        """Cut every stream, refuse connections for ``downtime`` s, serve the new ``log``.

        The old log is gone, as after a deploy of a server that kept it in memory:
        ids clients remember may now be unknown.
        """
        self.cut()
        self.log = log
        if downtime > 0 and self._site is not None:
            await self._site.stop()
            self._site = None
            await asyncio.sleep(downtime)
            if not self._stopped:
                await self._listen()

    def fail(self, status: int | None = 503) -> None:
        """Fail every new stream: answer HTTP ``status``, or with 200 open it and end it at once.

        ``fail(200)``: the stream opens (``log.open``, so ``retry:`` and the replay
        go out), then an ``error`` event and a clean end, as when the source behind
        the stream is down. ``fail(None)``: serve normally again.
        """
        self.failing = status

    def tell_clients_to_stop(self) -> None:
        """Answer 204 No Content from now on, and end open streams so clients hear it."""
        self.stopping_clients = True
        for stream in list(self.streams):
            stream.end()

    # -- handlers ------------------------------------------------------------------------
    def _answer(
        self, status: int, last_id: str | None, method: str, text: str = "",
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self.requests.append(RequestRecord(self.elapsed(), status, last_id, method))
        if status == 204:
            return web.Response(status=204)
        return web.Response(status=status, text=text, headers=headers)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        last_id = request.headers.get("Last-Event-ID", request.query.get("lastEventId"))
        if request.method != "GET":
            return self._answer(
                405, last_id, request.method,
                f"{request.method} is not allowed here: the event stream is read with GET.\n",
                {"Allow": "GET"},
            )
        if self.failing is not None and self.failing != 200:
            return self._answer(
                self.failing, last_id, "GET", "the stream is failing (on purpose)\n"
            )
        if self.stopping_clients:
            return self._answer(204, last_id, "GET")
        refused = refuse_last_event_id(last_id)
        if refused:
            return self._answer(400, last_id, "GET", f"Bad Last-Event-ID: {refused}\n")
        try:
            with time_limit(self.call_limit, f"{type(self.log).__name__}.open()"):
                first = self.log.open(last_id)
        except ValueError as error:
            return self._answer(400, last_id, "GET", f"Bad Last-Event-ID: {error}\n")
        except (Exception, LearnerTimeout) as error:
            self.errors.append(error)
            return self._answer(500, last_id, "GET", "the event log failed; see server.check()\n")
        # Subscribed in the same step as the replay was taken (no await in between), so an
        # event published while the replay is being written is queued, never lost.
        stream = _Stream(request)
        self.streams.add(stream)
        self.requests.append(RequestRecord(self.elapsed(), 200, last_id))
        response = web.StreamResponse(headers=STREAM_HEADERS)
        try:
            await response.prepare(request)
            await response.write(first.encode())
            if self.failing == 200:
                # What the fix of sse-retry-flood does when the source behind the stream
                # fails: an error event and a clean end; clients come back after retry:.
                await response.write(format_event("temporarily unavailable", event="error")
                                     .encode())
                return response
            while True:
                try:
                    async with asyncio.timeout(self.keepalive):
                        texts = [await stream.queue.get()]
                except TimeoutError:
                    texts = [format_comment("keep-alive")]
                while not stream.queue.empty():  # a burst goes out in one write
                    texts.append(stream.queue.get_nowait())
                chunk: list[str] = []
                for text in texts:
                    if text is None:  # the end: what came before it still goes out
                        break
                    chunk.append(text)
                if chunk:
                    await response.write("".join(chunk).encode())
                if len(chunk) < len(texts):
                    break
        except ConnectionError:  # aiohttp's ClientConnectionResetError is one too
            pass  # the client left or the stream was cut: ordinary life for a stream
        finally:
            self.streams.discard(stream)
        return response

    async def _page(self, request: web.Request) -> web.Response:
        if self.page is None:
            return web.Response(status=404, text="no page here\n")
        return web.Response(text=self.page, content_type="text/html")

    async def _report(self, request: web.Request) -> web.Response:
        raw = await request.read()  # over client_max_size: aiohttp answers 413
        try:
            body = loads_bounded(raw, max_depth=MAX_REPORT_DEPTH, max_bytes=MAX_REPORT_BYTES,
                                 what="the report")
        except JSONRefused as error:
            return web.Response(status=400, text=f"expected a JSON body: {error}\n")
        self.reports.append((self.elapsed(), body))
        return web.Response(status=204)

    # -- observing ------------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds since the server started."""
        return time.monotonic() - self.t0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}{STREAM_PATH}"

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def request_times(self, since: float = 0.0, status: int | None = None) -> list[float]:
        """Times of requests (optionally only those answered ``status``), from ``since`` on."""
        return [
            r.t for r in self.requests
            if r.t >= since and (status is None or r.status == status)
        ]

    def check(self) -> None:
        """Raise the errors the log hit so far (and forget them)."""
        errors, self.errors = self.errors, []
        raise_collected(errors, f"SSE server {self.name!r}")

    def __repr__(self) -> str:
        return (f"<SSEServer {self.name!r} on {self.url}, {len(self.streams)} streams, "
                f"{len(self.requests)} requests>")


def refuse_last_event_id(last_id: str | None) -> str:
    """Why the server refuses ``last_id`` before the log sees it ("" if it does not).

    An ``EventSource`` sends back an id the server gave, so anything longer than
    ``MAX_LAST_EVENT_ID`` or not UTF-8 (aiohttp hands such bytes over as lone
    surrogates, which no response could echo) is not one of ours.
    """
    if last_id is None:
        return ""
    if len(last_id) > MAX_LAST_EVENT_ID:
        return f"{len(last_id)} characters; the limit is {MAX_LAST_EVENT_ID}"
    try:
        last_id.encode("utf-8")
    except UnicodeEncodeError:
        return "not UTF-8"
    return ""


# -- the client ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    t: float  # seconds since the client started
    id: str
    event: str
    data: str


@dataclass(frozen=True)
class Attempt:
    t: float
    last_event_id: str | None
    status: int | None  # None: no HTTP answer (refused, reset)


def lost_and_duplicated(received: list[str], published: list[str]) -> tuple[int, int]:
    """How many of ``published`` ids never arrived, and how many arrivals were repeats."""
    seen = set(received)
    lost = sum(1 for event_id in published if event_id not in seen)
    return lost, len(received) - len(seen)


@dataclass
class SSEClient:
    """One ``EventSource``-like reader of ``url`` (run it with :meth:`run`).

    ``time_scale`` multiplies every wait (``retry:`` and the policy's delays),
    so a lesson can run a 10 s reconnection time in 0.5 s and say so.
    """

    url: str
    session: aiohttp.ClientSession
    policy: RetryPolicy | None = None
    default_retry_ms: int = CHROMIUM_DEFAULT_RETRY_MS
    time_scale: float = 1.0
    clock: Callable[[], float] = time.monotonic
    received: list[Received] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    last_event_id: str = ""
    retry_ms: int | None = None  # the last retry: announced by the server
    stopped: str | None = None  # why the client gave up, if it did

    def __post_init__(self) -> None:
        self.t0 = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.t0

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.received]

    async def run(self) -> None:
        """Read, reconnect, repeat; returns only when told to stop (204 or the policy)."""
        while True:
            delay = await self._connect_once()
            if delay is None:
                return
            await asyncio.sleep(delay * self.time_scale)

    def reconnection_time(self) -> float:
        """Seconds to wait after a stream ends: the last ``retry:``, else the default."""
        return (self.retry_ms if self.retry_ms is not None else self.default_retry_ms) / 1000

    async def _connect_once(self) -> float | None:
        """One request; returns the seconds to wait before the next, or None to stop."""
        headers = {"Accept": MEDIA_TYPE, "Cache-Control": "no-cache"}
        if self.last_event_id:  # EventSource sends it only once it has one
            headers["Last-Event-ID"] = self.last_event_id
        attempt = Attempt(self.elapsed(), headers.get("Last-Event-ID"), None)
        try:
            async with self.session.get(self.url, headers=headers) as response:
                attempt = Attempt(attempt.t, attempt.last_event_id, response.status)
                self.attempts.append(attempt)
                if response.status == 204:
                    self.stopped = "HTTP 204"
                    return None
                if response.status != 200 or response.content_type != MEDIA_TYPE:
                    return self._failed(response.status)
                if self.policy is not None:
                    self.policy.opened()
                await self._read(response)
        except (aiohttp.ClientError, OSError, TimeoutError):
            if attempt.status is None:  # no answer at all: refused, or reset before headers
                self.attempts.append(attempt)
                return self._failed(None)
            # else a stream that was open broke: reconnect as after a clean end
        return self.reconnection_time()

    async def _read(self, response: aiohttp.ClientResponse) -> None:
        parser = EventParser(self.last_event_id)  # the id persists across streams
        async for chunk in response.content.iter_any():
            for event in parser.feed(chunk):
                self.received.append(Received(self.elapsed(), event.id, event.event, event.data))
            self.last_event_id = parser.last_event_id
            if parser.retry is not None:
                self.retry_ms = parser.retry

    def _failed(self, status: int | None) -> float | None:
        if self.policy is None:  # a hand-written loop: the same wait, again and again
            return self.reconnection_time()
        delay = self.policy.failed(status)
        if delay is None:
            self.stopped = f"policy gave up after {'no answer' if status is None else status}"
        return delay


class SSEClients:
    """``count`` :class:`SSEClient` readers of one URL in this kernel, registered by name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.clients: list[SSEClient] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.errors: list[BaseException] = []
        self.session: aiohttp.ClientSession | None = None

    @classmethod
    async def start(
        cls,
        url: str,
        count: int = 1,
        *,
        policy: Callable[[random.Random], RetryPolicy] | None = None,
        default_retry_ms: int = CHROMIUM_DEFAULT_RETRY_MS,
        time_scale: float = 1.0,
        seed: int = 0,
        name: str = "clients",
    ) -> SSEClients:
        """Start ``count`` readers; ``policy(rng)`` makes each one's retry policy (seeded)."""
        group = cls(name)
        await register(name, group)
        # One pool for all: no per-host limit (each stream holds its connection), and
        # no proxy from the environment (loopback traffic must stay on loopback).
        group.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
            trust_env=False,
        )
        loop = asyncio.get_running_loop()
        for i in range(count):
            client = SSEClient(
                url, group.session,
                policy=None if policy is None else policy(random.Random(seed * 100_003 + i)),
                default_retry_ms=default_retry_ms, time_scale=time_scale,
            )
            group.clients.append(client)
            task = loop.create_task(client.run())
            task.add_done_callback(group._done)
            group.tasks.append(task)
        return group

    def _done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait (without blocking the loop) until ``predicate()`` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def check(self) -> None:
        """Raise the first error a client (or its policy) raised."""
        errors, self.errors = self.errors, []
        raise_collected(errors, f"SSE clients {self.name!r}")

    async def stop(self) -> None:
        forget(self.name, self)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
        self.check()

    def __repr__(self) -> str:
        events = sum(len(c.received) for c in self.clients)
        return f"<SSEClients {self.name!r}: {len(self.clients)} clients, {events} events>"



# -- lesson runs --------------------------------------------------------------------------


@dataclass
class ResumeRun:
    """What ``count`` clients saw of ``published`` across one cut of every stream."""

    label: str
    published: list[tuple[float, str]]  # (time since the run started, data)
    cut_at: float
    clients: list[SSEClient]

    def lost_and_duplicated(self) -> list[tuple[int, int]]:
        """Per client: events (by data) never received, and repeats."""
        sent = [data for _, data in self.published]
        return [lost_and_duplicated([r.data for r in c.received if r.event == "message"], sent)
                for c in self.clients]

    def resyncs(self) -> int:
        return sum(1 for c in self.clients for r in c.received if r.event == "resync")

    def replay_latencies(self) -> list[float]:
        """Per resumed client: seconds from its reconnect request to the first replayed event."""
        latencies = []
        for client in self.clients:
            again = [a for a in client.attempts if a.last_event_id is not None]
            if not again:
                continue
            after = [r.t for r in client.received if r.t >= again[0].t]
            if after:
                latencies.append(after[0] - again[0].t)
        return latencies

    def summary(self) -> str:
        counts = self.lost_and_duplicated()
        lost = sum(n for n, _ in counts)
        repeated = sum(n for _, n in counts)
        return (f"{self.label}: {len(self.clients)} clients x {len(self.published)} events, "
                f"lost {lost}, duplicated {repeated}, resync events {self.resyncs()}")


async def resume_demo(
    log: EventLog,
    label: str,
    *,
    clients: int = 20,
    events: int = 100,
    every: float = 0.01,
    cut_after: int = 40,
    time_scale: float = 0.05,
) -> ResumeRun:
    """Publish ``events`` to ``clients`` readers, cutting every stream after ``cut_after``.

    Clients reconnect on their own (after the announced ``retry:`` times
    ``time_scale``) while publishing goes on; the run ends once every client is
    back and has had time to catch up. Stops what it starts.
    """
    server = await SSEServer.start("resume-demo", log)
    group = await SSEClients.start(server.url, clients, time_scale=time_scale,
                                   name="resume-demo")
    try:
        await group.wait_for(lambda: len(server.streams) == clients)
        t0, published, cut_at = server.elapsed(), [], 0.0
        for i in range(events):
            if i == cut_after:
                cut_at = server.elapsed() - t0
                server.cut()
            data = f"update {i}"
            server.publish(data)
            published.append((server.elapsed() - t0, data))
            await asyncio.sleep(every)
        await group.wait_for(lambda: len(server.streams) == clients)
        await asyncio.sleep(0.1)  # the last events are on their way
        for client in group.clients:  # one time axis: the run's
            shift = client.t0 - (server.t0 + t0)
            client.received = [Received(r.t + shift, r.id, r.event, r.data)
                               for r in client.received]
            client.attempts = [Attempt(a.t + shift, a.last_event_id, a.status)
                               for a in client.attempts]
    finally:
        await group.stop()
        await server.stop()
    return ResumeRun(label, published, cut_at, group.clients)


class _Unused:
    """The log of an endpoint that fails before it ever reaches its log."""

    def publish(self, data: str, event: str | None = None) -> str:
        raise RuntimeError("not used")

    def open(self, last_event_id: str | None) -> str:
        raise RuntimeError("not used")


@dataclass
class FailingRun:
    """Requests at a failing endpoint, and the clients that made them."""

    times: list[float]  # every request the server received, seconds from the start
    clients: list[SSEClient]

    def waits(self) -> list[float]:
        """Every client's gaps between one attempt and the next (seconds)."""
        return [b.t - a.t for c in self.clients for a, b in pairwise(c.attempts)]


async def failing_endpoint(
    count: int,
    seconds: float,
    status: int = 503,
    *,
    log: EventLog | None = None,
    name: str = "failing-endpoint",
    **client_options: Any,
) -> FailingRun:
    """Start ``count`` clients against an endpoint failing with ``status`` for ``seconds``.

    ``status`` 200: every stream opens with ``log.open`` and ends at once
    (see :meth:`SSEServer.fail`). Returns the time of every request the server
    received (seconds from the start) and the clients. ``client_options`` go to
    :meth:`SSEClients.start` (``policy``, ``default_retry_ms``, ``time_scale``...).
    Stops what it starts.
    """
    server = await SSEServer.start(name, log if log is not None else _Unused())
    server.fail(status)
    t0 = server.elapsed()
    group = await SSEClients.start(server.url, count, name=name, **client_options)
    try:
        await asyncio.sleep(seconds)
    finally:
        await group.stop()
        await server.stop()
    times = [t - t0 for t in server.request_times(since=t0) if t - t0 <= seconds]
    return FailingRun(times, group.clients)


# -- benchmark ------------------------------------------------------------------------------


async def _fan_out(log: EventLog, clients: int, events: int) -> float:
    """Seconds until ``clients`` readers all have ``events`` events published at once."""
    server = await SSEServer.start("bench-fan-out", log)
    group = await SSEClients.start(server.url, clients, name="bench-fan-out")
    try:
        await group.wait_for(lambda: len(server.streams) == clients, timeout=30)
        started = time.perf_counter()
        for i in range(events):
            server.publish(f"event {i}")
        await group.wait_for(
            lambda: all(len(c.received) == events for c in group.clients), timeout=60
        )
        return time.perf_counter() - started
    finally:
        await group.stop()
        await server.stop()


def bench_sse() -> None:
    """Print the SSE figures of the lesson, measured on this machine (reference solution)."""
    solution = learner_module(
        load_module(course.root() / "solutions" / "sse.py", "bench_sse_solution"))

    async def measure() -> None:
        clients, events = 100, 1_000
        took = await _fan_out(solution.EventLog(events, epoch="bench"), clients, events)
        print(f"SSE fan-out: {events:,} events to {clients} streams in {took:.2f} s "
              f"({clients * events / took:,.0f} deliveries/s)")
        run = await resume_demo(solution.EventLog(100, epoch="bench"), "cut and resume")
        latencies = sorted(run.replay_latencies())
        print(f"  {run.summary()}")
        median = latencies[len(latencies) // 2]
        print(f"  replay after Last-Event-ID: median {median * 1000:.0f} ms, "
              f"slowest {latencies[-1] * 1000:.0f} ms after the reconnect request")
        count, seconds = 50, 2.0
        for label, options in (
            ("hand-written loop, retry every 0.1 s", {"default_retry_ms": 100}),
            ("RetryPolicy (backoff 1-30 s, jitter)", {"policy": solution.RetryPolicy}),
        ):
            times = (await failing_endpoint(count, seconds, **options)).times
            last = sum(1 for t in times if t > seconds - 1)
            print(f"  failing endpoint (503), {count} clients, {label}: "
                  f"{len(times) / seconds:.0f} requests/s over {seconds:g} s, "
                  f"{last} in the last second")

    asyncio.run(measure())
