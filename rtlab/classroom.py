"""``python -m rtlab classroom``: one shared live room for a workshop.

The instructor runs it; every learner's notebook joins with the course's own
Yjs client, so the whole class sees one roster (awareness: presence) and edits
one document::

    me = await SyncClient.start("ws://HOST:PORT/class?token=TOKEN", name="me",
                                user={"name": "Ada"})

It is the collaboration module's sync server (:class:`SyncServer`, bounded
fan-out, awareness removed at once when someone leaves, the document saved in
``.rtlab/classroom/``) behind a small front door:

* The sync server listens on loopback only, like every server of the course.
  The front door listens where the instructor says: loopback by default (this
  machine only), or a LAN address on request (``--host``).
* On a LAN address the front door requires a join token, made up and printed
  at start (or given with ``--token``). A connection without it is closed with
  **4001**, with a wrong one with **4003** (application codes 4000-4999; the
  reason says what to do) before any byte reaches the room.
* Accepted connections are relayed message by message to the room; a close
  on either side closes the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from rtlab import course
from rtlab.live.standalone import run_standalone
from rtlab.topics.collaboration import SyncClient, SyncServer

__all__ = ["CLOSE_TOKEN_MISSING", "CLOSE_TOKEN_WRONG", "Classroom", "main_classroom",
           "needs_token"]

CLOSE_TOKEN_MISSING = 4001
CLOSE_TOKEN_WRONG = 4003
# Codes that cannot be sent in a close frame (RFC 6455 7.4.1): relayed as "going away".
UNSENDABLE = {None, 1005, 1006, 1015}


def needs_token(host: str) -> bool:
    """A room reachable from other machines needs a join token."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may well resolve to a LAN address
        return True


class Classroom:
    """The shared room: sync server on loopback, front door on ``host``, instructor's view."""

    def __init__(self, sync: SyncServer, room: str, token: str | None) -> None:
        self.sync, self.room, self.token = sync, room, token
        self.front: Server | None = None
        self.instructor: SyncClient | None = None
        self.host = "127.0.0.1"
        self.refused: list[tuple[int, str]] = []  # (close code, reason) sent at the door

    @classmethod
    async def open(
        cls, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None,
        room: str = "class", store: str | Path | None = None,
    ) -> Classroom:
        """Start the room; ``token`` is required when ``host`` is not loopback."""
        if needs_token(host) and not token:
            raise ValueError(f"{host} is reachable from other machines: give a join token")
        sync = await SyncServer.start("classroom", store=store)
        classroom = cls(sync, room, token)
        try:
            # Learners' frames: websockets' 1 MiB limit, as the sync server has (1009 above).
            classroom.front = await serve(classroom._door, host, port, compression=None)
            classroom.host = host
            classroom.instructor = await SyncClient.start(
                sync.room_url(room), name="classroom-instructor",
                user={"name": "instructor", "role": "instructor"},
            )
        except BaseException:
            await classroom.stop()
            raise
        return classroom

    @property
    def port(self) -> int:
        assert self.front is not None
        port: int = self.front.sockets[0].getsockname()[1]
        return port

    def join_url(self, host: str | None = None) -> str:
        """What a learner passes to ``SyncClient.start``."""
        query = f"?token={self.token}" if self.token else ""
        return f"ws://{host or self.host}:{self.port}/{self.room}{query}"

    def roster(self) -> list[str]:
        """The names of everyone in the room (the instructor excluded), as awareness shows them."""
        if self.instructor is None:
            return []
        return sorted(str(state.get("name", "?")) for state in self.instructor.peers.values())

    async def stop(self) -> None:
        if self.front is not None:
            self.front.close()
            await self.front.wait_closed()
            self.front = None
        if self.instructor is not None:
            await self.instructor.stop()
            self.instructor = None
        await self.sync.stop()

    # -- the front door ---------------------------------------------------------------
    async def _door(self, conn: ServerConnection) -> None:
        target = urlsplit(conn.request.path if conn.request else "/")
        refusal = self._refusal(parse_qs(target.query).get("token", [None])[0])
        if refusal is not None:
            self.refused.append(refusal)
            await conn.close(*refusal)
            return
        room = unquote(target.path.lstrip("/")) or self.room
        # From the room, no limit: a first sync may carry the whole document.
        async with connect(self.sync.room_url(room), proxy=None, compression=None,
                           max_size=None) as upstream:
            await relay(conn, upstream)

    def _refusal(self, given: str | None) -> tuple[int, str] | None:
        if self.token is None:
            return None
        if given is None:
            return CLOSE_TOKEN_MISSING, "this room needs a join token: add ?token=... to the URL"
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return CLOSE_TOKEN_WRONG, "wrong join token: copy it again from the instructor"
        return None


