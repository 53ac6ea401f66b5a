"""The fault proxy (rtlab.live.proxy) on real loopback sockets.

Each test puts the proxy between a plain asyncio TCP client and a TCP server
(or a real websockets client and server) and checks what each end observes.
"Nothing arrived" is checked at the kernel too: Linux's TCP_INFO says whether
a socket is still ESTABLISHED (no FIN received) or moved to CLOSE_WAIT.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtlab.live import LiveServer, running, stop_all
from rtlab.live.proxy import FaultProxy, unsent_bytes

WINDOW = 0.5  # how long "nothing happens" is watched
TCP_ESTABLISHED, TCP_CLOSE_WAIT = 1, 8
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="TCP_INFO is Linux-only")


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


def tcp_state(writer: asyncio.StreamWriter) -> int:
    """The kernel's TCP state of a stream's socket (first byte of struct tcp_info)."""
    sock = writer.get_extra_info("socket")
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]  # type: ignore[no-any-return]


class Backend:
    """A TCP server that records what each connection reads and can write back."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.events: list[tuple[float, str, Any]] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> Backend:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        try:
            while data := await reader.read(65536):
                self.events.append((time.monotonic(), "data", len(data)))
                if self.echo:
                    writer.write(data)
                    await writer.drain()
            self.events.append((time.monotonic(), "eof", None))
            writer.close()  # answer a FIN with a FIN once everything was echoed
        except ConnectionError as error:
            self.events.append((time.monotonic(), "error", error))

    def received(self) -> int:
        return sum(n for _, kind, n in self.events if kind == "data")

    def kinds(self) -> list[str]:
        return [kind for _, kind, _ in self.events]

    async def stop(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def through_proxy(
    test: Callable[[FaultProxy, Backend, asyncio.StreamReader, asyncio.StreamWriter],
                   Awaitable[None]],
    *, echo: bool = True, **options: Any,
) -> None:
    backend = await Backend(echo).start()
    proxy = await FaultProxy.start("t-proxy", backend.port, **options)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        assert await proxy.wait_tunnels(1), f"no tunnel opened: {proxy.tunnels}"
        await test(proxy, backend, reader, writer)
    finally:
        writer.transport.abort()
        await proxy.stop()
        await backend.stop()


async def nothing_arrives(reader: asyncio.StreamReader, window: float = WINDOW) -> None:
    """Fail if the reader gets data, EOF or a reset within ``window`` seconds."""
    try:
        got = await asyncio.wait_for(reader.read(1), window)
    except TimeoutError:
        return
    except ConnectionError as error:
        pytest.fail(f"the read raised {error!r} during a stall; expected it to stay pending")
    what = "EOF (a FIN arrived)" if got == b"" else f"data {got!r}"
    pytest.fail(f"the read returned {what} during a stall; expected it to stay pending")


async def echo_round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          payload: bytes = b"hello") -> bytes:
    writer.write(payload)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(payload)), 2)


# -- forwarding ---------------------------------------------------------------------


def test_the_proxy_listens_on_loopback_and_forwards_both_ways() -> None:
    async def test(proxy: FaultProxy, backend: Backend, reader: Any, writer: Any) -> None:
        assert proxy.url == f"ws://127.0.0.1:{proxy.port}"
        assert proxy._server is not None
        hosts = {s.getsockname()[0] for s in proxy._server.sockets}
        assert hosts == {"127.0.0.1"}, f"the proxy listens on {hosts}; expected loopback only"
        assert await echo_round_trip(reader, writer) == b"hello"
        tunnel = proxy.tunnels[0]
        assert (tunnel.state, tunnel.bytes) == ("open", {"up": 5, "down": 5}), repr(tunnel)

    run(through_proxy(test))


def test_a_half_close_is_forwarded_and_the_other_direction_keeps_flowing() -> None:
    async def test(proxy: FaultProxy, backend: Backend, reader: Any, writer: Any) -> None:
        writer.write(b"last words")
        writer.write_eof()  # FIN from the client: "I am done sending"
        assert await asyncio.wait_for(reader.readexactly(10), 2) == b"last words"
        assert await asyncio.wait_for(reader.read(1), 2) == b"", "the server's FIN came back"
        assert backend.kinds() == ["data", "eof"], backend.events
        writer.close()
        deadline = time.monotonic() + 2
        while proxy.tunnels[0].state != "closed" and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert proxy.tunnels[0].state == "closed", "both FINs forwarded: the tunnel is done"

    run(through_proxy(test))


