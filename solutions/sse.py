"""Reference solution: a resumable Server-Sent Events stream and a client that backs off.

One correct answer among many: the grader checks behaviour, so another id
format, a dict instead of a deque, or another jitter all pass as long as every
event has an id of its own, every stream announces a sane ``retry:``, a resumed
stream replays exactly what was missed (or says ``resync``), and failing
clients back off.
"""

from __future__ import annotations

import random
import re
import secrets
from collections import deque

RETRY_MS = 10_000  # browsers wait 10 s before reconnecting (their default is 3-5 s)
MAX_ID_LENGTH = 64  # our ids are short; anything longer is not one of ours

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what the SSE parser treats as a line break


def format_event(data: str, *, event_id: str | None = None, event: str | None = None) -> str:
    head = ""
    if event_id is not None:
        head += f"id: {event_id}\n"
    if event is not None:
        head += f"event: {event}\n"
    # One data: line per line of data, split exactly where a client's parser would split,
    # so a CR or a blank line inside the data cannot end the event early.
    body = "".join(f"data: {line}\n" for line in _LINE_BREAK.split(data))
    return head + body + "\n"


class EventLog:
    """The last ``capacity`` events, with ids ``<epoch>-<sequence number>``."""

    def __init__(self, capacity: int = 100, *, epoch: str | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        # A new epoch each time the server starts: ids from before a restart are then
        # recognisably unknown, instead of naming different events of the new log.
        self.epoch = epoch if epoch is not None else secrets.token_hex(4)
        self.last_seq = 0  # sequence number of the newest event (0: none yet)
        self.kept: deque[tuple[int, str]] = deque(maxlen=capacity)  # (seq, text), oldest first

    def publish(self, data: str, event: str | None = None) -> str:
        self.last_seq += 1
        text = format_event(data, event_id=self._id(self.last_seq), event=event)
        self.kept.append((self.last_seq, text))  # the deque drops the oldest beyond capacity
        return text

    def open(self, last_event_id: str | None) -> str:
        head = f"retry: {RETRY_MS}\n\n"
        if not last_event_id:  # a first visit: new events only
            return head
        seen = self._parse(last_event_id)
        oldest = self.kept[0][0] if self.kept else self.last_seq + 1
        if seen is None or seen < oldest - 1:
            # Some events the client missed are gone (or were never ours to replay):
            # say so, and give it an id to resume from once it has reloaded.
            why = f"events after {last_event_id!r} are no longer in the log: reload"
            return head + format_event(why, event_id=self._id(self.last_seq), event="resync")
        return head + "".join(text for seq, text in self.kept if seq > seen)

    def _id(self, seq: int) -> str:
        return f"{self.epoch}-{seq}"

    def _parse(self, last_event_id: str) -> int | None:
        """The sequence number of one of our ids, ``None`` for another epoch's id."""
        epoch, dash, seq = last_event_id.rpartition("-")
        if len(last_event_id) > MAX_ID_LENGTH or not dash or not seq.isascii() or not seq.isdigit():
            raise ValueError(f"malformed Last-Event-ID {last_event_id[:80]!r}")
        if epoch != self.epoch:
            return None  # from before a restart: those events are gone
        if int(seq) > self.last_seq:
            raise ValueError(f"Last-Event-ID {last_event_id!r} was never issued")
        return int(seq)


class RetryPolicy:
    """Exponential backoff with full jitter, capped, reset by a stream that opens."""

    def __init__(self, rng: random.Random, base: float = 1.0, cap: float = 30.0) -> None:
        self.rng = rng
        self.base = base
        self.cap = cap
        self.failures = 0

    def opened(self) -> None:
        self.failures = 0

    def failed(self, status: int | None) -> float | None:
        if status == 204:
            return None  # the server asks us to stop: never come back
        ceiling = min(self.cap, self.base * 2**self.failures)
        self.failures = min(self.failures + 1, 64)  # 2**64 is plenty; avoid float overflow
        # Uniform below the ceiling: clients that failed together spread out.
        return self.rng.uniform(0, ceiling)
