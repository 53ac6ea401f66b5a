"""WebSocket on the wire, live in the kernel: raw handshakes, raw frames, uploads, byte counts.

Used by ``notebooks/03-websocket-basics.ipynb`` and ``rtlab.bench``:

- :func:`raw_connect` opens a plain TCP connection to a real ``websockets``
  server, writes the HTTP upgrade request by hand and keeps both sides' bytes,
  so a lesson can print the handshake and read frames byte by byte
  (:meth:`RawConnection.read_frame`) or send frames built by hand
  (:func:`client_frame`, masked with a key of your choice);
- :func:`upload_handler` plugs a sans-I/O upload ``Receiver`` (the frames
  exercise) into a live server: one receiver per connection, its actions
  carried out on the real socket, its exceptions turned into a 1011 close;
- :func:`measure_encodings` sends payloads as base64 inside JSON and as JSON
  metadata plus a binary frame, through a counting proxy, and reports bytes on
  the wire and CPU time. ``bench_frames()`` prints those figures.

Everything binds 127.0.0.1 and registers with ``rtlab.live`` (``stop_all``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import os
import statistics
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from rtlab.live.proxy import FaultProxy
from rtlab.live.server import LiveServer
from rtlab.topics.websocket_basics.interface import Frame, Receiver

__all__ = [
    "GUID",
    "PROBE_PAGE",
    "RFC_KEY",
    "BrowserProbe",
    "EncodingResult",
    "LiveClient",
    "RawConnection",
    "RawFrame",
    "UploadLog",
    "accept_for",
    "bench_frames",
    "browser_probe",
    "client_frame",
    "live_uploads",
    "measure_encodings",
    "raw_connect",
    "run_outside_a_loop",
    "send_frames",
    "upload_handler",
]

T = TypeVar("T")

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3: the same for everyone
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # the RFC's example key ("the sample nonce")
OPCODES = {0x0: "continuation", 0x1: "text", 0x2: "binary", 0x8: "close", 0x9: "ping",
           0xA: "pong"}


def accept_for(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``Sec-WebSocket-Key: key``."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


# -- raw frames and handshakes -------------------------------------------------------------


@dataclass
class RawFrame:
    """One frame as it crossed the socket."""

    header: bytes  # the first bytes: FIN/opcode, MASK/length, extended length, mask key
    payload: bytes  # unmasked
    opcode: int

    @property
    def kind(self) -> str:
        return OPCODES.get(self.opcode, hex(self.opcode))

    @property
    def close_code(self) -> int | None:
        return struct.unpack("!H", self.payload[:2])[0] if self.opcode == 0x8 else None

    @property
    def close_reason(self) -> str:
        return self.payload[2:].decode() if self.opcode == 0x8 else ""


def client_frame(opcode: int, payload: bytes, mask_key: bytes) -> bytes:
    """A final frame as a client must send it: masked with ``mask_key`` (4 bytes)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    masked = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
    return header + mask_key + masked


class RawConnection:
    """A WebSocket connection driven by hand: bytes in, bytes out, nothing hidden."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 request: bytes, response: bytes) -> None:
        self.reader, self.writer = reader, writer
        self.request, self.response = request, response

    @property
    def status(self) -> int:
        return int(self.response.split(b" ", 2)[1])

    def headers(self) -> dict[str, str]:
        lines = self.response.decode("latin-1").split("\r\n")[1:]
        pairs = (line.split(":", 1) for line in lines if ":" in line)
        return {name.strip().lower(): value.strip() for name, value in pairs}

    async def read_frame(self, timeout: float = 5.0) -> RawFrame:
        """Read one whole frame from the server (servers never mask)."""
        async with asyncio.timeout(timeout):
            first = await self.reader.readexactly(2)
            length, header = first[1] & 0x7F, first
            if length == 126:
                extra = await self.reader.readexactly(2)
                header, length = header + extra, struct.unpack("!H", extra)[0]
            elif length == 127:
                extra = await self.reader.readexactly(8)
                header, length = header + extra, struct.unpack("!Q", extra)[0]
            payload = await self.reader.readexactly(length)
        return RawFrame(header, payload, first[0] & 0x0F)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def raw_connect(port: int, *, key: str = RFC_KEY, path: str = "/",
                      headers: Iterable[tuple[str, str]] = ()) -> RawConnection:
    """Open TCP to 127.0.0.1:``port`` and perform the opening handshake by hand."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
             *(f"{name}: {value}" for name, value in headers)]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    async with asyncio.timeout(5.0):
        response = await reader.readuntil(b"\r\n\r\n")
    return RawConnection(reader, writer, request, response)


