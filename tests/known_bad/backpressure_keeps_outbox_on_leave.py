"""Known bad: leave() forgets nothing.

The client's outbox stays in the room, filling up with everything said after it
left: each vanished visitor leaks up to max_bytes, forever.
"""

from solutions.backpressure import Room as BaseRoom

EXPECTED = {"backpressure-oom"}
MESSAGE = "does your room still keep their outboxes?"


class Room(BaseRoom):
    def leave(self, client: str, now: float) -> None:
        pass
