"""Reference solution: the capstone glue. See exercises/capstone.py for the task.

Theory of operation. Every chat message and every edit goes into the backplane's log
(one order for everyone, on every server); each server hears of new entries and fans
them out to its own clients through the backpressure ``Room`` (bounded outboxes,
throttled cursors). A client's ordering ``Client`` shows each entry once, in order,
and asks again for gaps; on reconnect it resumes with ``since=``, and its posts not
yet seen in the log are sent again (the log ignores an id it already has). Liveness
is the ``Heartbeat`` on both ends; who is online is the one shared ``PresenceTracker``.
"""

from __future__ import annotations

import json
import random
from typing import Any

from rtlab.topics.capstone.interface import use

backoff_part = use("reconnection", "reference")
heartbeat_part = use("heartbeat", "reference")
presence_part = use("presence", "reference")
ordering_part = use("ordering", "reference")
backpressure_part = use("backpressure", "reference")

ROOM = "board"
BACKFILL = 20  # chat and edits a first visit gets along with the document
HEARTBEAT = (1.0, 1.0)  # interval, timeout: a dead link is noticed within 2 s
GRACE, TTL = 3.0, 4.0  # presence: a reconnect within 3 s is silent; silence expires at 4 s
OUTBOX_BYTES = 8 * 1024  # per client; a client that falls further behind resyncs
RESYNC = 4000


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def decode(frame: str | bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    return message if isinstance(message, dict) else None


class _Everyone:
    """The backpressure room's store: everyone in the board may read it."""

    def can_read(self, user: str) -> bool:
        return True

    def readers(self) -> list[str]:
        return []


def make_presence() -> Any:
    return presence_part.PresenceTracker(grace=GRACE, ttl=TTL)


class AppServer:
    def __init__(self, name: str, backplane: Any, now: float) -> None:
        self.name = name
        self.backplane = backplane
        self.room = backpressure_part.Room(_Everyone(), encode, max_bytes=OUTBOX_BYTES,
                                           cursor_interval=0.1)
        self.users: dict[str, str] = {}  # conn -> user
        self.beats: dict[str, Any] = {}  # conn -> Heartbeat
        self.fanned = backplane.latest()  # the last seq handed to the room

    def opened(self, conn: str, user: str, now: float) -> list[tuple[Any, ...]]:
        self.users[conn] = user
        self.beats[conn] = heartbeat_part.Heartbeat(*HEARTBEAT, side="server", now=now)
        self._announce(self.backplane.presence.connect(user, conn, now))
        return []

    def received(self, conn: str, frame: str | bytes, now: float) -> list[tuple[Any, ...]]:
        user = self.users.get(conn)
        if user is None:
            return []
        out = [("send", conn, f) for kind, f in self.beats[conn].on_received(frame, now)
               if kind == "send"]
        self._announce(self.backplane.presence.heartbeat(user, conn, now))
        message = decode(frame) if frame not in ("ping", "pong") else None
        if message is None:
            return out
        kind = message.get("type")
        if kind == "join":
            out += self._join(conn, user, message.get("since"), now)
        elif kind == "post":
            self.backplane.append({"id": message["id"], "kind": message["kind"],
                                   "user": user, "body": message["body"]})
        elif kind == "cursor":
            self.backplane.publish({"type": "cursor", "user": user, "x": message["x"],
                                    "y": message["y"]})
        return out

    def _join(self, conn: str, user: str, since: Any, now: float) -> list[tuple[Any, ...]]:
        latest = self.backplane.latest()
        replies: list[dict[str, Any]] = []
        if isinstance(since, int) and 0 <= since <= latest:
            after = since
        else:  # a first visit: the whole document, then the recent history
            after = max(0, latest - BACKFILL)
            replies.append({"type": "document", "edits": self.backplane.document()})
        replies.append({"type": "joined", "room": ROOM, "after": after})
        replies += [{"type": "msg", **m} for m in self.backplane.read(after)]
        replies.append({"type": "online", "users": sorted(self.backplane.presence.online())})
        if conn not in self.room.outboxes:
            self.room.join(conn, user, now)  # live entries flow from now on
        return [("send", conn, encode(r)) for r in replies]

    def closed(self, conn: str, now: float) -> list[tuple[Any, ...]]:
        user = self.users.pop(conn, None)
        self.beats.pop(conn, None)
        self.room.leave(conn, now)
        if user is not None:
            self._announce(self.backplane.presence.disconnect(user, conn, now))
        return []

    def published(self, message: dict[str, Any], now: float) -> list[tuple[Any, ...]]:
        if "seq" in message:
            return self._catch_up(now)
        if message.get("type") == "cursor":
            return self._closes(self.room.publish("@backplane", "cursor", message["user"],
                                                  message, now))
        return self._closes(self.room.publish("@backplane", "event", "", message, now))

    def reconnected(self, now: float) -> list[tuple[Any, ...]]:
        return self._catch_up(now)  # announcements lost meanwhile: the log has them

    def tick(self, now: float) -> list[tuple[Any, ...]]:
        out = self._catch_up(now) + self._closes(self.room.tick(now))
        for conn, beat in list(self.beats.items()):
            for kind, what in beat.poll(now):
                if kind == "send":
                    beat.on_sent(now)
                    out.append(("send", conn, what))
                elif kind == "close":
                    out.append(("close", conn, 1011))
        return out

    def take(self, conn: str) -> str | bytes | None:
        frame: bytes | None = self.room.take(conn)
        return frame

    def _catch_up(self, now: float) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for message in self.backplane.read(self.fanned):
            self.fanned = message["seq"]
            out += self._closes(self.room.publish("@backplane", "event", "",
                                                  {"type": "msg", **message}, now))
        return out

    def _announce(self, events: list[tuple[str, str]]) -> None:
        for event, user in events:
            self.backplane.publish({"type": "presence", "event": event, "user": user})

    def _closes(self, closes: list[tuple[str, int]]) -> list[tuple[Any, ...]]:
        return [("close", conn, code) for conn, code in closes]


class AppClient:
    def __init__(self, user: str, room: str, rng: random.Random, now: float) -> None:
        self.user, self.room = user, room
        self.backoff = backoff_part.Backoff(base=0.5, cap=4.0, rng=rng)
        self.order = ordering_part.Client(room)
        self.beat: Any = None  # a Heartbeat while connected
        self.edits: set[str] = set()
        self.unsent: dict[str, dict[str, Any]] = {}  # id -> post, until seen in the log
        self.online: set[str] = set()

    def connected(self, now: float) -> list[tuple[Any, ...]]:
        self.backoff.reset()
        self.beat = heartbeat_part.Heartbeat(*HEARTBEAT, side="client", now=now)
        frames = [encode(m) for m in self.order.connected(now)]
        frames += [encode(p) for p in self.unsent.values()]  # the log ignores repeats
        return self._send(frames, now)

    def received(self, frame: str | bytes, now: float) -> list[tuple[Any, ...]]:
        if self.beat is None:
            return []
        out = [("send", f) for kind, f in self.beat.on_received(frame, now) if kind == "send"]
        message = decode(frame) if frame not in ("ping", "pong") else None
        if message is None:
            return out
        if "type" not in message and isinstance(message.get("body"), dict):
            message = message["body"]  # an envelope from the room's outbox
        kind = message.get("type")
        if kind == "document":
            self.edits.update(message["edits"])
        elif kind == "online":
            self.online = set(message["users"])
        elif kind == "presence":
            (self.online.add if message["event"] == "join" else self.online.discard)(
                message["user"])
        elif kind in ("msg", "joined", "resync"):
            for shown in self.order.receive(message, now):
                self.unsent.pop(shown["id"], None)
                if shown["kind"] == "edit":
                    self.edits.add(shown["id"])
                else:
                    out.append(("show", shown))
        return out

    def disconnected(self, now: float) -> float:
        self.beat = None
        delay: float = self.backoff.next_delay()
        return delay

    def poll(self, now: float) -> list[tuple[Any, ...]]:
        if self.beat is None:
            return []
        out: list[tuple[Any, ...]] = []
        for kind, what in self.beat.poll(now):
            if kind == "close":
                return [("close", what)]
            out += self._send([what], now)
        return out + self._send([encode(m) for m in self.order.requests(now)], now)

    def post(self, kind: str, id: str, body: str, now: float) -> list[tuple[Any, ...]]:
        post = {"type": "post", "id": id, "kind": kind, "body": body}
        self.unsent[id] = post  # kept until it comes back in the log, offline or not
        if kind == "edit":
            self.edits.add(id)  # a local edit shows at once
        return self._send([encode(post)], now) if self.beat is not None else []

    def cursor(self, x: int, y: int, now: float) -> list[tuple[Any, ...]]:
        if self.beat is None:
            return []
        return self._send([encode({"type": "cursor", "x": x, "y": y})], now)

    def document(self) -> set[str]:
        return set(self.edits)

    def _send(self, frames: list[Any], now: float) -> list[tuple[Any, ...]]:
        if frames and self.beat is not None:
            self.beat.on_sent(now)
        return [("send", f) for f in frames]
