"""Known bad: the attempt counter never resets, so a blip after an outage waits ~cap."""

from solutions.reconnection import Backoff as Reference
from solutions.reconnection import stay_connected  # noqa: F401

EXPECTED = {"missing-reconnection-logic"}


class Backoff(Reference):
    def reset(self) -> None:
        pass