def test_latency_delays_each_direction_and_keeps_the_order() -> None:
    async def test(proxy: FaultProxy, backend: Backend, reader: Any, writer: Any) -> None:
        proxy.set_latency(0.1)
        started = time.monotonic()
        for i in range(20):
            writer.write(f"{i:02d}".encode())
            await asyncio.sleep(0.005)
        got = await asyncio.wait_for(reader.readexactly(40), 3)
        elapsed = time.monotonic() - started
        assert got == b"".join(f"{i:02d}".encode() for i in range(20)), got
        assert elapsed >= 0.2, f"20 chunks with 0.1 s each way came back after {elapsed:.3f} s"

    run(through_proxy(test))


# -- half-open stalls ------------------------------------------------------------------


@linux_only
def test_a_stall_delivers_nothing_and_sends_no_fin_and_no_rst_either_way() -> None:
    async def test(proxy: FaultProxy, backend: Backend, reader: Any, writer: Any) -> None:
        assert await echo_round_trip(reader, writer) == b"hello"
        proxy.tunnels[0].stall()
        writer.write(b"into the void")
        await writer.drain()  # succeeds: the bytes sit in buffers, as on a dead path
        backend.writers[0].write(b"towards a ghost")
        await backend.writers[0].drain()
        await nothing_arrives(reader)
        assert backend.kinds() == ["data"], (
            f"the server saw {backend.kinds()} after the stall; expected only the first echo"
        )
        states = (tcp_state(writer), tcp_state(backend.writers[0]))
        assert states == (TCP_ESTABLISHED, TCP_ESTABLISHED), (
            f"TCP states (client, server) after a stall: {states}; expected both "
            f"ESTABLISHED ({TCP_ESTABLISHED}): no FIN, no RST reached either end"
        )
        assert not writer.is_closing() and not backend.writers[0].is_closing()

    run(through_proxy(test))


def test_a_stalled_sender_writes_into_filling_buffers_without_ever_failing() -> None:
    async def test(proxy: FaultProxy, backend: Backend, reader: Any, writer: Any) -> None:
        tunnel = proxy.tunnels[0]
        tunnel.stall("up")
        chunk, written = b"y" * 65536, 0
        while written < 64 * 2**20:
            writer.write(chunk)
            written += len(chunk)
            try:
                await asyncio.wait_for(writer.drain(), 0.3)
            except TimeoutError:
                break  # backpressure: the sender's buffers are full
        else:
            pytest.fail("64 MiB were written into a stalled link without drain() ever waiting")
        backlog = unsent_bytes(writer.transport)
        assert backlog > 0.5 * written, (
            f"{written:,} B written, {backlog:,} B unacknowledged at the sender; expected "
            "most of it to sit in the sender's buffers"
        )
        assert backend.received() == 0 and tunnel.held < 2**20, (backend.events, tunnel.held)
        tunnel.resume("up")
        deadline = time.monotonic() + 10
        while backend.received() < written and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert backend.received() == written, (
            f"after resume() the server got {backend.received():,} of {written:,} B"
        )

    run(through_proxy(test, echo=False))


def test_a_one_way_stall_leaves_the_other_direction_flowing() -> None:
    async def test(proxy: FaultProxy, backend: Backend, reader: Any, writer: Any) -> None:
        proxy.tunnels[0].stall("up")
        backend.writers[0].write(b"still here")
        assert await asyncio.wait_for(reader.readexactly(10), 2) == b"still here"
        writer.write(b"lost")
        await asyncio.sleep(0.2)
        assert backend.received() == 0

    run(through_proxy(test, echo=False))


# -- cuts ---------------------------------------------------------------------------------


@linux_only
def test_a_cut_sends_a_fin_to_both_ends() -> None:
    async def test(proxy: FaultProxy, backend: Backend, reader: Any, writer: Any) -> None:
        assert await echo_round_trip(reader, writer) == b"hello"
        proxy.tunnels[0].cut()
        assert await asyncio.wait_for(reader.read(1), 2) == b"", "the client reads EOF"
        assert tcp_state(writer) == TCP_CLOSE_WAIT, "a FIN reached the client's kernel"
        await asyncio.sleep(0.1)
        assert backend.kinds()[-1] == "eof", backend.events
        assert proxy.tunnels[0].close_reason == "cut"

    run(through_proxy(test))


def test_a_cut_with_reset_raises_connection_reset_at_the_client() -> None:
    async def test(proxy: FaultProxy, backend: Backend, reader: Any, writer: Any) -> None:
        assert await echo_round_trip(reader, writer) == b"hello"
        proxy.tunnels[0].cut(reset=True)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(1), 2)

    run(through_proxy(test))


