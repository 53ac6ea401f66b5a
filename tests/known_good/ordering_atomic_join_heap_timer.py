"""Known good, written differently: an atomic join on the server, a heap on the client.

The room does not subscribe a joiner directly: while its history read is in
flight, live messages for it are buffered in the room, and the join answers the
history plus the buffered messages it lacks, de-duplicated on the server. The
client keeps its pending messages in a heap and detects gaps by timer: it asks
for a resend only once a gap has been open for 0.15 s.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any

Message = dict[str, Any]


class Room:
    def __init__(self, name: str, history: Any, *, backfill: int = 20) -> None:
        self.name, self.history, self.backfill = name, history, backfill
        self.latest = 0
        self.live: set[str] = set()
        self.joining: list[list[Message]] = []  # live messages, one buffer per join in flight
        self.leaves: dict[str, int] = {}  # member -> how many times it left
        self.ids: set[str] = set()
        self.id_order: deque[str] = deque()

    def publish(self, sender: str, msg_id: str, body: str) -> list[tuple[str, Message]]:
        if msg_id in self.ids:
            return []
        self.ids.add(msg_id)
        self.id_order.append(msg_id)
        if len(self.id_order) > 500:
            self.ids.discard(self.id_order.popleft())
        self.latest += 1
        message = {"type": "msg", "room": self.name, "seq": self.latest, "id": msg_id,
                   "sender": sender, "body": body}
        self.history.append(message)
        for buffered in self.joining:
            buffered.append(message)
        return [(member, message) for member in sorted(self.live)]

    async def join(self, member: str, since: int | None) -> list[Message]:
        if since is not None and (not isinstance(since, int) or isinstance(since, bool)
                                  or since < 0 or since > self.latest):
            raise ValueError(f"no such position: {since!r}")
        start = since if since is not None else max(0, self.latest - self.backfill)
        if member in self.live:  # a resend: already subscribed
            kept = await self.history.read(start)
            return self._answer(start, kept)
        left = self.leaves.get(member, 0)
        buffered: list[Message] = []
        self.joining.append(buffered)
        try:
            kept = await self.history.read(start)
        finally:
            self.joining = [b for b in self.joining if b is not buffered]
        have = {m["seq"] for m in kept}
        kept += [m for m in buffered if m["seq"] not in have]
        if self.leaves.get(member, 0) == left:  # still connected: live from now on
            self.live.add(member)
        return self._answer(start, kept)

    def _answer(self, start: int, kept: list[Message]) -> list[Message]:
        if kept and kept[0]["seq"] > start + 1:
            return [{"type": "resync", "room": self.name, "after": kept[0]["seq"] - 1}, *kept]
        return [{"type": "joined", "room": self.name, "after": start}, *kept]

    def leave(self, member: str) -> None:
        self.live.discard(member)
        self.leaves[member] = self.leaves.get(member, 0) + 1


class Client:
    GAP_WAIT = 0.15

    def __init__(self, room: str, *, max_pending: int = 32) -> None:
        self.room, self.max_pending = room, max_pending
        self.shown_up_to: int | None = None
        self.heap: list[tuple[int, str, Message]] = []
        self.in_heap: set[int] = set()
        self.gap_since: float | None = None
        self.top = 0  # highest seq ever received
        self.last_ask = -1.0

    def connected(self, now: float) -> list[Message]:
        self.last_ask = now
        return [{"type": "join", "room": self.room, "since": self.shown_up_to}]

    def receive(self, message: Message, now: float) -> list[Message]:
        if message["type"] in ("joined", "resync"):
            if self.shown_up_to is None or message["after"] > self.shown_up_to:
                self.shown_up_to = message["after"]
        elif message["type"] == "msg":
            seq = message["seq"]
            old = self.shown_up_to is not None and seq <= self.shown_up_to
            self.top = max(self.top, seq)
            if not old and seq not in self.in_heap:
                heapq.heappush(self.heap, (seq, message["id"], message))
                self.in_heap.add(seq)
                if len(self.heap) > self.max_pending:  # drop the largest
                    largest = max(self.heap)
                    self.heap.remove(largest)
                    heapq.heapify(self.heap)
                    self.in_heap.discard(largest[0])
        out: list[Message] = []
        if self.shown_up_to is not None:
            while self.heap and self.heap[0][0] <= self.shown_up_to + 1:
                seq, _, m = heapq.heappop(self.heap)
                self.in_heap.discard(seq)
                if seq == self.shown_up_to + 1:
                    out.append(m)
                    self.shown_up_to = seq
        behind = self.shown_up_to is not None and self.top > self.shown_up_to
        self.gap_since = (self.gap_since or now) if behind else None
        return out

    def requests(self, now: float) -> list[Message]:
        if self.gap_since is None or self.shown_up_to is None:
            return []
        if now - self.gap_since < self.GAP_WAIT or now - self.last_ask < 0.3:
            return []
        self.last_ask = now
        return [{"type": "join", "room": self.room, "since": self.shown_up_to}]

    def pending(self) -> int:
        return len(self.heap)
