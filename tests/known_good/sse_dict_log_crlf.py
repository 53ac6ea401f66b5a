"""Known good: a dict of events keyed by number, ids "<n>@<epoch>", CRLF line endings,
retry: 5000, equal-jitter backoff."""

from __future__ import annotations

import random
import re
import secrets

RETRY_MS = 5000


def format_event(data: str, *, event_id: str | None = None, event: str | None = None) -> str:
    fields = []
    if event is not None:
        fields.append(("event", event))
    if event_id is not None:
        fields.append(("id", event_id))
    fields += [("data", line) for line in re.split(r"\r\n|\r|\n", data)]
    return "".join(f"{name}: {value}\r\n" for name, value in fields) + "\r\n"


class EventLog:
    def __init__(self, capacity: int = 100, *, epoch: str | None = None) -> None:
        self.capacity = capacity
        self.epoch = epoch or secrets.token_hex(3)
        self.events: dict[int, str] = {}
        self.count = 0

    def publish(self, data: str, event: str | None = None) -> str:
        self.count += 1
        text = format_event(data, event_id=f"{self.count}@{self.epoch}", event=event)
        self.events[self.count] = text
        self.events.pop(self.count - self.capacity, None)
        return text

    def open(self, last_event_id: str | None) -> str:
        out = f"retry: {RETRY_MS}\r\n\r\n"
        if last_event_id is None or last_event_id == "":
            return out
        number, at, epoch = last_event_id.partition("@")
        if not at or not re.fullmatch(r"[0-9]{1,12}", number):
            raise ValueError("not an event id")
        n = int(number)
        if epoch == self.epoch and n > self.count:
            raise ValueError("an id from the future")
        if epoch == self.epoch and all(k in self.events for k in range(n + 1, self.count + 1)):
            return out + "".join(self.events[k] for k in range(n + 1, self.count + 1))
        return out + format_event("", event_id=f"{self.count}@{self.epoch}", event="resync")


class RetryPolicy:
    def __init__(self, rng: random.Random, base: float = 1.0, cap: float = 30.0) -> None:
        self.rng, self.base, self.cap = rng, base, cap
        self.attempt = 0

    def opened(self) -> None:
        self.attempt = 0

    def failed(self, status: int | None) -> float | None:
        if status == 204:
            return None
        ceiling = min(self.cap, self.base * 2.0 ** min(self.attempt, 30))
        self.attempt += 1
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)  # equal jitter