@linux_only
def test_a_cut_does_not_cross_a_stalled_direction() -> None:
    async def test(proxy: FaultProxy, backend: Backend, reader: Any, writer: Any) -> None:
        proxy.tunnels[0].stall("down")  # the path towards the client is broken
        proxy.tunnels[0].cut()
        await nothing_arrives(reader)
        assert tcp_state(writer) == TCP_ESTABLISHED, "the client must not hear of the cut"
        await asyncio.sleep(0.1)
        assert backend.kinds() == ["eof"], f"the server should read EOF: {backend.events}"

    run(through_proxy(test))


def test_a_silent_connection_is_cut_after_the_idle_timeout_and_a_chatty_one_is_not() -> None:
    async def test(proxy: FaultProxy, backend: Backend, reader: Any, writer: Any) -> None:
        chatty_reader, chatty = await asyncio.open_connection("127.0.0.1", proxy.port)
        started = time.monotonic()
        try:
            for _ in range(8):  # a byte every 0.1 s for 0.8 s
                assert await echo_round_trip(chatty_reader, chatty, b".") == b"."
                await asyncio.sleep(0.1)
            assert await asyncio.wait_for(reader.read(1), 2) == b"", "the silent one reads EOF"
            cut_after = proxy.tunnels[0].closed_at
            assert cut_after is not None and 0.25 <= cut_after <= 0.6, cut_after
            assert proxy.tunnels[1].state == "open", "the chatty connection survives"
            assert len(proxy.idle_cuts) == 1 and proxy.tunnels[0].close_reason == "idle timeout"
            assert time.monotonic() - started >= 0.8
        finally:
            chatty.transport.abort()

    run(through_proxy(test, idle_timeout=0.3))


@linux_only
def test_an_idle_nat_that_forgets_leaves_a_half_open_ghost() -> None:
    async def test(proxy: FaultProxy, backend: Backend, reader: Any, writer: Any) -> None:
        await asyncio.sleep(0.3)
        assert proxy.tunnels[0].stalled == {"up", "down"}, proxy.tunnels[0]
        writer.write(b"anyone?")
        await nothing_arrives(reader)
        assert tcp_state(writer) == TCP_ESTABLISHED and backend.received() == 0

    run(through_proxy(test, idle_timeout=0.15, on_idle="forget"))


def test_an_unreachable_server_ends_the_client_connection() -> None:
    async def scenario() -> None:
        spare = socket.socket()
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
        spare.close()  # nobody listens there now
        proxy = await FaultProxy.start("t-nowhere", port)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            try:
                got = await asyncio.wait_for(reader.read(1), 2)
            except ConnectionResetError:
                got = b""
            assert got == b""
            writer.transport.abort()
        finally:
            await proxy.stop()

    run(scenario())


# -- life cycle and real WebSocket traffic -----------------------------------------------


def test_starting_a_proxy_with_a_taken_name_replaces_it_and_stop_all_stops_it() -> None:
    async def scenario() -> None:
        backend = await Backend().start()
        first = await FaultProxy.start("t-name", backend.port)
        second = await FaultProxy.start("t-name", backend.port)
        try:
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", first.port)
            assert running().get("FaultProxy t-name") is second
            errors = await stop_all()
            assert errors == [] and "FaultProxy t-name" not in running()
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", second.port)
        finally:
            await backend.stop()

    run(scenario())


def test_websockets_keepalive_closes_both_ends_of_a_stalled_link_with_1011() -> None:
    interval, timeout, close_timeout = 0.1, 0.2, 0.1
    options = {"ping_interval": interval, "ping_timeout": timeout, "close_timeout": close_timeout}

    async def scenario() -> None:
        server = await LiveServer.start("t-keepalive", **options)
        proxy = await FaultProxy.start("t-keepalive", server.port)
        try:
            async with connect(proxy.url, proxy=None, **options) as ws:
                assert await ws.recv() == "welcome"
                (server_conn,) = server.connections
                stalled = time.monotonic()
                proxy.tunnels[0].stall()
                with pytest.raises(ConnectionClosed) as closed:
                    async for _ in ws:
                        pass
                took = time.monotonic() - stalled
                assert closed.value.sent is not None and closed.value.sent.code == 1011
                assert closed.value.rcvd is None, "the server's close frame cannot cross a stall"
                assert took <= interval + timeout + close_timeout + 1.0, took
                await asyncio.wait_for(server_conn.wait_closed(), 2)
                assert server_conn.protocol.close_sent is not None
                assert server_conn.protocol.close_sent.code == 1011
        finally:
            await proxy.stop()
            await server.stop()

    run(scenario())
