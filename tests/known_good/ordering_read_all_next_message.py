"""Known good, written differently: gap detection by the next message, a sorted list.

The room reads the whole log and filters it itself, and remembers recent ids in
a dict. The client de-duplicates by message id (a bounded set) as well as by
seq, keeps its pending messages in a sorted list, and asks for a resend as soon
as a message arrives beyond a gap (at most every 0.2 s).
"""

from __future__ import annotations

import bisect
from typing import Any

Message = dict[str, Any]


class Room:
    def __init__(self, name: str, history: Any, *, backfill: int = 20) -> None:
        self.name, self.history, self.backfill = name, history, backfill
        self.seq = 0
        self.members: list[str] = []
        self.recent: dict[str, int] = {}

    def publish(self, sender: str, msg_id: str, body: str) -> list[tuple[str, Message]]:
        if msg_id in self.recent:
            return []
        self.seq += 1
        self.recent[msg_id] = self.seq
        if len(self.recent) > 2000:
            for old in [k for k, v in self.recent.items() if v <= self.seq - 1000]:
                del self.recent[old]
        message = dict(type="msg", room=self.name, seq=self.seq, id=msg_id, sender=sender,
                       body=body)
        self.history.append(message)
        return [(m, message) for m in self.members]

    async def join(self, member: str, since: int | None) -> list[Message]:
        if since is not None and (type(since) is not int or since < 0 or since > self.seq):
            raise ValueError("since out of range")
        if member not in self.members:
            self.members.append(member)
        wanted_after = since if since is not None else max(0, self.seq - self.backfill)
        everything = await self.history.read(0)
        kept = [m for m in everything if m["seq"] > wanted_after]
        oldest = everything[0]["seq"] if everything else wanted_after + 1
        if oldest > wanted_after + 1:
            return [dict(type="resync", room=self.name, after=oldest - 1), *kept]
        return [dict(type="joined", room=self.name, after=wanted_after), *kept]

    def leave(self, member: str) -> None:
        if member in self.members:
            self.members.remove(member)


class Client:
    def __init__(self, room: str, *, max_pending: int = 32) -> None:
        self.room, self.max_pending = room, max_pending
        self.last: int | None = None
        self.seqs: list[int] = []  # sorted pending seqs
        self.by_seq: dict[int, Message] = {}
        self.ids: dict[str, int] = {}  # shown ids -> seq, pruned
        self.ask = False
        self.top = 0  # highest seq ever received
        self.asked = -10.0

    def connected(self, now: float) -> list[Message]:
        self.asked = now
        return [{"type": "join", "room": self.room, "since": self.last}]

    def receive(self, message: Message, now: float) -> list[Message]:
        kind = message["type"]
        if kind == "joined" or kind == "resync":
            self.last = message["after"] if self.last is None else max(self.last,
                                                                      message["after"])
            while self.seqs and self.seqs[0] <= self.last:
                del self.by_seq[self.seqs.pop(0)]
        elif kind == "msg":
            seq = message["seq"]
            if message["id"] in self.ids or seq in self.by_seq:
                return []
            if self.last is not None and seq <= self.last:
                return []
            self.top = max(self.top, seq)
            bisect.insort(self.seqs, seq)
            self.by_seq[seq] = message
            while len(self.seqs) > self.max_pending:
                del self.by_seq[self.seqs.pop()]
        shown = []
        while self.last is not None and self.seqs and self.seqs[0] == self.last + 1:
            seq = self.seqs.pop(0)
            shown.append(self.by_seq.pop(seq))
            self.last = seq
            self.ids[shown[-1]["id"]] = seq
        if len(self.ids) > 4 * self.max_pending and self.last is not None:
            self.ids = {k: v for k, v in self.ids.items() if v > self.last - self.max_pending}
        # a gap revealed by this message (or one we made room by forgetting)
        self.ask = self.last is not None and self.top > self.last
        return shown

    def requests(self, now: float) -> list[Message]:
        if not self.ask or now - self.asked < 0.2:
            return []
        self.asked, self.ask = now, False
        return [{"type": "join", "room": self.room, "since": self.last}]

    def pending(self) -> int:
        return len(self.seqs)
