"""Known good: one ordered dict per client, readers() once per broadcast, a token bucket.

- The outbox is an OrderedDict keyed by what a frame is about: live data and cursors
  share one slot per key (a newer value replaces the older and moves to the back),
  events get a unique key each. Over the limit, the oldest live value goes first
  (a cursor is a few bytes and its last position must arrive: it stays).
- No permission cache: store.readers() once per broadcast is O(1) queries too, and
  always current.
- Cursors: a token bucket per key (one token, refilled at one per interval).
"""

from collections import OrderedDict
from itertools import count
from typing import Any

Close = tuple[str, int]


class Room:
    def __init__(self, store: Any, encode: Any, *, max_bytes: int = 65536,
                 cursor_interval: float = 0.05) -> None:
        self.store, self.encode = store, encode
        self.max_bytes, self.interval = max_bytes, cursor_interval
        self.boxes: dict[str, OrderedDict[tuple[str, Any], tuple[str, bytes]]] = {}
        self.sizes: dict[str, int] = {}
        self.users: dict[str, str] = {}
        self.ids = count()
        self.tokens: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self.waiting: dict[str, tuple[str, dict[str, Any]]] = {}

    def join(self, client: str, user: str, now: float) -> None:
        self.boxes[client], self.sizes[client], self.users[client] = OrderedDict(), 0, user

    def leave(self, client: str, now: float) -> None:
        for table in (self.boxes, self.sizes, self.users):
            table.pop(client, None)

    def permission_changed(self, user: str, now: float) -> None:
        pass  # readers() is asked on every broadcast

    def _token(self, key: str, now: float) -> bool:
        tokens, at = self.tokens.get(key, (1.0, now))
        tokens = min(1.0, tokens + (now - at) / self.interval)
        if tokens >= 1.0 - 1e-9:
            self.tokens[key] = (tokens - 1.0, now)
            return True
        self.tokens[key] = (tokens, now)
        return False

    def publish(self, client: str, kind: str, key: str, body: dict[str, Any],
                now: float) -> list[Close]:
        if kind == "cursor":
            if not self._token(key, now):
                self.waiting[key] = (client, body)
                return []
            self.waiting.pop(key, None)
        return self._send(client, kind, key, body)

    def tick(self, now: float) -> list[Close]:
        out: list[Close] = []
        for key in list(self.waiting):
            if self._token(key, now):
                client, body = self.waiting.pop(key)
                out += self._send(client, "cursor", key, body)
        return out

    def take(self, client: str) -> bytes | None:
        box = self.boxes.get(client)
        if not box:
            return None
        _, (_, frame) = box.popitem(last=False)
        self.sizes[client] -= len(frame)
        return frame

    def _send(self, sender: str, kind: str, key: str, body: dict[str, Any]) -> list[Close]:
        readers = self.store.readers()
        frame = self.encode({"kind": kind, "key": key, "body": body})
        slot = ("event", next(self.ids)) if kind == "event" else (kind, key)
        out: list[Close] = []
        for client, box in list(self.boxes.items()):
            if client == sender or self.users[client] not in readers:
                continue
            old = box.pop(slot, None)
            self.sizes[client] += len(frame) - (len(old[1]) if old else 0)
            box[slot] = (kind, frame)
            for other in [s for s, (k, _) in box.items() if k == "live"]:
                if self.sizes[client] <= self.max_bytes:
                    break
                self.sizes[client] -= len(box.pop(other)[1])
            if self.sizes[client] > self.max_bytes:
                self.leave(client, 0.0)
                out.append((client, 4001))
        return out
