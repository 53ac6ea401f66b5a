"""Helpers of the WebSocket lessons (``notebooks/03-websocket-basics`` and
``notebooks/03-websocket-limits``): the plumbing that would hide the idea of a cell.

A cell of those lessons shows one thing: a handler, a close, a measurement. What
it needs around that lives here: a server log captured instead of printed, clients
that report how their connection ended, the upload demos, the plot and the prose
figures of the base64 measurement, a rehearsal of the learner's code before it
meets a live server, and the checks that each claim of the lesson holds in the run
it shows. Servers bind 127.0.0.1 and are stopped by the helper that started them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from rtlab.learner import LearnerTimeout, describe_error, load_exercise, time_limit
from rtlab.live.server import LiveServer
from rtlab.topics.websocket_basics.interface import Frame, learner_module
from rtlab.topics.websocket_basics.live import (
    BrowserProbe,
    EncodingResult,
    UploadLog,
    encode,
    live_uploads,
    raw_connect,
    send_frames,
    upload_handler,
)
from rtlab.wire.websocket import frames_size

__all__ = [
    "CloseTour",
    "Ending",
    "KeepaliveRun",
    "UploadDemo",
    "WireDemo",
    "check_compression",
    "check_encodings",
    "check_probe",
    "close_code_tour",
    "compression_findings",
    "cookies",
    "describe_probe",
    "echo",
    "encoding_findings",
    "keepalive_run",
    "learner_for_live",
    "plot_encodings",
    "shown",
    "try_handshake",
    "upload_clients",
    "upload_demo",
    "upload_on_the_wire",
]

Handler = Callable[[ServerConnection], Awaitable[None]]
GOOD_SIZES = (0, 1_000, 64 * 1024)  # the well-behaved client's uploads
REHEARSAL_SECONDS = 5.0  # of real time for the learner's code, before it meets a live server


def shown(response: bytes) -> str:
    """A raw HTTP response as text; the Date header, which changes every second, masked."""
    return re.sub(r"Date: [^\r]+", "Date: <date>", response.decode()).replace("\r\n", "\n")


async def echo(ws: ServerConnection) -> None:
    """Echo every message; ``"sizes 125 126"`` asks for binary messages of those sizes."""
    async for message in ws:
        if isinstance(message, str) and message.startswith("sizes"):
            for size in message.split()[1:]:
                await ws.send(bytes(int(size)))
        else:
            await ws.send(message)


# -- close codes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ending:
    """How one connection ended, as its client saw it."""

    code: int | None  # the code of the close frame received; None if none came
    reason: str
    kind: str  # the exception's class (ConnectionClosedOK or ...Error), or "still open ..."

    def __str__(self) -> str:
        code = "-" if self.code is None else str(self.code)
        return f"{code:>4} {self.reason!r:<52} {self.kind}"


async def _ending(ws: ClientConnection, wait: float) -> Ending:
    try:
        async with asyncio.timeout(wait):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        frame = closed.rcvd  # the other side's close frame (None: TCP ended without one)
        code, reason = (frame.code, frame.reason) if frame is not None else (None, "")
        return Ending(code, reason, type(closed).__name__)
    except TimeoutError:
        return Ending(None, "", f"still open after {wait:g} s")


async def what_the_client_sees(url: str, message: Frame, *, text: bool | None = None,
                               wait: float = 1.0) -> Ending:
    """Connect, send one message, read until the connection ends (or ``wait`` passes)."""
    async with connect(url, compression=None) as ws:
        try:
            await ws.send(message, text=text)
        except ConnectionClosed:
            pass  # refused while sending: the close frame is read below
        return await _ending(ws, wait)


class _Records(logging.Handler):
    """A log handler that keeps the records, so a server's log lands in a list, not stderr."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class CloseTour:
    """Every case of :func:`close_code_tour`, as the client saw it, and the server's log."""

    rows: list[tuple[str, Ending]]
    crashes: list[str]  # what the server logged of handlers that raised

    def code(self, label: str) -> int | None:
        return next(ending.code for name, ending in self.rows if name == label)

    def __str__(self) -> str:
        lines = [f"{label:<30} -> {ending}" for label, ending in self.rows]
        lines += [f"(the server logged {crash})" for crash in self.crashes]
        return "\n".join(lines)

    def check(self, *, max_size: int, oversize: int) -> None:
        """The codes the lesson's table promises, for this ``max_size``."""
        codes = [ending.code for _, ending in self.rows]
        too_big = 1009 if oversize > max_size else None  # None: echoed, still open
        assert codes == [1000, 4001, 1008, 1007, too_big, 1011, 1001], self
        assert len(self.crashes) == 1, self.crashes


