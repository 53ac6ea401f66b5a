"""Known bad: the payload is delivered whatever its length, cut or not to the announced size."""

from solutions.frames import Receiver as Reference
from solutions.frames import encode_upload  # noqa: F401

EXPECTED = {"websocket-message-limits"}
MESSAGE = "wrong length"


class Receiver(Reference):
    def receive(self, frame):
        if isinstance(frame, bytes) and self.pending is not None and len(frame) <= self.max_size:
            meta, size = self.pending
            self.pending = None
            return [("deliver", meta, frame[:size])]  # BUG: no length check
        return super().receive(frame)
