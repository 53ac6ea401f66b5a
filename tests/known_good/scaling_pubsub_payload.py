"""Known good: the classic design. Deliver straight from the pub/sub announcement (it
carries the entry's id and data); read the stream only to catch up: a client that
comes back with last_seen, or every room after the subscription was lost.

While a client (or a room) catches up, announcements for it are held back and
delivered after the catch-up, so ids only ever move forward and nothing is skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

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


@dataclass
class Member:
    cursor: str | None  # last id delivered; None: not known yet (a newcomer)
    held: list[tuple[str, str]] | None = None  # announcements held during a catch-up
    again: bool = False  # pub/sub dropped during the catch-up: read once more after it

    def catching_up(self) -> bool:
        return self.held is not None


@dataclass
class Room:
    members: dict[str, Member] = field(default_factory=dict)


def text_of(data: str) -> str | None:
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return None
    ok = isinstance(body, dict) and isinstance(body.get("from"), str) \
        and isinstance(body.get("text"), str)
    return body["text"] if ok else None


def newer(a: str, b: str | None) -> bool:
    return b is None or stream_id_order(a) > stream_id_order(b)


class Relay:
    TTL = 6.0

    def __init__(self, server: str) -> None:
        self.server = server
        self.rooms: dict[str, Room] = {}
        self.next_refresh = 0.0

    def _give(self, room: str, client: str, member: Member,
              entries: list[tuple[str, str]]) -> list[Command]:
        out: list[Command] = []
        for entry_id, data in entries:
            if member.cursor is not None and not newer(entry_id, member.cursor):
                continue
            member.cursor = entry_id
            text = text_of(data)
            if text is not None:
                out.append(Deliver(client, room, entry_id, text))
        return out

    def join(self, client: str, room: str, last_seen: str | None, now: float) -> list[Command]:
        try:
            stream_id_order(last_seen or "")
        except ValueError:
            last_seen = None
        member = Member(last_seen)
        self.rooms.setdefault(room, Room()).members[client] = member
        member.held = []  # a newcomer reads "$" to learn where the stream is
        return [Present(room, client, self.TTL), Read(room, last_seen or "$", client)]

    def leave(self, client: str, room: str, now: float) -> list[Command]:
        if room in self.rooms:
            self.rooms[room].members.pop(client, None)
        return [Absent(room, client)]

    def send(self, client: str, room: str, text: str, now: float) -> list[Command]:
        if room in self.rooms and client in self.rooms[room].members:
            return [Publish(room, json.dumps({"from": client, "text": text}))]
        return []

    def published(self, room: str, id: str, data: str, now: float) -> list[Command]:
        out: list[Command] = []
        for client, member in self.rooms.get(room, Room()).members.items():
            if member.held is not None:
                member.held.append((id, data))
            else:
                out += self._give(room, client, member, [(id, data)])
        return out

    def read(self, result: ReadResult, now: float) -> list[Command]:
        room = self.rooms.get(result.room)
        if room is None or result.client not in room.members:
            return []
        member = room.members[result.client]
        if member.held is None or (member.cursor or "$") != result.after:
            return []  # an answer for an earlier visit of this client
        held, member.held = member.held, None
        if member.cursor is None:
            member.cursor = result.tail
        out = self._give(result.room, result.client, member, result.entries + held)
        if member.again:
            member.again, member.held = False, []
            out.append(Read(result.room, member.cursor or "$", result.client))
        return out

    def reconnected(self, now: float) -> list[Command]:
        out: list[Command] = []
        for name, room in self.rooms.items():
            for client, member in room.members.items():
                if member.held is None:
                    member.held = []
                    out.append(Read(name, member.cursor or "$", client))
                else:
                    member.again = True
        return out

    def tick(self, now: float) -> list[Command]:
        if now < self.next_refresh:
            return []
        self.next_refresh = now + 2.0
        return [Present(name, c, self.TTL) for name, room in self.rooms.items()
                for c in room.members]
