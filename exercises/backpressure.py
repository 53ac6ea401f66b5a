"""Exercise: a room that survives slow clients, big rooms and busy mice.

A real-time server's memory and CPU are decided by its slowest client and its busiest
room. You will write the fan-out of one room: what happens between "a client sent a
message to the room" and "each member's socket writes it".

- **Per-client outboxes, bounded in bytes.** A 2G phone, a paused tab or a reader
  that stopped must never make the server buffer without limit. Each client gets its
  own outbox of at most ``max_bytes`` (count ``len(frame)``, not messages: frames
  differ in size). Nobody waits for a slow client.
- **A policy per kind of message**, when an outbox is full:

  ============  =====================================================================
  ``"live"``    prices, positions: only the newest matter. Drop the *oldest*.
  ``"cursor"``  keep only the newest position per ``key`` (coalesce).
  ``"event"``   chat messages, edits: never drop one silently. If the events alone no
                longer fit (after dropping live data), disconnect the client with a
                close code in 4000-4999: it reconnects and resyncs.
  ============  =====================================================================

- **Format once, query once.** ``encode(message)`` turns a dict into bytes: call it
  once per broadcast, not once per recipient. ``store.can_read(user)`` and
  ``store.readers()`` are database queries: cache permissions per user (refresh the
  entry in ``permission_changed``) or ask ``readers()`` once per broadcast.
- **Throttle cursors.** A mouse moves 120 times a second. Send at most one position
  per ``cursor_interval`` (50-100 ms) per cursor key: the first move after a pause at
  once, later ones held back (keep only the newest), and ``tick(now)`` sends the held
  one when the interval is over, so the last position always arrives.

The room is sans-I/O: it never reads a clock or touches a socket. Every message is
sent to every *other* client in the room whose user may read it, as the bytes of
``encode({"kind": kind, "key": key, "body": body})``. The transport calls
``take(client)`` whenever that client's socket can accept a frame, and closes the
clients that ``publish`` or ``tick`` return, then calls ``leave`` for them. The same
object runs in the lesson's live server (real WebSockets) and in the grader (virtual
time: 200 seeded rooms with slow, paused and vanishing clients and bursty traffic).

Check your work:  python -m rtlab check backpressure
Stuck?            python -m rtlab hint backpressure
Lesson:           notebooks/08-backpressure.ipynb
"""

from __future__ import annotations

from typing import Any

Close = tuple[str, int]  # (client, close code in 4000-4999)
RESYNC = 4000  # "you fell behind: reconnect and load the state again"


class Room:
    """One room's fan-out: bounded outboxes, format once, cached permissions, cursor throttle."""

    def __init__(self, store: Any, encode: Any, *, max_bytes: int = 64 * 1024,
                 cursor_interval: float = 0.05) -> None:
        self.store = store  # .can_read(user) -> bool, .readers() -> set[str]: one query each
        self.encode = encode  # dict -> bytes
        self.max_bytes = max_bytes  # per client outbox, in bytes
        self.cursor_interval = cursor_interval  # seconds between two positions of one cursor
        # TODO: an outbox per client, each client's user, a permission cache, and per
        # cursor key when it was last sent and the newest position held back.

    def join(self, client: str, user: str, now: float) -> None:
        """Connection ``client`` of ``user`` joined the room."""
        # TODO
        raise NotImplementedError("Room.join")

    def leave(self, client: str, now: float) -> None:
        """``client`` left (or was closed): forget it and its outbox. Unknown clients: ignore."""
        # TODO
        raise NotImplementedError("Room.leave")

    def permission_changed(self, user: str, now: float) -> None:
        """Whether ``user`` may read the room changed: ask the store again."""
        # TODO
        raise NotImplementedError("Room.permission_changed")

    def publish(self, client: str, kind: str, key: str, body: dict[str, Any],
                now: float) -> list[Close]:
        """``client`` sent a message of ``kind`` ("event", "live" or "cursor") about ``key``.

        Queue it for every other client whose user may read; return the clients to
        disconnect, as ``(client, code)`` pairs (usually ``[]``).
        """
        # TODO
        raise NotImplementedError("Room.publish")

    def tick(self, now: float) -> list[Close]:
        """Called every 5-20 ms: send the cursor positions whose interval is over."""
        # TODO
        raise NotImplementedError("Room.tick")

    def take(self, client: str) -> bytes | None:
        """The oldest frame waiting for ``client`` (removed from its outbox), or None."""
        # TODO
        raise NotImplementedError("Room.take")