# -- the upload protocol, live --------------------------------------------------------------


@dataclass
class UploadLog:
    """What an upload server did: deliveries and closes per connection, learner errors."""

    deliveries: list[tuple[int, dict[str, Any], int]] = field(default_factory=list)
    closes: list[tuple[int, int, str]] = field(default_factory=list)  # (conn, code, reason)
    errors: list[str] = field(default_factory=list)
    paths: dict[int, str] = field(default_factory=dict)  # conn -> the request's path

    def delivered_by(self, conn: int) -> list[int]:
        """Payload sizes delivered on connection ``conn``."""
        return [size for c, _, size in self.deliveries if c == conn]


def upload_handler(make_receiver: Callable[[], Receiver],
                   log: UploadLog) -> Callable[[ServerConnection], Awaitable[None]]:
    """A websockets handler running one ``make_receiver()`` per connection.

    Connections are numbered from 1 in the order they open. ``("deliver", meta,
    payload)`` is logged; ``("close", code, reason)`` closes the connection with
    that code. An exception from the receiver is logged and closes with 1011,
    as websockets itself does when a handler raises.
    """
    numbers = itertools.count(1)

    async def handler(conn: ServerConnection) -> None:
        number = next(numbers)
        log.paths[number] = conn.request.path if conn.request is not None else ""
        try:
            receiver = make_receiver()
            async for frame in conn:
                actions = receiver.receive(frame)
                for action in actions:
                    if action[0] == "deliver":
                        log.deliveries.append((number, action[1], len(action[2])))
                    elif action[0] == "close":
                        log.closes.append((number, action[1], action[2]))
                        await conn.close(action[1], action[2])
                        return
        except ConnectionClosed:
            return
        except Exception as error:  # learner code: report it, close as a crash would
            log.errors.append(f"connection {number}: {type(error).__name__}: {error}")
            log.closes.append((number, 1011, "internal error"))
            await conn.close(1011, "internal error")

    return handler


async def send_frames(url: str, frames: Iterable[Frame], *,
                      settle: float = 0.2) -> tuple[int | None, str]:
    """Send ``frames`` on a new connection; return the close (code, reason) it got, if any."""
    async with connect(url, compression=None) as ws:
        try:
            for frame in frames:
                await ws.send(frame)
            await asyncio.wait_for(ws.wait_closed(), settle)
        except (ConnectionClosed, TimeoutError):
            pass
    return ws.close_code, ws.close_reason or ""


@dataclass
class LiveClient:
    """What one client of :func:`live_uploads` saw and sent."""

    close: tuple[int, str] | None  # the server's close (code, reason), None if it never closed
    wire: int  # bytes this client sent after its handshake, frame headers and masks included
    delivered: list[tuple[dict[str, Any], int]]  # what the server delivered from it: (meta, size)


async def live_uploads(clients: dict[str, list[Frame]],
                       make_receiver: Callable[[], Receiver], *, max_size: int | None,
                       expect: dict[str, int], timeout: float = 3.0
                       ) -> tuple[dict[str, LiveClient], list[str]]:
    """Send each client's frames on its own real connection, all at once, through a counting proxy.

    The server runs ``upload_handler(make_receiver, ...)``; ``max_size`` is the
    library's limit (set it above the receiver's, or the library answers 1009
    before the receiver sees anything). It waits until every client was closed
    by the server or has had ``expect[label]`` uploads delivered, then returns
    what each client saw, and the receivers' exceptions.
    """
    log = UploadLog()
    server = await LiveServer.start("frames-live", upload_handler(make_receiver, log),
                                    max_size=max_size, compression=None)
    proxy = await FaultProxy.start("frames-live-count", server.port, buffer_size=1 << 20)
    try:
        opened = []
        for label in clients:
            ws = await connect(f"{proxy.url}/{label}", compression=None, max_size=None)
            opened.append((label, ws, proxy.tunnels[-1], proxy.tunnels[-1].bytes["up"]))

        async def send(ws: Any, frames: list[Frame]) -> None:
            try:
                for frame in frames:
                    await ws.send(frame)
            except ConnectionClosed:
                pass  # refused half-way: what it saw is in ws.close_code

        await asyncio.gather(*(send(ws, clients[label]) for label, ws, _, _ in opened))

        def delivered(label: str) -> list[tuple[dict[str, Any], int]]:
            number = next((n for n, path in log.paths.items() if path == f"/{label}"), None)
            return [(meta, size) for c, meta, size in log.deliveries if c == number]

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = [label for label, ws, _, _ in opened
                       if ws.close_code is None and len(delivered(label)) < expect.get(label, 0)]
            if not waiting:
                break
            await asyncio.sleep(0.005)
        seen = {}
        for label, ws, tunnel, before in opened:
            code = ws.close_code
            close = (code, ws.close_reason or "") if code is not None else None
            seen[label] = LiveClient(close, tunnel.bytes["up"] - before, delivered(label))
            await ws.close()
    finally:
        await proxy.stop()
        await server.stop()
    return seen, log.errors


