"""Reference solution: a presence tracker with grace periods and heartbeat TTLs.

One correct answer among many: the grader checks behaviour, so a deadline
dict swept on every tick, a heap of timers with lazy cancellation, or a
tracker that recomputes "who should be online" from scratch and diffs it all
pass, as long as reconnects inside the grace period stay silent, users leave
once, after the grace period, and silent connections expire after ``ttl``.

Theory of operation: each user who has been announced is a ``_Member`` with
the connections we believe are alive (and when each was last heard from).
When the last one goes, the member becomes a tombstone (``gone_since``), not
a deletion, and nothing is announced. ``tick`` first expires connections that
have been silent for ``ttl`` (a crashed tab: exactly as if it had closed),
then deletes the tombstones older than ``grace`` and announces their leave.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Event = tuple[str, str]  # ("join", user) or ("leave", user)


@dataclass
class _Member:
    connections: dict[str, float] = field(default_factory=dict)  # conn -> last heard (s)
    gone_since: float | None = None  # tombstone: when the last connection went


class PresenceTracker:
    """Who is online, with a grace period for reconnects and a TTL for silent connections."""

    def __init__(self, grace: float = 5.0, ttl: float = 15.0) -> None:
        self.grace = grace
        self.ttl = ttl
        self.members: dict[str, _Member] = {}  # announced users, tombstones included

    def connect(self, user: str, conn: str, now: float) -> list[Event]:
        member = self.members.get(user)
        events: list[Event] = []
        if member is None:  # new, or gone for good: announce
            member = self.members[user] = _Member()
            events.append(("join", user))
        member.connections[conn] = now
        member.gone_since = None  # back inside the grace period: lift the tombstone, silently
        return events

    def disconnect(self, user: str, conn: str, now: float) -> list[Event]:
        member = self.members.get(user)
        if member is None or conn not in member.connections:
            return []  # a straggler: already expired, or never known
        del member.connections[conn]
        if not member.connections:
            member.gone_since = now  # a tombstone, not a leave
        return []

    def heartbeat(self, user: str, conn: str, now: float) -> list[Event]:
        member = self.members.get(user)
        if member is None or conn not in member.connections:
            return self.connect(user, conn, now)  # alive after all
        member.connections[conn] = now
        return []

    def tick(self, now: float) -> list[Event]:
        events: list[Event] = []
        for user, member in list(self.members.items()):
            for conn, heard in list(member.connections.items()):
                if now - heard >= self.ttl:  # silent too long: the tab crashed
                    self.disconnect(user, conn, now)
            if member.gone_since is not None and now - member.gone_since >= self.grace:
                del self.members[user]
                events.append(("leave", user))
        return events

    def online(self) -> set[str]:
        return set(self.members)
