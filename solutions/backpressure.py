"""Reference solution: a room that fans out once, bounds every outbox in bytes, and
throttles cursors without losing the last position. See exercises/backpressure.py."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

Close = tuple[str, int]
RESYNC = 4000  # "you fell behind: reconnect and fetch the state again"


class Outbox:
    """One client's frames, at most ``max_bytes`` of them, with a policy per kind."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.seq = 0  # arrival order across the three queues
        self.events: deque[tuple[int, bytes]] = deque()
        self.live: deque[tuple[int, bytes]] = deque()
        self.cursors: dict[str, tuple[int, bytes]] = {}

    def put(self, kind: str, key: str, frame: bytes) -> bool:
        """Queue ``frame``; False when the events alone no longer fit (disconnect)."""
        self.seq += 1
        if kind == "cursor":
            old = self.cursors.pop(key, None)
            if old is not None:
                self.size -= len(old[1])
            self.cursors[key] = (self.seq, frame)  # coalesce: only the latest counts
        elif kind == "event":
            self.events.append((self.seq, frame))
        else:
            self.live.append((self.seq, frame))
        self.size += len(frame)
        while self.size > self.max_bytes and self.live:  # drop the oldest live data
            self.size -= len(self.live.popleft()[1])
        return self.size <= self.max_bytes

    def get(self) -> bytes | None:
        if not self.live and not self.cursors:  # the common case: events only
            if not self.events:
                return None
            frame = self.events.popleft()[1]
            self.size -= len(frame)
            return frame
        heads = []
        if self.events:
            heads.append((self.events[0][0], self.events))
        if self.live:
            heads.append((self.live[0][0], self.live))
        oldest_cursor = min(self.cursors.items(), key=lambda item: item[1][0], default=None)
        if oldest_cursor is not None and (not heads or oldest_cursor[1][0] < min(heads)[0]):
            frame = self.cursors.pop(oldest_cursor[0])[1]
        elif heads:
            frame = min(heads, key=lambda h: h[0])[1].popleft()[1]
        else:
            return None
        self.size -= len(frame)
        return frame


class Room:
    """A room's fan-out: format once, ask the store once, bound each client, throttle cursors."""

    def __init__(self, store: Any, encode: Any, *, max_bytes: int = 64 * 1024,
                 cursor_interval: float = 0.05) -> None:
        self.store, self.encode = store, encode
        self.max_bytes, self.cursor_interval = max_bytes, cursor_interval
        self.outboxes: dict[str, Outbox] = {}
        self.user_of: dict[str, str] = {}
        self.allowed: dict[str, bool] = {}  # cached permissions, per user
        self.last_cursor: dict[str, float] = {}  # key -> when its last position went out
        self.pending: dict[str, tuple[str, dict[str, Any]]] = {}  # key -> newest unsent move

    def join(self, client: str, user: str, now: float) -> None:
        self.outboxes[client] = Outbox(self.max_bytes)
        self.user_of[client] = user
        if user not in self.allowed:
            self.allowed[user] = self.store.can_read(user)

    def leave(self, client: str, now: float) -> None:
        self.outboxes.pop(client, None)
        self.user_of.pop(client, None)

    def permission_changed(self, user: str, now: float) -> None:
        self.allowed[user] = self.store.can_read(user)

    def publish(self, client: str, kind: str, key: str, body: dict[str, Any],
                now: float) -> list[Close]:
        if kind == "cursor":
            if now - self.last_cursor.get(key, -math.inf) < self.cursor_interval:
                self.pending[key] = (client, body)  # keep the newest; tick() sends it
                return []
            self.pending.pop(key, None)
            self.last_cursor[key] = now
        return self._fan_out(client, kind, key, body)

    def tick(self, now: float) -> list[Close]:
        closes: list[Close] = []
        for key, (client, body) in list(self.pending.items()):
            if now - self.last_cursor[key] >= self.cursor_interval:
                del self.pending[key]
                self.last_cursor[key] = now
                closes += self._fan_out(client, "cursor", key, body)
        return closes

    def take(self, client: str) -> bytes | None:
        box = self.outboxes.get(client)
        return box.get() if box is not None else None

    def _fan_out(self, sender: str, kind: str, key: str, body: dict[str, Any]) -> list[Close]:
        frame = self.encode({"kind": kind, "key": key, "body": body})  # once, for everyone
        closes = []
        for client, box in list(self.outboxes.items()):
            if client == sender or not self.allowed.get(self.user_of[client], False):
                continue
            if not box.put(kind, key, frame):
                del self.outboxes[client]  # drop its backlog now; it will resync
                closes.append((client, RESYNC))
        return closes
