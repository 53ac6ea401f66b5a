"""Exercise: a Server-Sent Events stream that resumes, and a client that backs off.

An ``EventSource`` in the browser reconnects by itself when its stream drops,
and sends the id of the last event it received in the ``Last-Event-ID``
header. Whether the gap is filled is up to the server. You will write:

1. ``format_event``: one event as ``text/event-stream`` text. Each event is a
   few ``field: value`` lines ended by a blank line: ``id:``, ``event:`` (the
   type, when there is one) and one ``data:`` line per line of data. The
   client's parser breaks lines at ``\\r\\n``, ``\\r`` and ``\\n`` alike and
   joins ``data:`` lines with ``\\n``, so split your data at all three: a raw
   line break inside a ``data:`` line would end the field (or the event) early.
2. ``EventLog``: the sans-I/O heart of the endpoint. ``publish`` gives each
   event the next id and keeps the last ``capacity`` of them; ``open`` is what
   a new or resumed stream starts with: a ``retry:`` line (how many ms a
   browser waits before reconnecting: without it, Chromium comes back after
   3 s; the grader accepts 1,000-60,000 and 10,000 is the usual advice), then
   every kept event after ``last_event_id``, exactly once, in order.
   When some missed events are gone (the id is older than the log, or from
   before a server restart) send an event of type ``resync`` instead of a
   silent gap: the client then reloads the whole state.
3. ``RetryPolicy``: for a client of your own (a browser simply gives up on
   HTTP errors). When the endpoint itself fails (HTTP 500/503, refused
   connections) clients must not retry in a tight loop: wait longer after each
   failure (exponential), randomly (jitter, so clients spread out), at most
   ``cap``, start small again once a stream opens, and stop for good on HTTP
   204, the server's way of saying "do not come back".

Ids and restarts: a server that restarts loses its log. It creates a new
``EventLog`` with a new ``epoch`` (a short string of letters and digits,
different each time). Make your ids unique across epochs too (for example
``f"{epoch}-{n}"``), so that an id from before the restart is recognisably
unknown and not mistaken for an id of the new log.

The live server of the lesson calls your ``EventLog`` for real HTTP streams
(``open`` for each request, ``publish`` for each update, a ``ValueError``
from ``open`` becomes HTTP 400); the grader runs it in virtual time with
browser-like clients that drop, resume, and meet restarts and log overflow.

Check your work:  python -m rtlab check sse
Stuck?            python -m rtlab hint sse
Lesson:           notebooks/02-server-sent-events.ipynb
"""

from __future__ import annotations

import random

RETRY_MS = 0  # TODO: the reconnection time (milliseconds) every stream announces (1000-60000)


def format_event(data: str, *, event_id: str | None = None, event: str | None = None) -> str:
    """Return one event as stream text, ended by a blank line.

    >>> format_event("hello", event_id="7", event="chat")
    'id: 7\\nevent: chat\\ndata: hello\\n\\n'
    >>> format_event("two\\nlines")
    'data: two\\ndata: lines\\n\\n'
    """
    # TODO
    raise NotImplementedError("format_event")


class EventLog:
    """A bounded, resumable log of events: the logic of one SSE endpoint."""

    def __init__(self, capacity: int = 100, *, epoch: str | None = None) -> None:
        self.capacity = capacity  # keep at most this many events (drop the oldest)
        # The server passes a new epoch every time it starts; None: make one up
        # (e.g. secrets.token_hex(4)).
        self.epoch = epoch
        # TODO: keep the events (their ids and texts) and the last id you gave out.

    def publish(self, data: str, event: str | None = None) -> str:
        """Record a new event and return its text, which the server sends to every open stream.

        Give it the next id (a string, unique for this log, even across epochs)
        and keep it; beyond ``capacity`` events, forget the oldest.
        """
        # TODO
        raise NotImplementedError("EventLog.publish")

    def open(self, last_event_id: str | None) -> str:
        """Return the first text of a newly opened stream.

        - Always start with a ``retry:`` line (``RETRY_MS``).
        - ``last_event_id`` is ``None`` (or ``""``) for a first visit: nothing
          to replay, the stream carries new events from now on.
        - An id you gave out whose later events you all still keep: replay
          every kept event after it, each exactly once, in order (nothing if
          the client saw them all).
        - An id whose later events you no longer all have (older than the log,
          or from another epoch): send one event of type ``resync`` (with an
          id, so the client can resume from here once it has reloaded).
        - Something that is not an id at all (garbage, a huge string): raise
          ``ValueError``; the server answers HTTP 400.
        """
        # TODO
        raise NotImplementedError("EventLog.open")


class RetryPolicy:
    """How long a client waits before reconnecting after an error."""

    def __init__(self, rng: random.Random, base: float = 1.0, cap: float = 30.0) -> None:
        self.rng = rng  # use this for randomness: it is seeded
        self.base = base  # seconds: roughly the first wait
        self.cap = cap  # seconds: no wait may be longer
        # TODO: count failures in a row

    def opened(self) -> None:
        """A stream opened fine (HTTP 200): the next failure starts small again."""
        # TODO
        raise NotImplementedError("RetryPolicy.opened")

    def failed(self, status: int | None) -> float | None:
        """The stream failed: ``status`` is the HTTP status, or None for a network error.

        Return the seconds to wait before the next attempt, or None to stop
        for good (HTTP 204).
        """
        # TODO
        raise NotImplementedError("RetryPolicy.failed")
