"""Reference solution: a room with sequence numbers and backfill, a client that reorders.

See exercises/ordering.py for the task.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

Message = dict[str, Any]
Delivery = tuple[str, Message]

BACKFILL = 20
MAX_PENDING = 32
RECENT_IDS = 1000  # ids remembered to drop a sender's retries (bounded)
RESEND_AFTER = 0.25  # seconds before asking again for the same gap


class Room:
    """One room: numbers messages, fans them out, answers joins with backfill."""

    def __init__(self, name: str, history: Any, *, backfill: int = BACKFILL) -> None:
        self.name = name
        self.history = history
        self.backfill = backfill
        self.seq = 0  # the latest sequence number given out
        self.members: set[str] = set()
        self.recent: OrderedDict[str, int] = OrderedDict()  # msg id -> seq, newest last

    def publish(self, sender: str, msg_id: str, body: str) -> list[Delivery]:
        if msg_id in self.recent:
            return []  # a retry of a message we already numbered
        self.seq += 1
        message = {"type": "msg", "room": self.name, "seq": self.seq, "id": msg_id,
                   "sender": sender, "body": body}
        self.history.append(message)
        self.recent[msg_id] = self.seq
        if len(self.recent) > RECENT_IDS:
            self.recent.popitem(last=False)
        return [(member, message) for member in self.members]

    async def join(self, member: str, since: int | None) -> list[Message]:
        if since is not None and (type(since) is not int or not 0 <= since <= self.seq):
            raise ValueError(f"since={since!r} is not a sequence number of room "
                             f"{self.name!r} (latest {self.seq})")
        after = max(0, self.seq - self.backfill) if since is None else since
        self.members.add(member)  # 1. subscribe: live messages flow from now on
        kept = await self.history.read(after)  # 2. then load the history
        if kept and kept[0]["seq"] > after + 1:  # the log no longer reaches `after`
            return [{"type": "resync", "room": self.name, "after": kept[0]["seq"] - 1}, *kept]
        return [{"type": "joined", "room": self.name, "after": after}, *kept]

    def leave(self, member: str) -> None:
        self.members.discard(member)


class Client:
    """One member: drops duplicates, holds gaps, delivers in order, resumes."""

    def __init__(self, room: str, *, max_pending: int = MAX_PENDING) -> None:
        self.room = room
        self.max_pending = max_pending
        self.next: int | None = None  # the next sequence number to show; None before a join
        self.held: dict[int, Message] = {}  # seq -> message, all > next
        self.highest = 0  # the highest seq received: beyond `next`, something is missing
        self.asked_at: float | None = None  # when we last asked for the gap

    def connected(self, now: float) -> list[Message]:
        self.asked_at = now
        since = None if self.next is None else self.next - 1
        return [{"type": "join", "room": self.room, "since": since}]

    def receive(self, message: Message, now: float) -> list[Message]:
        kind = message.get("type")
        if kind in ("joined", "resync"):
            start = message["after"] + 1
            if self.next is None or start > self.next:
                self.next = start  # a resync skips what the log lost
            self.held = {s: m for s, m in self.held.items() if s >= self.next}
            self.asked_at = None
        elif kind == "msg":
            seq = message["seq"]
            if (self.next is not None and seq < self.next) or seq in self.held:
                return []  # a duplicate
            self.highest = max(self.highest, seq)
            self.held[seq] = message
            if len(self.held) > self.max_pending:  # keep the lowest; the rest comes again
                del self.held[max(self.held)]
        return self._ready()

    def _ready(self) -> list[Message]:
        shown: list[Message] = []
        if self.next is None:
            return shown
        while self.next in self.held:
            shown.append(self.held.pop(self.next))
            self.next += 1
        return shown

    def requests(self, now: float) -> list[Message]:
        if self.next is None or self.highest < self.next:
            return []  # no gap (held messages, or ones we let go, lie beyond next)
        if self.asked_at is not None and now - self.asked_at < RESEND_AFTER:
            return []
        self.asked_at = now
        return [{"type": "join", "room": self.room, "since": self.next - 1}]

    def pending(self) -> int:
        return len(self.held)
