"""Exercise: a presence tracker with grace periods and heartbeat TTLs.

"Who is online" is never exact: a user whose Wi-Fi blinks for half a second
has not left, a user with three tabs open has not left when one tab closes,
and a tab that crashed never says goodbye at all. You will write the piece of
a presence service that turns what the server sees (connections opening,
closing and sending heartbeats) into the events everyone else sees: a
``join`` when a user arrives and a ``leave`` when they are really gone.

Presence is eventually consistent: design for stale state.

- **Per user, not per connection.** A user is online while they have at
  least one connection. A second tab is not a new join; closing one of two
  tabs is not a leave.
- **Grace period (tombstones).** When a user's last connection closes, do
  not announce a leave. Remember when they went (a tombstone) and announce
  the leave only if they are still gone ``grace`` seconds later. A reconnect
  inside the grace period lifts the tombstone *silently*: no leave, no join.
- **Heartbeat TTL.** A crashed tab never closes its connection. Every live
  connection sends a heartbeat every few seconds; a connection not heard from
  (no connect, no heartbeat) for ``ttl`` seconds is dead: treat it as closed
  from then on (when you notice, or when its ttl ran out), and let the grace
  period run as for any close. Without this, crashed clients stay "online"
  forever as ghosts.
- **Exactly once, in order.** Per user, events alternate: join, leave, join,
  leave... Never two joins in a row, never a leave without a join.

The tracker is sans-I/O: it never reads a clock or touches a socket. Every
method gets the current time ``now`` (seconds, never decreasing) and returns
the events to publish, as a list of ``("join", user)`` / ``("leave", user)``
tuples (an empty list when there is nothing to say). ``tick(now)`` is called
several times a second; it is where time-based things (grace periods running
out, connections timing out) happen. The same object runs in the notebook's
live roster (real WebSockets, wall-clock time) and in the grader (virtual
time, hundreds of seeded schedules of blips, tabs, crashes and real leaves).

Connection ids are unique: a user who reconnects gets a *new* ``conn`` id.
Be forgiving about stragglers: a ``disconnect`` for a connection you no
longer track (say, one you already expired by TTL, whose close shows up much
later) must change nothing, and a ``heartbeat`` from a connection you do not
know may be treated like a ``connect``.

Check your work:  python -m rtlab check presence
Stuck?            python -m rtlab hint presence
Lesson:           notebooks/06-presence.ipynb
"""

from __future__ import annotations

Event = tuple[str, str]  # ("join", user) or ("leave", user)


class PresenceTracker:
    """Who is online, with a grace period for reconnects and a TTL for silent connections."""

    def __init__(self, grace: float = 5.0, ttl: float = 15.0) -> None:
        self.grace = grace  # seconds a user may be away without a leave being announced
        self.ttl = ttl  # seconds of silence after which a connection counts as dead
        # TODO: keep track of each user's connections (and when you last heard from
        # each one), and of users whose last connection went (tombstones).

    def connect(self, user: str, conn: str, now: float) -> list[Event]:
        """Connection ``conn`` of ``user`` opened at ``now``.

        Return ``[("join", user)]`` if the user was not online (nor in their grace
        period) before; otherwise ``[]``.
        """
        # TODO
        raise NotImplementedError("PresenceTracker.connect")

    def disconnect(self, user: str, conn: str, now: float) -> list[Event]:
        """Connection ``conn`` of ``user`` closed at ``now``.

        Usually returns ``[]``: if it was the user's last connection, the grace
        period starts; the leave, if any, comes later from ``tick``.
        """
        # TODO
        raise NotImplementedError("PresenceTracker.disconnect")

    def heartbeat(self, user: str, conn: str, now: float) -> list[Event]:
        """Connection ``conn`` of ``user`` is alive at ``now`` (it sent a heartbeat)."""
        # TODO
        raise NotImplementedError("PresenceTracker.heartbeat")

    def tick(self, now: float) -> list[Event]:
        """Time has moved on to ``now``: expire silent connections and ended grace periods.

        Return a ``("leave", user)`` for every user whose grace period is over.
        """
        # TODO
        raise NotImplementedError("PresenceTracker.tick")

    def online(self) -> set[str]:
        """The users announced as online: joined, and not (yet) left.

        Users in their grace period are still in here: nobody has been told
        they left. A newcomer's roster starts from this set.
        """
        # TODO
        raise NotImplementedError("PresenceTracker.online")
