"""A real browser's WebSocket against a live server: what it sends, can and cannot do.

Headless Chromium loads a page from the in-test server (which also sets an
HttpOnly session cookie); the page opens a WebSocket, uploads JSON metadata and
a 70,000-byte typed array, and reports what its script could see. The test
checks from both ends the facts the websocket-basics lesson teaches: the
browser sends Origin and the cookie (which its script cannot read) on the
handshake, offers permessage-deflate, has no ping method but answers the
server's pings, receives binary as ArrayBuffer once told to, may not close
with 1003, and sees the server's application close code.

Skipped without Chromium, except under ``CI=true``, where it must run.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from rtlab.live import running, stop_all
from rtlab.live.browser import chromium_path
from rtlab.topics.websocket_basics.live import browser_probe


def test_chromium_uploads_json_then_binary_and_shows_what_a_page_can_and_cannot_do():
    if chromium_path() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: CI must run the browser test")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    probe = asyncio.run(asyncio.wait_for(browser_probe(timeout=25), 30))
    port = probe.headers["Host"].rsplit(":", 1)[1]
    assert probe.headers["Origin"] == f"http://127.0.0.1:{port}", "browsers always send Origin"
    assert probe.headers["Cookie"] == "session=s3cr3t", "cookies ride along with the handshake"
    assert probe.page["cookieReadableByScript"] is False, "an HttpOnly cookie is not readable"
    assert probe.path == "/upload?token=short-lived", "a token can only go in the URL"
    assert "permessage-deflate" in probe.headers["Sec-WebSocket-Extensions"]
    assert "Authorization" not in probe.headers
    assert probe.uploads == [({"name": "from chromium 🎉"}, 70000, True)]
    assert probe.page["pingMethod"] == "undefined", "no ping API in the browser"
    assert probe.ping_rtt is not None and probe.ping_rtt < 5, "but it answers pings itself"
    assert probe.page["binaryTypeDefault"] == "blob"
    assert probe.page["received"] == {"isArrayBuffer": True, "bytes": 1000}
    assert probe.page["close1003"] == "InvalidAccessError", "pages may close with 1000 or 3000+"
    assert probe.closed == {"code": 4001, "reason": "token expired", "wasClean": True}
    asyncio.run(stop_all())
    assert not running()
