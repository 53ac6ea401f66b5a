"""Known bad: a payload of exactly max_size is refused (>= instead of >)."""

from solutions.frames import Receiver as Reference
from solutions.frames import encode_upload  # noqa: F401

EXPECTED = {"websocket-message-limits"}
MESSAGE = "a good frame"


class Receiver(Reference):
    def receive(self, frame):
        if isinstance(frame, bytes) and len(frame) >= self.max_size:  # BUG: exactly is allowed
            return [("close", 1009, "too big")]
        return super().receive(frame)
