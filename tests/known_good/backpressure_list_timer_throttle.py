"""Known good: a plain list per client, a timer throttle and a lazily refilled cache.

- Each outbox is a list of [kind, key, frame] entries in arrival order. A new cursor
  overwrites the queued one for its key in place; over the limit, the first live
  entry in the list goes; events are never dropped.
- The permission cache is a dict filled on first use; permission_changed() forgets
  the user's entry, so the next broadcast asks again.
- Cursors: a "not before" deadline per key, and the newest held-back move.
"""

from typing import Any

Close = tuple[str, int]


class Room:
    def __init__(self, store: Any, encode: Any, *, max_bytes: int = 65536,
                 cursor_interval: float = 0.05) -> None:
        self.store, self.encode = store, encode
        self.max_bytes, self.interval = max_bytes, cursor_interval
        self.queues: dict[str, list[list[Any]]] = {}
        self.user_of: dict[str, str] = {}
        self.cache: dict[str, bool] = {}
        self.not_before: dict[str, float] = {}
        self.held: dict[str, tuple[str, dict[str, Any]]] = {}

    def join(self, client: str, user: str, now: float) -> None:
        self.queues[client], self.user_of[client] = [], user

    def leave(self, client: str, now: float) -> None:
        self.queues.pop(client, None)
        self.user_of.pop(client, None)

    def permission_changed(self, user: str, now: float) -> None:
        self.cache.pop(user, None)

    def may_read(self, user: str) -> bool:
        if user not in self.cache:
            self.cache[user] = self.store.can_read(user)
        return self.cache[user]

    def publish(self, client: str, kind: str, key: str, body: dict[str, Any],
                now: float) -> list[Close]:
        if kind == "cursor":
            if now < self.not_before.get(key, 0.0) - 1e-12:
                self.held[key] = (client, body)
                return []
            self.not_before[key] = now + self.interval
            self.held.pop(key, None)
        return self.broadcast(client, kind, key, body)

    def tick(self, now: float) -> list[Close]:
        closes: list[Close] = []
        for key in [k for k in self.held if now >= self.not_before[k] - 1e-12]:
            client, body = self.held.pop(key)
            self.not_before[key] = now + self.interval
            closes += self.broadcast(client, "cursor", key, body)
        return closes

    def take(self, client: str) -> bytes | None:
        queue = self.queues.get(client)
        return queue.pop(0)[2] if queue else None

    def broadcast(self, sender: str, kind: str, key: str, body: dict[str, Any]) -> list[Close]:
        frame = self.encode({"kind": kind, "key": key, "body": body})
        closes: list[Close] = []
        for client in list(self.queues):
            if client == sender or not self.may_read(self.user_of[client]):
                continue
            queue = self.queues[client]
            same = next((e for e in queue if kind == "cursor" and e[0] == "cursor"
                         and e[1] == key), None)
            if same is not None:
                same[2] = frame
            else:
                queue.append([kind, key, frame])
            while sum(len(e[2]) for e in queue) > self.max_bytes:
                first_live = next((i for i, e in enumerate(queue) if e[0] == "live"), None)
                if first_live is None:
                    del self.queues[client]
                    closes.append((client, 4409))
                    break
                del queue[first_live]
        return closes