def run_outside_a_loop(run: Callable[[], Coroutine[Any, Any, T]]) -> T | None:
    """``run()`` on a fresh event loop; None when a loop already runs in this thread.

    A grader calls it in its own process; inside a notebook cell (a running loop)
    the live scenarios are skipped, and the simulated ones must do.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run())
    return None


# -- a real browser -------------------------------------------------------------------------

PROBE_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>WebSocket probe</title>
<script>
  const seen = {};
  const ws = new WebSocket(`ws://${location.host}/upload?token=short-lived`);
  seen.binaryTypeDefault = ws.binaryType;
  ws.binaryType = "arraybuffer";  // binary messages arrive as ArrayBuffer, not Blob
  seen.pingMethod = typeof ws.ping;
  seen.cookieReadableByScript = document.cookie.includes("session");
  ws.onopen = () => {
    const bytes = new Uint8Array(70000).map((_, i) => i % 251);
    ws.send(JSON.stringify({size: bytes.length, meta: {name: "from chromium 🎉"}}));
    ws.send(bytes);  // a typed array: one binary frame
    try { ws.close(1003, "not allowed from a page"); seen.close1003 = "allowed"; }
    catch (e) { seen.close1003 = e.name; }
  };
  ws.onmessage = (e) => {
    seen.received = {isArrayBuffer: e.data instanceof ArrayBuffer, bytes: e.data.byteLength};
    ws.send(JSON.stringify({report: seen}));
  };
  ws.onclose = (e) => {
    const report = new WebSocket(`ws://${location.host}/report`);
    report.onopen = () => report.send(
      JSON.stringify({code: e.code, reason: e.reason, wasClean: e.wasClean}));
  };
</script>
"""
SESSION_COOKIE = "session=s3cr3t; Path=/; HttpOnly; SameSite=Strict"


@dataclass
class BrowserProbe:
    """What a real Chromium did with a WebSocket, seen from both ends."""

    headers: dict[str, str] = field(default_factory=dict)  # its upgrade request
    path: str = ""
    uploads: list[tuple[dict[str, Any], int, bool]] = field(default_factory=list)  # meta, size, ok
    page: dict[str, Any] = field(default_factory=dict)  # what the page's script saw
    closed: dict[str, Any] = field(default_factory=dict)  # its onclose event
    ping_rtt: float | None = None  # a ping from the server, answered by the browser itself


async def browser_probe(timeout: float = 20.0) -> BrowserProbe:
    """Open :data:`PROBE_PAGE` in headless Chromium against a live server; report both ends."""
    from websockets.datastructures import Headers
    from websockets.http11 import Request, Response

    from rtlab.live.browser import HeadlessChromium

    probe = BrowserProbe()
    done = asyncio.Event()
    expected = bytes(i % 251 for i in range(70000))

    def serve_page(conn: ServerConnection, request: Request) -> Response | None:
        if request.path == "/page":
            headers = Headers([("Content-Type", "text/html; charset=utf-8"),
                               ("Set-Cookie", SESSION_COOKIE)])
            return Response(200, "OK", headers, PROBE_PAGE.encode())
        if request.path.startswith(("/upload", "/report")):
            return None  # a WebSocket handshake: go on
        return conn.respond(HTTPStatus.NOT_FOUND, "not found\n")

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        if ws.request.path == "/report":
            probe.closed = json.loads(await ws.recv())
            done.set()
            return
        probe.path = ws.request.path
        probe.headers = {name: value for name, value in ws.request.headers.raw_items()}
        announced: dict[str, Any] = {}
        async for frame in ws:
            if isinstance(frame, bytes):
                probe.uploads.append((announced.get("meta", {}), len(frame), frame == expected))
                await ws.send(bytes(1000))  # binary, to the page
                continue
            message = json.loads(frame)
            if "report" in message:
                probe.page = message["report"]
                probe.ping_rtt = await (await ws.ping())
                await ws.close(4001, "token expired")
                return
            announced = message

    server = await LiveServer.start("browser-probe", handler, process_request=serve_page,
                                    server_header=None)
    browser = await HeadlessChromium.start("browser-probe", f"{server.url.replace('ws:', 'http:')}"
                                           "/page")
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except TimeoutError:
        raise TimeoutError(f"the browser did not finish within {timeout:g} s; its log:\n"
                           f"{browser.log_tail()}") from None
    finally:
        await browser.stop()
        await server.stop()
    return probe


