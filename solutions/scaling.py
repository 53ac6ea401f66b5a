"""Reference solution: a relay that uses pub/sub as a doorbell and the stream as the truth.

Every message goes into the room's Redis Stream (``Publish``); the pub/sub announcement
only says "something new in this room". Whatever rings the bell (an announcement, a
client joining, the backplane coming back after a restart), the relay reads the stream
from where its clients are and delivers what each has not had yet. Each local client
has its own cursor (the id of the last entry it was given), so:

- nothing is delivered twice, not even your own message coming back from Redis;
- a client that lands here from another server, carrying ``last_seen``, gets exactly
  what it missed, from the shared stream, not from this server's memory;
- announcements lost while pub/sub was down are caught up by the next read.

Presence is a key per client with a TTL, refreshed on ``tick``: a server that dies
takes its clients off the list within ``PRESENCE_TTL`` seconds.
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

PRESENCE_TTL = 5.0  # seconds a presence key lives without a refresh
REFRESH_EVERY = 1.5  # refresh well inside the TTL, so a slow tick never lets it lapse


def encode(client: str, text: str) -> str:
    return json.dumps({"from": client, "text": text})


def decode(data: str) -> tuple[str, str] | None:
    """(client, text) of a stream entry, or None for anything this relay did not write."""
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    sender, text = body.get("from"), body.get("text")
    if not isinstance(sender, str) or not isinstance(text, str):
        return None
    return sender, text


def valid_id(entry_id: str | None) -> str | None:
    if entry_id is None:
        return None
    try:
        stream_id_order(entry_id)
    except ValueError:
        return None
    return entry_id


class Relay:
    def __init__(self, server: str) -> None:
        self.server = server
        # room -> client -> id of the last entry delivered (None: start where the stream is)
        self.cursors: dict[str, dict[str, str | None]] = {}
        self.reading: set[str] = set()  # a Read is in flight for these rooms
        self.again: set[str] = set()  # ... and the bell rang meanwhile: read once more
        self.refreshed_at = 0.0

    def join(self, client: str, room: str, last_seen: str | None, now: float) -> list[Command]:
        self.cursors.setdefault(room, {})[client] = valid_id(last_seen)
        return [Present(room, client, PRESENCE_TTL), *self._read(room)]

    def leave(self, client: str, room: str, now: float) -> list[Command]:
        members = self.cursors.get(room, {})
        members.pop(client, None)
        if not members:
            self.cursors.pop(room, None)
        return [Absent(room, client)]

    def send(self, client: str, room: str, text: str, now: float) -> list[Command]:
        if client not in self.cursors.get(room, {}):
            return []
        # Not delivered here yet: it comes back through the stream like everyone else's.
        return [Publish(room, encode(client, text))]

    def published(self, room: str, id: str, data: str, now: float) -> list[Command]:
        return self._read(room) if room in self.cursors else []

    def read(self, result: ReadResult, now: float) -> list[Command]:
        room = result.room
        self.reading.discard(room)
        members = self.cursors.get(room)
        if not members:
            self.again.discard(room)
            return []
        after = None if result.after == "$" else stream_id_order(result.after)
        out: list[Command] = []
        for client, cursor in members.items():
            if cursor is None:
                members[client] = result.tail  # a newcomer: from here on
                continue
            if after is None or stream_id_order(cursor) < after:
                continue  # joined after this read left: the next read covers it
            for entry_id, data in result.entries:
                if stream_id_order(entry_id) <= stream_id_order(cursor):
                    continue
                message = decode(data)
                if message is not None:
                    out.append(Deliver(client, room, entry_id, message[1]))
                cursor = entry_id
            members[client] = cursor
        if room in self.again:
            self.again.discard(room)
            out += self._read(room)
        return out

    def reconnected(self, now: float) -> list[Command]:
        # Announcements published while we were away are gone: read every room.
        return [command for room in list(self.cursors) for command in self._read(room)]

    def tick(self, now: float) -> list[Command]:
        if now - self.refreshed_at < REFRESH_EVERY:
            return []
        self.refreshed_at = now
        return [Present(room, client, PRESENCE_TTL)
                for room, members in self.cursors.items() for client in members]

    def _read(self, room: str) -> list[Command]:
        if room in self.reading:
            self.again.add(room)
            return []
        self.reading.add(room)
        known = [c for c in self.cursors[room].values() if c is not None]
        return [Read(room, min(known, key=stream_id_order) if known else "$")]