async def close_code_tour(handler: Handler, cases: Sequence[tuple[str, Frame, bool | None]], *,
                          max_size: int) -> CloseTour:
    """Send each case (label, message, text=) on a connection of its own to a plain
    ``websockets`` server running ``handler``, then shut the server down under one
    more client, as a deploy does.

    Plain ``websockets``, not ``LiveServer`` (which collects handler errors for the
    lesson's checks, so a crashed handler's connection ends normally there): here we
    want the library's own answers. Its log goes to a list instead of stderr.
    """
    records = _Records()
    logger = logging.getLogger("rtlab.lessons.close-codes")
    logger.propagate = False
    logger.handlers = [records]  # a re-run replaces, never stacks
    rows: list[tuple[str, Ending]] = []
    async with serve(handler, "127.0.0.1", 0, max_size=max_size, logger=logger) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        for label, message, text in cases:
            rows.append((label, await what_the_client_sees(url, message, text=text)))
        async with connect(url) as ws:
            server.close()  # closes every connection with 1001, like a deploy
            rows.append(("server shuts down", await _ending(ws, 5.0)))
    crashes = [f"{r.getMessage()!r}: {r.exc_info[0].__name__}: {r.exc_info[1]}"
               for r in records.records if r.exc_info and r.exc_info[0] is not None]
    return CloseTour(rows, crashes)


# -- keepalive ------------------------------------------------------------------------------


@dataclass
class KeepaliveRun:
    """A server pinging every ``interval`` s: a client that never answers, one that does."""

    interval: float
    timeout: float
    ping_at: float  # s after connecting: the first ping reached the silent client
    ping_bytes: int
    close_at: float  # s after connecting: the server's close reached it
    close_code: int | None
    close_reason: str
    echoed: str  # what the client that answers pings got back afterwards
    round_trip_ms: float  # of that client's own ping

    def __str__(self) -> str:
        return "\n".join([
            f"t={self.ping_at:.2f} s  ping frame, payload {self.ping_bytes} bytes "
            "(the silent client does not answer)",
            f"t={self.close_at:.2f} s  close frame: {self.close_code} {self.close_reason!r}",
            f"the websockets client that answered pings: still open, echoed {self.echoed!r}",
            f"its own ping came back after {self.round_trip_ms:.2f} ms",
        ])

    def check(self) -> None:
        """Ping after ``interval``, close ``timeout`` later, with 1011 (slack for busy CI)."""
        assert self.interval * 0.8 <= self.ping_at <= self.interval + 2.0, self
        assert (self.close_code, self.close_reason) == (1011, "keepalive ping timeout"), self
        low = self.interval + self.timeout * 0.8
        assert low <= self.close_at <= self.interval + self.timeout + 2.0, self


