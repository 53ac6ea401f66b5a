"""Chromium's own WebSocket against the sync server, whose frames it reads and writes itself.

The server splits the frames a client sends and writes the frames it relays
without websockets' framing (RelayConnection): a browser is the client that
must agree. A page served by the sync server opens a WebSocket to a room and
sends Yjs update messages of three sizes (a 7-bit, a 16-bit and a 64-bit
frame length) at once; a Python client in the room must end up with the same
text (the server may merge what arrives together). Then the Python client
sends three, one at a time, and the page reports what it got (length and
checksum of each, byte for byte) with a request the server answers with 204.

Skipped without Chromium, except under ``CI=true``, where it must run.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pycrdt import Doc, Text
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from rtlab.live import stop_all
from rtlab.live.browser import HeadlessChromium, chromium_path
from rtlab.topics.collaboration import SyncServer
from rtlab.wire import yjs

PAGE = """<!doctype html><meta charset="utf-8"><title>sync frames</title><script>
const outgoing = %s, expected = %d, got = [];
const ws = new WebSocket(`ws://${location.host}/frames`);
ws.binaryType = "arraybuffer";
ws.onopen = () => { for (const m of outgoing) ws.send(new Uint8Array(m)); };
ws.onmessage = (event) => {
  const bytes = new Uint8Array(event.data);
  if (bytes[0] !== 0 || bytes[1] !== 2) return;  // only updates: not the room's step 1
  got.push([bytes.length, bytes.reduce((sum, b) => (sum + b) %% 65521, 0)]);
  if (got.length === expected) fetch("/report?got=" + JSON.stringify(got));
};
ws.onclose = (event) => fetch("/report?closed=" + event.code);
</script>"""


def updates(client_id: int, sizes: list[int]) -> list[bytes]:
    """One y-protocols update message per size (that many characters typed at once)."""
    doc: Doc[Any] = Doc(client_id=client_id)
    text = doc.get("text", type=Text)
    out: list[bytes] = []
    doc.observe(lambda event: out.append(yjs.sync_update(event.update)))
    for size in sizes:
        text += "x" * size
    return out


def checksum(message: bytes) -> list[int]:
    return [len(message), sum(message) % 65521]


def test_chromium_and_the_sync_server_agree_on_frames_of_every_length() -> None:
    if chromium_path() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: CI must run the browser test")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    sizes = [1, 300, 70_000]  # frame lengths under 126, under 65,536, and over
    from_page = updates(7, sizes)
    from_python = updates(8, sizes)

    async def scenario() -> tuple[str, Any]:
        report: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        page = PAGE % (json.dumps([list(m) for m in from_page]), len(from_python))

        def serve_page(conn: ServerConnection, request: Request) -> Response | None:
            url = urlsplit(request.path)
            if url.path == "/page":
                headers = Headers([("Content-Type", "text/html; charset=utf-8")])
                return Response(200, "OK", headers, page.encode())
            if url.path == "/report":
                if not report.done():
                    report.set_result({k: json.loads(v[0]) for k, v in parse_qs(url.query).items()})
                return Response(204, "No Content", Headers(), b"")
            return None

        server = await SyncServer.start("t-collab-browser", process_request=serve_page)
        python = await connect(server.room_url("frames"), proxy=None, max_size=None)
        page_url = f"http://127.0.0.1:{server.port}/page"
        browser = await HeadlessChromium.start("t-collab-browser", page_url)
        try:
            doc: Doc[Any] = Doc(client_id=1)
            text = doc.get("text", type=Text)
            async with asyncio.timeout(20):
                while len(text) < sum(sizes):
                    message = yjs.parse(await python.recv())  # type: ignore[arg-type]
                    if message.kind == "update":
                        doc.apply_update(message.payload)
            for message in from_python:
                await python.send(message)
                await asyncio.sleep(0.2)  # alone in its read: relayed as sent, not merged
            got = await asyncio.wait_for(report, 20)
        finally:
            await browser.stop()
        await python.close()
        await server.stop()
        return str(text), got

    relayed, got = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert relayed == "x" * sum(sizes), "the browser's edits reach the other client whole"
    assert got == {"got": [checksum(m) for m in from_python]}, got
    asyncio.run(stop_all())
