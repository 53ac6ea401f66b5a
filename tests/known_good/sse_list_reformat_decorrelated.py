"""Known good: a list of (number, type, data) re-formatted on every replay, hex ids
"<epoch>.<n in hex>", resync data naming the reason, decorrelated-jitter backoff."""

from __future__ import annotations

import random
import uuid

RETRY_MS = 15_000


def format_event(data: str, *, event_id: str | None = None, event: str | None = None) -> str:
    lines = [] if event_id is None else ["id:" + " " + event_id]
    if event:
        lines.append("event: " + event)
    data = data.replace("\r\n", "\n").replace("\r", "\n")
    lines.extend("data: " + part for part in data.split("\n"))
    return "\n".join(lines) + "\n\n"


class EventLog:
    def __init__(self, capacity: int = 100, *, epoch: str | None = None) -> None:
        self.capacity = capacity
        self.epoch = epoch if epoch is not None else uuid.uuid4().hex[:8]
        self.log: list[tuple[int, str | None, str]] = []
        self.next_number = 1

    def _id(self, number: int) -> str:
        return f"{self.epoch}.{number:x}"

    def publish(self, data: str, event: str | None = None) -> str:
        number = self.next_number
        self.next_number += 1
        self.log.append((number, event, data))
        if len(self.log) > self.capacity:
            del self.log[0]
        return format_event(data, event_id=self._id(number), event=event)

    def open(self, last_event_id: str | None) -> str:
        text = f"retry: {RETRY_MS}\n\n"
        if not last_event_id:
            return text
        if len(last_event_id) > 40 or last_event_id.count(".") != 1:
            raise ValueError(f"bad Last-Event-ID: {last_event_id[:40]!r}")
        epoch, number_hex = last_event_id.split(".")
        try:
            number = int(number_hex, 16)
        except ValueError:
            raise ValueError(f"bad Last-Event-ID: {last_event_id!r}") from None
        newest = self.next_number - 1
        oldest = self.log[0][0] if self.log else self.next_number
        if epoch == self.epoch and oldest - 1 <= number <= newest:
            return text + "".join(
                format_event(data, event_id=self._id(n), event=kind)
                for n, kind, data in self.log if n > number
            )
        reason = "server restarted" if epoch != self.epoch else "too far behind"
        return text + format_event(reason, event_id=self._id(newest), event="resync")


class RetryPolicy:
    """Decorrelated jitter (AWS, 2015): each wait random between base and 3x the last."""

    def __init__(self, rng: random.Random, base: float = 1.0, cap: float = 30.0) -> None:
        self.rng = rng
        self.base = base
        self.cap = cap
        self.last = base

    def opened(self) -> None:
        self.last = self.base

    def failed(self, status: int | None) -> float | None:
        if status == 204:
            return None
        self.last = min(self.cap, self.rng.uniform(self.base, self.last * 3))
        return self.last