async def keepalive_run(interval: float, timeout: float) -> KeepaliveRun:
    """A live server with ``ping_interval=interval, ping_timeout=timeout``; a raw client
    reads its ping and does not answer, as a frozen program would not, while a
    ``websockets`` client (which answers by itself) stays connected."""
    server = await LiveServer.start("keepalive", echo, ping_interval=interval,
                                    ping_timeout=timeout)
    silent = await raw_connect(server.port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    wait = interval + timeout + 5.0
    try:
        async with connect(server.url) as polite:
            ping = await silent.read_frame(timeout=wait)
            ping_at = loop.time() - started
            close = await silent.read_frame(timeout=wait)
            close_at = loop.time() - started
            await polite.send("still there?")
            echoed = str(await polite.recv())
            round_trip = await (await polite.ping())
    finally:
        await silent.close()
        await server.stop()
    return KeepaliveRun(interval, timeout, ping_at, len(ping.payload), close_at,
                        close.close_code, close.close_reason, echoed, round_trip * 1000)


# -- the handshake: origin and authentication -----------------------------------------------


def cookies(header: str) -> dict[str, str]:
    """A ``Cookie`` header as a dict: ``"a=1; b=2"`` -> ``{"a": "1", "b": "2"}``."""
    pairs = (part.strip().split("=", 1) for part in header.split(";") if "=" in part)
    return {name: value for name, value in pairs}


async def try_handshake(url: str, *, origin: str | None, headers: dict[str, str]) -> str:
    """Open a connection as a client with this ``Origin`` and headers would: what happened."""
    try:
        claimed = Origin(origin) if origin is not None else None
        async with connect(url, origin=claimed, additional_headers=headers) as ws:
            return f"101, then {await ws.recv()!r}"
    except InvalidStatus as refused:
        return f"HTTP {refused.response.status_code}: {refused.response.body.decode().strip()}"


# -- a real browser -------------------------------------------------------------------------


def describe_probe(probe: BrowserProbe) -> str:
    """What Chromium sent and what its page saw, as lines of text."""
    lines = [f"Chromium's upgrade request: {probe.path}"]
    lines += [f"  {name}: {probe.headers.get(name)}"
              for name in ("Origin", "Cookie", "Sec-WebSocket-Extensions", "User-Agent")]
    lines.append("  (and no Authorization, nor any header the page chose)")
    lines.append(f"uploads the server delivered: {[(m, size) for m, size, _ in probe.uploads]}")
    lines.append("what the page's script saw:")
    lines += [f"  {key}: {value}" for key, value in probe.page.items()]
    rtt = f"{probe.ping_rtt * 1000:.1f} ms" if probe.ping_rtt is not None else "never"
    lines.append(f"the server's ping was answered by the browser in {rtt}")
    lines.append(f"the page's onclose: {probe.closed}")
    return "\n".join(lines)


def check_probe(probe: BrowserProbe) -> None:
    """The browser facts the lesson's table states."""
    assert probe.headers["Cookie"] == "session=s3cr3t", probe.headers
    assert not probe.page["cookieReadableByScript"], "HttpOnly: the page cannot read it"
    assert "Authorization" not in probe.headers, probe.headers
    assert probe.uploads == [({"name": "from chromium 🎉"}, 70000, True)], probe.uploads
    assert probe.page["pingMethod"] == "undefined" and probe.ping_rtt is not None, probe.page
    assert probe.page["close1003"] == "InvalidAccessError", probe.page
    assert probe.page["received"] == {"isArrayBuffer": True, "bytes": 1000}, probe.page
    assert probe.closed == {"code": 4001, "reason": "token expired", "wasClean": True}


# -- measured: base64 inside JSON against a binary frame ------------------------------------

BASE64, BINARY = "base64 in JSON", "JSON + binary"
LARGE = 30_000  # bytes: payloads this large show base64's 4/3 without the wrapper's noise


def _by(results: Sequence[EncodingResult]) -> dict[tuple[str, str], EncodingResult]:
    return {(r.name, r.style): r for r in results}


def check_encodings(results: Sequence[EncodingResult], payloads: dict[str, bytes]) -> None:
    """The measurement's claims: the proxy counted exactly the frames' arithmetic, binary
    frames carry the payload as it is, base64 costs a third more and several times the CPU."""
    by = _by(results)
    cpu = {BASE64: 0.0, BINARY: 0.0}  # summed over the large payloads: one sample of a few
    for name, payload in payloads.items():  # microseconds can be hit by a busy machine
        b64, binary = by[name, BASE64], by[name, BINARY]
        for r in (b64, binary):
            assert r.wire == frames_size(encode(r.style, {"name": name}, payload), "client"), r
        assert binary.wire < len(payload) + 200, "binary frames carry the payload as it is"
        if len(payload) >= LARGE:
            assert 1.32 <= b64.wire / len(payload) <= 1.35, "base64 costs a third more"
            cpu[BASE64] += b64.app_cpu_us
            cpu[BINARY] += binary.app_cpu_us
    if cpu[BASE64]:
        assert cpu[BASE64] > 3 * cpu[BINARY], f"and several times the CPU: {cpu}"


def plot_encodings(results: Sequence[EncodingResult]) -> Figure:
    """Two panels: bytes on the wire per payload byte, and encode + decode CPU (log scale)."""
    by = _by(results)
    names = list(dict.fromkeys(r.name for r in results))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    width = 0.38
    for k, (style, colour) in enumerate([(BASE64, "#cf222e"), (BINARY, "#1a7f37")]):
        xs = [i + (k - 0.5) * width for i in range(len(names))]
        ratios = [by[n, style].ratio for n in names]
        left.bar(xs, ratios, width, color=colour, label=style)
        for x, ratio in zip(xs, ratios, strict=True):
            left.annotate(f"{ratio:.2f}", (x, ratio), ha="center", va="bottom", fontsize=7)
        right.bar(xs, [by[n, style].app_cpu_us for n in names], width, color=colour, label=style)
    left.axhline(4 / 3, color="#57606a", linestyle=":", linewidth=1)
    left.annotate("4/3", (len(names) - 0.5, 4 / 3), fontsize=8, va="bottom", color="#57606a")
    left.set_ylim(0.9, 1.6)
    left.set_ylabel("bytes on the wire / payload bytes")
    left.set_title("Bytes on the wire (client to server)", fontsize=10, loc="left")
    right.set_yscale("log")
    right.set_ylabel("CPU per upload (µs, log scale)")
    right.set_title("Encode + decode CPU (application, both ends)", fontsize=10, loc="left")
    for ax in (left, right):
        ax.set_xticks(range(len(names)), ["\n".join(n.rsplit(" ", 1)) for n in names], fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    left.legend(fontsize=8, frameon=False, loc="upper right", ncol=2)
    fig.tight_layout()
    return fig


def encoding_findings(results: Sequence[EncodingResult]) -> str:
    """What the measurement found, as Markdown, every figure taken from ``results``."""
    by = _by(results)
    large = [r for r in results if r.payload >= LARGE]
    b64 = [r.ratio for r in large if r.style == BASE64]
    binary = [r.ratio for r in large if r.style == BINARY]
    mib = by["1 MiB random", BASE64], by["1 MiB random", BINARY]
    kib = by["1 KiB random", BASE64], by["1 KiB random", BINARY]
    return (
        f"**Measured in this run.** Every payload of {LARGE:,} bytes or more took "
        f"**{min(b64):.3f}-{max(b64):.3f} x** its size on the wire as base64 inside JSON (4/3 "
        "from base64, plus the JSON keys and quotes, frame headers and the mask), and "
        f"**{min(binary):.3f}-{max(binary):.3f} x** as JSON metadata plus a binary frame. "
        f"For 1 MiB: {mib[0].wire:,} bytes against {mib[1].wire:,}, byte for byte what "
        "`rtlab.wire.websocket` computes from the frames. Encoding and parsing 1 MiB as "
        f"base64 in JSON took **{mib[0].app_cpu_us / 1000:.1f} ms** of CPU across both ends, "
        f"the binary way **{mib[1].app_cpu_us / 1000:.2f} ms** (a `json.dumps` of the "
        f"metadata, nothing else): {mib[0].app_cpu_us / mib[1].app_cpu_us:.0f} x. The whole "
        f"exchange, `websockets` and the proxy included, cost {mib[0].transfer_cpu_us / 1000:.1f}"
        f" ms against {mib[1].transfer_cpu_us / 1000:.1f} ms: "
        f"**{mib[0].transfer_cpu_us / mib[1].transfer_cpu_us:.1f} x** the CPU. Small payloads "
        f"pay too: at 1 KiB, {kib[0].wire:,} against {kib[1].wire:,} bytes."
    )


def check_compression(squeezed: Sequence[EncodingResult],
                      plain: Sequence[EncodingResult]) -> None:
    """Deflate wins most of base64's bytes back, and pays for them in CPU."""
    b64z = _by(squeezed)["1 MiB random", BASE64]
    uncompressed = _by(plain)["1 MiB random", BINARY]
    assert b64z.ratio < 1.1, "deflate recovers most of base64's bytes"
    assert b64z.transfer_cpu_us > 5 * uncompressed.transfer_cpu_us, "at a large CPU cost"


def compression_findings(squeezed: Sequence[EncodingResult],
                         plain: Sequence[EncodingResult]) -> str:
    """What deflate did, as Markdown, every figure taken from the two measurements."""
    z, p = _by(squeezed), _by(plain)
    b64z, binz = z["1 MiB random", BASE64], z["1 MiB random", BINARY]
    bare = p["1 MiB random", BINARY]
    lines = [
        f"**Measured in this run.** Deflate brought base64 of 1 MiB back to "
        f"**{b64z.ratio:.3f} x** the payload, and paid for it: that exchange took "
        f"**{b64z.transfer_cpu_us / 1000:.0f} ms** of CPU, against "
        f"**{bare.transfer_cpu_us / 1000:.1f} ms** for a plain binary frame without "
        f"compression. The binary frame, deflated for nothing, took "
        f"**{binz.transfer_cpu_us / 1000:.0f} ms** ({binz.ratio:.3f} x on the wire)."]
    for (name, style), r in z.items():
        if name != "1 MiB random" and style == BINARY:
            saved = 1 - r.wire / p[name, BINARY].wire if (name, BINARY) in p else 1 - r.ratio
            lines.append(f"{name} as a deflated binary frame: {r.wire:,} bytes on the wire for "
                         f"{r.payload:,} of payload ({saved:.1%} saved).")
    return " ".join(lines)


# -- the upload protocol, live --------------------------------------------------------------


def upload_clients(module: ModuleType, *, misbehaving: bool = True) -> dict[str, list[Frame]]:
    """The demo's clients: one well-behaved (uploads of 0, 1,000 and 65,536 bytes, framed
    by ``module.encode_upload``), and three that misbehave, each in its own way."""
    learner = learner_module(module)
    good = [learner.encode_upload({"name": f"photo-{i}.png", "caption": "Grüße 🎉"}, bytes(size))
            for i, size in enumerate(GOOD_SIZES)]
    clients: dict[str, list[Frame]] = {"well-behaved": [frame for up in good for frame in up]}
    if misbehaving:
        clients["announces 10 MB"] = ['{"size": 10000000, "meta": {}}']
        clients["broken JSON"] = ['{"size": 3, "meta": {']
        clients["unannounced bytes"] = [b"\x89PNG"]
    return clients


@dataclass
class UploadDemo:
    """What the clients of :func:`upload_demo` saw, and what the server delivered."""

    label: str
    limit: int
    ends: dict[str, tuple[int | None, str]]  # client -> the close (code, reason) it got
    delivered: list[tuple[str, int]]  # (meta name, payload size), in order
    errors: list[str] = field(default_factory=list)  # exceptions of the receiver

    def code(self, client: str) -> int | None:
        return self.ends[client][0]

    def __str__(self) -> str:
        lines = [f"{self.label}, limit {self.limit:,} bytes:"]
        lines += [f"  {name:<18} closed with {code}: {reason}"
                  for name, (code, reason) in self.ends.items()]
        lines.append(f"  delivered: {self.delivered}")
        lines += [f"  the receiver raised: {error}" for error in self.errors]
        return "\n".join(lines)

    def check(self) -> None:
        """What a correct receiver does with these clients at this limit."""
        fits = [size for size in GOOD_SIZES if size <= self.limit]
        assert [size for _, size in self.delivered] == fits, self
        good = 1000 if len(fits) == len(GOOD_SIZES) else 1009  # a too-big announcement: 1009
        codes = [self.code(name) for name in self.ends]
        assert codes == [good, 1009, 1007, 1003], self
        assert not self.errors, self.errors


async def upload_demo(module: ModuleType, label: str, *, limit: int) -> UploadDemo:
    """``module.Receiver(limit)`` on a live server, one per connection, and the four
    clients of :func:`upload_clients` sending at once."""
    log = UploadLog()
    receiver = learner_module(module).Receiver
    server = await LiveServer.start("uploads", upload_handler(lambda: receiver(limit), log),
                                    compression=None, max_size=None)
    clients = upload_clients(module)
    try:
        ends = await asyncio.gather(*(send_frames(server.url, f) for f in clients.values()))
    finally:
        await server.stop()
    delivered = [(meta.get("name", "?"), size) for _, meta, size in log.deliveries]
    return UploadDemo(label, limit, dict(zip(clients, ends, strict=True)), delivered, log.errors)


@dataclass
class WireDemo:
    """Uploads from one client, through a proxy that counts its bytes."""

    label: str
    delivered: list[tuple[str, int]]
    wire: int  # bytes the client sent after its handshake: frames, headers, masks
    close: tuple[int, str] | None
    errors: list[str]

    @property
    def payload(self) -> int:
        return sum(GOOD_SIZES)

    def __str__(self) -> str:
        lines = [f"{self.label}:", f"  delivered: {self.delivered}",
                 f"  on the wire: {self.wire:,} bytes for {self.payload:,} bytes of payload "
                 f"({self.wire / self.payload:.3f} x; base64 inside JSON would be about 1.33 x)"]
        if self.close is not None:
            lines.append(f"  the server closed the connection: {self.close}")
        lines += [f"  the receiver raised: {error}" for error in self.errors]
        return "\n".join(lines)

    def check(self) -> None:
        assert [size for _, size in self.delivered] == list(GOOD_SIZES), self
        assert self.wire / self.payload <= 1.05 and not self.errors, self


async def upload_on_the_wire(module: ModuleType, label: str) -> WireDemo:
    """The well-behaved client's three uploads (``module.encode_upload``) to
    ``module.Receiver()`` on a live server, through a counting proxy."""
    clients = upload_clients(module, misbehaving=False)
    receiver = learner_module(module).Receiver
    seen, errors = await live_uploads(clients, receiver, max_size=None,
                                      expect={"well-behaved": len(GOOD_SIZES)})
    client = seen["well-behaved"]
    delivered = [(meta.get("name", "?"), size) for meta, size in client.delivered]
    return WireDemo(label, delivered, client.wire, client.close, errors)


def learner_for_live(*, misbehaving: bool) -> tuple[ModuleType | None, str | None]:
    """Your ``exercises/frames.py``, rehearsed before it meets a live server: (module, None),
    or (None, why not).

    Each demo client's frames go through a fresh ``Receiver`` first, in this process,
    under a time limit: code that hangs would stall every server of the kernel, so it
    never goes live. With ``misbehaving=False`` (level 1) the good uploads must not
    raise either; with bad clients an exception is fine: the live server turns it
    into the 1011 the lesson is about.
    """
    try:
        module = load_exercise("frames")
        with time_limit(REHEARSAL_SECONDS, "your encode_upload and Receiver"):
            clients = upload_clients(module, misbehaving=misbehaving)
            for name, frames in clients.items():
                well_behaved = name == "well-behaved"
                _rehearse(learner_module(module).Receiver(), frames, must_not_raise=well_behaved)
    except LearnerTimeout as timeout:
        return None, str(timeout)
    except Exception as error:  # a syntax error, a TODO, a crash on a good upload
        return None, describe_error(error)
    return module, None


def _rehearse(receiver: Any, frames: list[Frame], *, must_not_raise: bool) -> None:
    for frame in frames:
        try:
            actions = receiver.receive(frame)
        except Exception:
            if must_not_raise:
                raise
            return
        if any(action[0] == "close" for action in actions or []):
            return