# -- measuring base64-in-JSON against binary frames -----------------------------------------

STYLES = ("base64 in JSON", "JSON + binary")


def encode(style: str, meta: dict[str, Any], payload: bytes) -> list[Frame]:
    """The frames of one upload in ``style``."""
    if style == "base64 in JSON":
        data = base64.b64encode(payload).decode("ascii")
        return [json.dumps({"meta": meta, "size": len(payload), "data": data})]
    return [json.dumps({"meta": meta, "size": len(payload)}), payload]


def decode(style: str, frames: list[Frame]) -> tuple[dict[str, Any], bytes]:
    """What the server does with the frames of one upload in ``style``."""
    message = json.loads(frames[0])
    if style == "base64 in JSON":
        return message["meta"], base64.b64decode(message["data"])
    payload = frames[1]
    assert isinstance(payload, bytes)
    return message["meta"], payload


@dataclass
class EncodingResult:
    """One payload sent ``count`` times in one style, measured."""

    name: str
    style: str
    payload: int  # bytes
    count: int
    wire: int  # bytes client -> server per upload, frame headers and masks included
    encode_us: float  # CPU per upload, client side (json + base64)
    decode_us: float  # CPU per upload, server side
    transfer_cpu_us: float  # process CPU per upload, both ends, websockets and proxy included
    compression: str | None

    @property
    def ratio(self) -> float:
        return self.wire / self.payload

    @property
    def app_cpu_us(self) -> float:
        return self.encode_us + self.decode_us


async def measure_encodings(payloads: dict[str, bytes], *, counts: dict[str, int] | None = None,
                            meta: dict[str, Any] | None = None,
                            compression: str | None = None) -> list[EncodingResult]:
    """Send each payload in both styles over a real loopback connection, through a counting proxy.

    Bytes are counted by the proxy (``FaultProxy`` tunnels count what they
    deliver), after the handshake, so they are exactly the frames' bytes. CPU
    of encoding and decoding is thread CPU time around the application's own
    calls; the transfer CPU is the process's CPU from first send to last ack.
    ``compression=None`` turns permessage-deflate off (websockets and browsers
    negotiate it by default: ``"deflate"``).
    """
    results: list[EncodingResult] = []
    state: dict[str, Any] = {}

    async def handler(conn: ServerConnection) -> None:
        style = state["style"]
        pending: list[Frame] = []
        async for frame in conn:
            pending.append(frame)
            if style == "JSON + binary" and len(pending) < 2:
                continue
            started = time.thread_time()
            decode(style, pending)
            state["decode"] += time.thread_time() - started
            pending = []
            await conn.send("ok")

    server = await LiveServer.start("frames-measure", handler, max_size=None,
                                    compression=compression)
    proxy = await FaultProxy.start("frames-count", server.port, buffer_size=1 << 20)
    try:
        for name, payload in payloads.items():
            count = (counts or {}).get(name, 5)
            for style in STYLES:
                state.update(style=style, decode=0.0)
                results.append(await _measure_one(proxy, state, name, style, payload, count,
                                                  meta or {"name": name}, compression))
    finally:
        await proxy.stop()
        await server.stop()
    return results


