"""Known good: glue written from scratch, differently. Servers ignore announcements and
read the log every tick (slower, never misses one); each connection has a plain byte-
bounded deque as its outbox (cursors dropped when full, a close 4000 when events do not
fit); the tab keeps its own next-seq counter and a dict of early arrivals; liveness is
"ping after 0.8 s of silence, dead after 2 s without a frame"; backoff is equal jitter."""

from __future__ import annotations

import json
import random
from collections import deque
from typing import Any

from rtlab.topics.capstone.interface import use

presence_part = use("presence", "reference")
LIMIT = 12_000


def make_presence() -> Any:
    return presence_part.PresenceTracker(grace=2.5, ttl=4.0)


def pack(message: dict[str, Any]) -> str:
    return json.dumps(message)


class Conn:
    def __init__(self, user: str, now: float) -> None:
        self.user = user
        self.queue: deque[str] = deque()
        self.size = 0
        self.heard = self.said = now
        self.joined = False


class AppServer:
    def __init__(self, name: str, backplane: Any, now: float) -> None:
        self.bp = backplane
        self.conns: dict[str, Conn] = {}
        self.cursor = backplane.latest()

    def opened(self, conn: str, user: str, now: float) -> list[tuple[Any, ...]]:
        self.conns[conn] = Conn(user, now)
        self._presence(self.bp.presence.connect(user, conn, now))
        return []

    def received(self, conn: str, frame: Any, now: float) -> list[tuple[Any, ...]]:
        c = self.conns.get(conn)
        if c is None:
            return []
        c.heard = now
        self._presence(self.bp.presence.heartbeat(c.user, conn, now))
        if frame == "ping":
            c.said = now
            return [("send", conn, "pong")]
        if frame == "pong":
            return []
        m = json.loads(frame)
        if m["type"] == "post":
            self.bp.append({"id": m["id"], "kind": m["kind"], "user": c.user, "body": m["body"]})
            return []
        if m["type"] == "cursor":
            self.bp.publish({"type": "cursor", "user": c.user, "x": m["x"], "y": m["y"]})
            return []
        since = m.get("since")
        head = self.bp.latest()
        out = []
        if not isinstance(since, int) or not 0 <= since <= head:
            out.append(pack({"type": "document", "edits": self.bp.document()}))
            since = max(0, head - 30)
        out.append(pack({"type": "joined", "after": since}))
        out += [pack({"type": "msg", **e}) for e in self.bp.read(since)]
        c.joined, c.said = True, now
        return [("send", conn, f) for f in out]

    def closed(self, conn: str, now: float) -> list[tuple[Any, ...]]:
        c = self.conns.pop(conn, None)
        if c is not None:
            self._presence(self.bp.presence.disconnect(c.user, conn, now))
        return []

    def published(self, message: dict[str, Any], now: float) -> list[tuple[Any, ...]]:
        if message.get("type") in ("presence", "cursor"):
            return self._push(pack(message), droppable=message["type"] == "cursor")
        return []  # log entries: read on the next tick

    def reconnected(self, now: float) -> list[tuple[Any, ...]]:
        return []

    def tick(self, now: float) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for entry in self.bp.read(self.cursor):
            self.cursor = entry["seq"]
            out += self._push(pack({"type": "msg", **entry}), droppable=False)
        for conn, c in list(self.conns.items()):
            if now - c.heard > 2.0:
                out.append(("close", conn, 1011))
            elif now - c.said >= 0.8:
                c.said = now
                out.append(("send", conn, "ping"))
        return out

    def take(self, conn: str) -> str | None:
        c = self.conns.get(conn)
        if c is None or not c.queue:
            return None
        frame = c.queue.popleft()
        c.size -= len(frame)
        c.said = max(c.said, c.heard)
        return frame

    def _push(self, frame: str, droppable: bool) -> list[tuple[Any, ...]]:
        closes = []
        for conn, c in self.conns.items():
            if not c.joined:
                continue
            if c.size + len(frame) > LIMIT:
                if not droppable:
                    c.queue.clear()
                    c.size, c.joined = 0, False
                    closes.append(("close", conn, 4000))
                continue
            c.queue.append(frame)
            c.size += len(frame)
        return closes

    def _presence(self, events: list[tuple[str, str]]) -> None:
        for event, user in events:
            self.bp.publish({"type": "presence", "event": event, "user": user})


class AppClient:
    def __init__(self, user: str, room: str, rng: random.Random, now: float) -> None:
        self.rng = rng
        self.tries = 0
        self.next: int | None = None
        self.early: dict[int, dict[str, Any]] = {}
        self.doc: set[str] = set()
        self.outbox: dict[str, str] = {}
        self.up = False
        self.heard = self.said = now

    def connected(self, now: float) -> list[tuple[Any, ...]]:
        self.up, self.tries, self.heard, self.said = True, 0, now, now
        since = None if self.next is None else self.next - 1
        return [("send", pack({"type": "join", "since": since}))] + [
            ("send", f) for f in self.outbox.values()]

    def received(self, frame: Any, now: float) -> list[tuple[Any, ...]]:
        self.heard = now
        if frame == "ping":
            self.said = now
            return [("send", "pong")]
        if frame == "pong":
            return []
        m = json.loads(frame)
        if m["type"] == "document":
            self.doc |= set(m["edits"])
        elif m["type"] == "joined":
            self.next = max(self.next or 0, m["after"] + 1)
            self.early = {s: e for s, e in self.early.items() if s >= self.next}
        elif m["type"] == "msg" and (self.next is None or m["seq"] >= self.next):
            self.early[m["seq"]] = m
        out: list[tuple[Any, ...]] = []
        while self.next is not None and self.next in self.early:
            e = self.early.pop(self.next)
            self.next += 1
            self.outbox.pop(e["id"], None)
            if e["kind"] == "edit":
                self.doc.add(e["id"])
            else:
                out.append(("show", e))
        return out

    def disconnected(self, now: float) -> float:
        self.up = False
        ceiling = min(3.0, 1.0 * 2**self.tries)
        self.tries += 1
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def poll(self, now: float) -> list[tuple[Any, ...]]:
        if now - self.heard > 2.0:
            return [("close", "silent for 2 s")]
        if now - self.said >= 0.8:
            self.said = now
            return [("send", "ping")]
        return []

    def post(self, kind: str, id: str, body: str, now: float) -> list[tuple[Any, ...]]:
        frame = self.outbox[id] = pack({"type": "post", "id": id, "kind": kind, "body": body})
        if kind == "edit":
            self.doc.add(id)
        if not self.up:
            return []
        self.said = now
        return [("send", frame)]

    def cursor(self, x: int, y: int, now: float) -> list[tuple[Any, ...]]:
        if not self.up:
            return []
        self.said = now
        return [("send", pack({"type": "cursor", "x": x, "y": y}))]

    def document(self) -> set[str]:
        return set(self.doc)
