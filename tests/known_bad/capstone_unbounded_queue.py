"""Known bad: per-client outboxes without a bound (module 08's sharp edge). A tab that
reads at 1 KiB/s makes its server keep every frame it has not read yet."""

from typing import Any

from solutions import capstone
from solutions.capstone import AppClient, make_presence  # noqa: F401

EXPECTED = {"unbounded-message-queue"}
MESSAGE = "has no bound"


class AppServer(capstone.AppServer):
    def __init__(self, name: str, backplane: Any, now: float) -> None:
        super().__init__(name, backplane, now)
        # BUG: "big enough" is not a bound
        self.room = capstone.backpressure_part.Room(capstone._Everyone(), capstone.encode,
                                                    max_bytes=10**12, cursor_interval=0.1)