async def _measure_one(proxy: FaultProxy, state: dict[str, Any], name: str, style: str,
                       payload: bytes, count: int, meta: dict[str, Any],
                       compression: str | None) -> EncodingResult:
    async with connect(proxy.url, max_size=None, compression=compression) as ws:
        tunnel = proxy.tunnels[-1]
        await (await ws.ping())  # the pong is back: nothing of the handshake is in flight
        before = tunnel.bytes["up"]
        encoding = 0.0
        cpu = time.process_time()
        for _ in range(count):
            started = time.thread_time()
            frames = encode(style, meta, payload)
            encoding += time.thread_time() - started
            for frame in frames:
                await ws.send(frame)
            assert await ws.recv() == "ok"
        cpu = time.process_time() - cpu
        up = tunnel.bytes["up"] - before
    return EncodingResult(name, style, len(payload), count, round(up / count),
                          encoding / count * 1e6, state["decode"] / count * 1e6,
                          cpu / count * 1e6, compression)


def sample_payloads(seed: int = 3) -> dict[str, bytes]:
    """Seeded random bytes of 1 KiB, 64 KiB and 1 MiB, and a PNG and a WAV of realistic size."""
    import random

    rng = random.Random(seed)
    return {"1 KiB random": rng.randbytes(1024), "64 KiB random": rng.randbytes(64 * 1024),
            "1 MiB random": rng.randbytes(1024 * 1024), "PNG chart": png_chart(seed),
            "WAV 1 s voice-band": wav_tone(seed)}


def png_chart(seed: int) -> bytes:
    """A real PNG: a line chart as a dashboard would send it (deterministic for a seed)."""
    import io
    import random

    from matplotlib.figure import Figure  # not pyplot: a notebook's figures stay untouched

    rng = random.Random(seed)
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
    walk = list(itertools.accumulate(rng.gauss(0, 1) for _ in range(400)))
    ax.plot(walk, color="#0969da")
    ax.fill_between(range(400), walk, min(walk), color="#0969da", alpha=0.2)
    ax.set_title("requests per second")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def wav_tone(seed: int, seconds: float = 1.0, rate: int = 16_000) -> bytes:
    """A real WAV: mono 16-bit, a voice-like chord with noise (32 KB per second at 16 kHz)."""
    import io
    import math
    import random
    import wave

    rng = random.Random(seed)
    samples = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        value = sum(math.sin(2 * math.pi * f * t) / k for k, f in enumerate((220, 440, 660), 1))
        sample = int(7000 * value + rng.gauss(0, 600))
        samples += struct.pack("<h", max(-32768, min(32767, sample)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(samples))
    return buffer.getvalue()


def table(results: list[EncodingResult]) -> str:
    """The measurements as a text table, one row per payload and style."""
    rows = [f"{'payload':<20} {'style':<15} {'payload B':>10} {'wire B':>10} {'wire/payload':>12} "
            f"{'encode us':>10} {'decode us':>10} {'transfer CPU us':>15}"]
    for r in results:
        rows.append(f"{r.name:<20} {r.style:<15} {r.payload:>10,} {r.wire:>10,} {r.ratio:>12.3f} "
                    f"{r.encode_us:>10.0f} {r.decode_us:>10.0f} {r.transfer_cpu_us:>15.0f}")
    return "\n".join(rows)


def bench_frames() -> None:
    """Print wire bytes and CPU for base64-in-JSON vs binary frames (``make bench``)."""

    async def run() -> list[EncodingResult]:
        payloads = sample_payloads()
        counts = {name: 20 if len(p) < 200_000 else 5 for name, p in payloads.items()}
        plain = await measure_encodings(payloads, counts=counts)
        squeezed = await measure_encodings({"1 MiB random": payloads["1 MiB random"],
                                            "PNG chart": payloads["PNG chart"]},
                                           counts={"1 MiB random": 3, "PNG chart": 10},
                                           compression="deflate")
        return plain + squeezed

    results = asyncio.run(run())
    print(f"frames: base64-in-JSON vs JSON + binary frame, loopback, {os.cpu_count()} CPUs")
    print("without compression:")
    print(table([r for r in results if r.compression is None]))
    print("with permessage-deflate (websockets' and browsers' default):")
    print(table([r for r in results if r.compression]))
    by = {(r.name, r.style): r for r in results if r.compression is None}
    ratios = [by[n, "base64 in JSON"].wire / by[n, "JSON + binary"].wire
              for n in {n for n, _ in by}]
    print(f"base64 in JSON / binary, bytes on the wire: {min(ratios):.3f}-{max(ratios):.3f} x "
          f"(median {statistics.median(ratios):.3f})")
