"""Known good: deques with maxlen, one per live key, and a byte count per client.

- Live data: one ``deque(maxlen=1)`` per key and client, so a newer value pushes the
  older one out by itself; when the outbox is over its byte limit, the live value that
  waited longest goes.
- Events: a plain deque; cursors: a dict, newest per key.
- Arrival order across all three: a global counter stamped on every entry.
- Permissions: cached per user, refreshed when told; cursors throttled with a "next
  allowed" time per key.
"""

from collections import deque
from itertools import count
from typing import Any

Close = tuple[str, int]


class Client:
    def __init__(self, user: str) -> None:
        self.user = user
        self.events: deque[tuple[int, bytes]] = deque()
        self.live: dict[str, deque[tuple[int, bytes]]] = {}
        self.cursors: dict[str, tuple[int, bytes]] = {}
        self.bytes = 0

    def entries(self) -> list[tuple[int, str, str]]:
        out = [(n, "live", k) for k, d in self.live.items() for n, _ in d]
        out += [(n, "cursor", k) for k, (n, _) in self.cursors.items()]
        if self.events:
            out.append((self.events[0][0], "event", ""))
        return out


class Room:
    def __init__(self, store: Any, encode: Any, *, max_bytes: int = 65536,
                 cursor_interval: float = 0.05) -> None:
        self.store, self.encode = store, encode
        self.max_bytes, self.interval = max_bytes, cursor_interval
        self.clients: dict[str, Client] = {}
        self.may: dict[str, bool] = {}
        self.stamp = count()
        self.next_ok: dict[str, float] = {}
        self.waiting: dict[str, tuple[str, dict[str, Any]]] = {}

    def join(self, client: str, user: str, now: float) -> None:
        self.clients[client] = Client(user)
        if user not in self.may:
            self.may[user] = self.store.can_read(user)

    def leave(self, client: str, now: float) -> None:
        self.clients.pop(client, None)

    def permission_changed(self, user: str, now: float) -> None:
        self.may[user] = self.store.can_read(user)

    def publish(self, client: str, kind: str, key: str, body: dict[str, Any],
                now: float) -> list[Close]:
        if kind == "cursor":
            if now < self.next_ok.get(key, now):
                self.waiting[key] = (client, body)
                return []
            self.next_ok[key] = now + self.interval
            self.waiting.pop(key, None)  # older than this one: never send it after
        return self.send(client, kind, key, body)

    def tick(self, now: float) -> list[Close]:
        out: list[Close] = []
        for key, (client, body) in list(self.waiting.items()):
            if now >= self.next_ok[key]:
                del self.waiting[key]
                self.next_ok[key] = now + self.interval
                out += self.send(client, "cursor", key, body)
        return out

    def take(self, client: str) -> bytes | None:
        c = self.clients.get(client)
        if c is None or not (entries := c.entries()):
            return None
        _, kind, key = min(entries)
        if kind == "event":
            frame = c.events.popleft()[1]
        elif kind == "live":
            frame = c.live[key].popleft()[1]
            if not c.live[key]:
                del c.live[key]
        else:
            frame = c.cursors.pop(key)[1]
        c.bytes -= len(frame)
        return frame

    def send(self, sender: str, kind: str, key: str, body: dict[str, Any]) -> list[Close]:
        frame, stamp = self.encode({"kind": kind, "key": key, "body": body}), next(self.stamp)
        out: list[Close] = []
        for name, c in list(self.clients.items()):
            if name == sender or not self.may.get(c.user):
                continue
            if kind == "event":
                c.events.append((stamp, frame))
            elif kind == "live":
                slot = c.live.setdefault(key, deque(maxlen=1))
                if slot:
                    c.bytes -= len(slot[0][1])
                slot.append((stamp, frame))
            else:
                if key in c.cursors:
                    c.bytes -= len(c.cursors[key][1])
                c.cursors[key] = (stamp, frame)
            c.bytes += len(frame)
            while c.bytes > self.max_bytes and c.live:
                oldest = min(c.live, key=lambda k: c.live[k][0][0])
                c.bytes -= len(c.live.pop(oldest)[0][1])
            if c.bytes > self.max_bytes:
                del self.clients[name]
                out.append((name, 4002))
        return out
