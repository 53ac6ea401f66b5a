"""Known good: streams alone, no pub/sub. Every tick, each room is read from the oldest
cursor of its local members; announcements and reconnects are ignored.

Slower (a message waits up to one tick) and busier (a read per room per tick), but it
loses nothing and repeats nothing: the stream is the only truth it trusts.
"""

from __future__ import annotations

import json

from rtlab.topics.scaling_out.interface import (
    Absent,
    Command,
    Deliver,
    Present,
    Publish,
    Read,
    ReadResult,
    stream_id_order,
)

TTL = 4.0


def parse(data: str) -> str | None:
    try:
        body = json.loads(data)
        return body["text"] if isinstance(body["text"], str) and isinstance(body["from"], str) \
            else None
    except (ValueError, TypeError, KeyError, RecursionError):
        return None


def known(entry_id: str | None) -> str | None:
    try:
        return entry_id if entry_id is not None and stream_id_order(entry_id) else None
    except ValueError:
        return None


class Relay:
    def __init__(self, server: str) -> None:
        self.server = server
        self.rooms: dict[str, dict[str, str | None]] = {}
        self.in_flight: set[str] = set()
        self.last_refresh = -TTL

    def join(self, client: str, room: str, last_seen: str | None, now: float) -> list[Command]:
        self.rooms.setdefault(room, {})[client] = known(last_seen)
        return [Present(room, client, TTL)]

    def leave(self, client: str, room: str, now: float) -> list[Command]:
        self.rooms.get(room, {}).pop(client, None)
        return [Absent(room, client)]

    def send(self, client: str, room: str, text: str, now: float) -> list[Command]:
        if client in self.rooms.get(room, {}):
            return [Publish(room, json.dumps({"from": client, "text": text}))]
        return []

    def published(self, room: str, id: str, data: str, now: float) -> list[Command]:
        return []

    def reconnected(self, now: float) -> list[Command]:
        return []

    def tick(self, now: float) -> list[Command]:
        out: list[Command] = []
        for room, cursors in self.rooms.items():
            if cursors and room not in self.in_flight:
                self.in_flight.add(room)
                ids = [c for c in cursors.values() if c is not None]
                out.append(Read(room, min(ids, key=stream_id_order) if ids else "$"))
        if now - self.last_refresh >= 1.0:
            self.last_refresh = now
            out += [Present(room, c, TTL) for room, cs in self.rooms.items() for c in cs]
        return out

    def read(self, result: ReadResult, now: float) -> list[Command]:
        self.in_flight.discard(result.room)
        cursors = self.rooms.get(result.room, {})
        out: list[Command] = []
        start = None if result.after == "$" else stream_id_order(result.after)
        for client in list(cursors):
            cursor = cursors[client]
            if cursor is None:
                cursors[client] = result.tail
            elif start is not None and stream_id_order(cursor) >= start:
                fresh = [(i, d) for i, d in result.entries
                         if stream_id_order(i) > stream_id_order(cursor)]
                for i, d in fresh:
                    text = parse(d)
                    if text is not None:
                        out.append(Deliver(client, result.room, i, text))
                if fresh:
                    cursors[client] = fresh[-1][0]
        return out