async def relay(learner: ServerConnection, room: ClientConnection) -> None:
    """Pass messages both ways until one side closes; then close the other alike."""

    async def pump(source: Any, sink: Any) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in source:
                await sink.send(message)

    loop = asyncio.get_running_loop()
    tasks = {loop.create_task(pump(learner, room)), loop.create_task(pump(room, learner))}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if room.close_code is not None and learner.close_code is None:
        code = 1001 if room.close_code in UNSENDABLE else room.close_code
        await learner.close(code, room.close_reason or "the room closed")


# -- the command --------------------------------------------------------------------------


def instructions(classroom: Classroom, lan: bool) -> str:
    shown = "THIS-MACHINE'S-ADDRESS" if classroom.host in {"0.0.0.0", "::"} else None
    url = classroom.join_url(shown)
    where = ("reachable from other machines on this network" if lan
             else "loopback: this machine only (--host ADDRESS to open it to the class)")
    lines = [
        f"Classroom room {classroom.room!r} open on port {classroom.port} ({where}).",
    ]
    if classroom.token:
        lines.append(f"Join token: {classroom.token}  (a wrong one is refused with close "
                     f"code {CLOSE_TOKEN_WRONG}, a missing one with {CLOSE_TOKEN_MISSING})")
    if shown:
        lines.append("Replace THIS-MACHINE'S-ADDRESS with this machine's LAN address "
                     "(`hostname -I` on Linux, `ipconfig getifaddr en0` on macOS).")
    lines += [
        "Learners join from a notebook cell:",
        "",
        "    from pycrdt import Text",
        "    from rtlab.topics.collaboration import SyncClient",
        f'    me = await SyncClient.start("{url}", name="me", user={{"name": "YOUR NAME"}})',
        '    text = me.doc.get("text", type=Text)   # the class\'s shared document',
        "    me.peers                               # the roster: who else is here",
        "",
        f"join: {url}",
        "Ctrl-C closes the room; the document stays in .rtlab/classroom/.",
    ]
    return "\n".join(lines)


async def run(host: str, port: int, token: str | None, room: str,
              say: Callable[[str], None]) -> None:
    store = course.root() / ".rtlab" / "classroom"
    classroom = await Classroom.open(host, port, token=token, room=room, store=store)
    say(instructions(classroom, needs_token(host)))
    shown: list[str] = []
    try:
        while True:  # the roster, as the instructor's own client sees it
            await asyncio.sleep(0.5)
            now = classroom.roster()
            for name in sorted(set(now) - set(shown)):
                say(f"+ {name} joined ({len(now)} in the room)")
            for name in sorted(set(shown) - set(now)):
                say(f"- {name} left ({len(now)} in the room)")
            for code, reason in classroom.refused:
                say(f"! refused a connection at the door ({code}: {reason})")
            classroom.refused.clear()
            shown = now
    finally:
        await classroom.stop()


def main_classroom(host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
                   room: str = "class") -> int:
    if needs_token(host) and not token:
        token = secrets.token_urlsafe(6)

    def say(text: str) -> None:
        print(text, flush=True)

    try:
        run_standalone(run(host, port, token, room, say))
    except KeyboardInterrupt:
        say("\nClassroom closed.")
    except OSError as error:
        print(f"rtlab classroom: cannot listen on {host}:{port}: {error}. "
              "Try another --port (0 picks a free one).", file=sys.stderr)
        return 1
    return 0
